"""Read a viewer's playback JWT as Livepeer's edge does: ES256 claims and the `pub` key (pure)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from webhook_service.diagnostics.facts import ViewerRequest
from webhook_service.livepeer.facts import SigningKey
from webhook_service.times import iso_from_ms

ALGORITHM = "ES256"  # the edge verifies with the token's P-256 `pub` key: nothing else works
MAX_TEXT = 100


@dataclass(frozen=True)
class ViewerToken:
    """The claims of a well-formed ES256 token, read before its signature is checked."""

    sub: str
    pub: str  # the claim as sent: Livepeer finds the signing key by this exact text
    key: ec.EllipticCurvePublicKey
    exp: float
    not_before: float | None  # the later of iat and nbf: the edge refuses the token before it
    evidence: dict[str, Any]


def read_viewer(
    url: str | None, jwt_field: str | None, access_key: str | None, origin: str | None
) -> tuple[str | None, ViewerRequest]:
    """The token to check and the request as the gate sees it, from what the viewer sent.

    The player's `url` may carry the token and the access key as the `jwt` and `accessKey`
    query parameters (access-control.ts reads both from the request); explicit fields win.
    Neither is kept in the ViewerRequest: only whether a key was given.
    """
    query: dict[str, list[str]] = {}
    path = None
    if url is not None:
        try:
            parts = urlsplit(url.strip())
            query, path = parse_qs(parts.query), parts.path
        except ValueError:
            path = "<unparseable>"
    token = jwt_field or next(iter(query.get("jwt", [])), None)
    key_given = bool(access_key) or bool(next(iter(query.get("accessKey", [])), None))
    viewer = ViewerRequest(url is not None, path, key_given, origin)
    return token, viewer


def read_token(token: str) -> ViewerToken | str:
    """The unverified claims of a token Livepeer's edge could accept, or what is wrong with it."""
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.api_jws.decode_complete(token, options={"verify_signature": False})
        claims = json.loads(unverified["payload"])
    except (jwt.PyJWTError, ValueError, RecursionError):
        return "it is not a JWT (three base64url parts with a JSON header and claims)"
    if header.get("alg") != ALGORITHM:
        return f"its alg is '{str(header.get('alg'))[:20]}', and Livepeer accepts ES256 only"
    if not isinstance(claims, dict):
        return "its claims are not a JSON object"
    sub, pub = claims.get("sub"), claims.get("pub")
    if not isinstance(sub, str) or not sub:
        return "the sub claim (the playback id) is missing or not a string"
    if not isinstance(pub, str) or not pub:
        return "the pub claim (the signing key's public key) is missing or not a string"
    key = load_key(pub)
    if isinstance(key, str):
        return key
    # The edge's JWT library rejects a non-numeric exp, iat or nbf, and requires exp.
    times: dict[str, float] = {}
    for name in (n for n in ("exp", "iat", "nbf") if claims.get(n) is not None):
        seconds = _seconds(claims[name])
        if seconds is None:
            return f"the {name} claim is not a number of seconds"
        times[name] = seconds
    exp = times.pop("exp", None)
    if exp is None:
        return "the exp claim is missing (Livepeer requires one)"
    evidence = {n: iso_from_ms(value * 1000) for n, value in {"exp": exp, **times}.items()}
    evidence.update({n: str(claims[n])[:MAX_TEXT] for n in ("sub", "iss", "action") if n in claims})
    evidence["key_fingerprint"] = fingerprint(key)
    return ViewerToken(sub, pub, key, exp, max(times.values(), default=None), evidence)


def _seconds(value: Any) -> float | None:
    """A JSON NumericDate as float seconds, or None for strings, booleans, NaN and infinities."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer beyond any float
        return None
    return number if math.isfinite(number) else None


def load_key(pub: str) -> ec.EllipticCurvePublicKey | str:
    """The P-256 key in a `pub` claim (base64 of a PEM, as Livepeer shows it), or the problem."""
    if pub.lstrip().startswith("-----BEGIN"):
        return "the pub claim is a PEM; Livepeer expects base64 of the PEM"
    try:  # strict base64 like the edge's Go decoder, which only skips line breaks
        der = base64.b64decode(pub.replace("\r", "").replace("\n", ""), validate=True)
        key = serialization.load_pem_public_key(der)
    except (binascii.Error, ValueError, UnsupportedAlgorithm):
        return "the pub claim is not base64 of a PEM public key"
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        return "the pub claim is not a P-256 public key, which ES256 needs"
    return key


def find_signing_key(
    token: ViewerToken, keys: tuple[SigningKey, ...]
) -> tuple[SigningKey | None, dict[str, Any]]:
    """The project's signing key whose publicKey is the token's `pub`, compared as text as
    Livepeer's gate looks it up (access-control.ts), and evidence about the others."""
    found = next((k for k in keys if k.public_key_b64 == token.pub), None)
    if found is not None:
        return found, {"key_id": found.id}
    enabled = [fingerprint(load_key(k.public_key_b64)) for k in keys if not k.disabled]
    extra: dict[str, Any] = {"enabled_key_fingerprints": enabled}
    if fingerprint(token.key) in enabled:
        extra["same_key_other_text"] = True
    return None, extra


def fingerprint(key: ec.EllipticCurvePublicKey | str) -> str:
    """A short, stable name for a public key (the base64 PEM's own tail is the same for all)."""
    if isinstance(key, str):
        return "unreadable"
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "sha256:" + hashlib.sha256(der).hexdigest()[:16]
