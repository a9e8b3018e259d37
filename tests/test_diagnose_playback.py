"""The playback check: every code, the decision order, real ES256 tokens and hostile ones."""

from __future__ import annotations

import base64
import json
from dataclasses import replace

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from webhook_service.diagnostics.facts import PlaybackFacts, ViewerRequest
from webhook_service.diagnostics.playback import diagnose_playback
from webhook_service.livepeer.facts import ApiWebhook, SigningKey

NOW_MS = 1_764_086_400_000
NOW = NOW_MS // 1000
DAY = 86_400
PLAYBACK_ID = "pb1abcd"
PUBLIC_URL = "https://hooks.example.com/webhooks/livepeer"


def pem(private_key):
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def b64(data):
    return base64.b64encode(data).decode()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_KEY = ec.generate_private_key(ec.SECP256R1())
P384_KEY = ec.generate_private_key(ec.SECP384R1())
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PUB = b64(pem(KEY))
OTHER_PUB = b64(pem(OTHER_KEY))
KEYS = (
    SigningKey(PUB, disabled=False, id="key-enabled"),
    SigningKey(OTHER_PUB, disabled=True, id="key-disabled"),
)


def claims(**overrides):
    base = {
        "sub": PLAYBACK_ID,
        "pub": PUB,
        "exp": NOW + 3600,
        "iat": NOW - 10,
        "iss": "Livepeer Studio",
        "action": "pull",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def token(key=KEY, alg="ES256", headers=None, **overrides):
    return jwt.encode(claims(**overrides), key, algorithm=alg, headers=headers)


def forged(header, payload_bytes, signature=b"sig"):
    parts = (json.dumps(header).encode(), payload_bytes, signature)
    return ".".join(b64url(p) for p in parts)


def cut_signature():
    head, payload, sig = token().split(".")
    return f"{head}.{payload}.{b64url(jwt.utils.base64url_decode(sig)[:32])}"


def tampered():
    head, _, sig = token().split(".")
    return f"{head}.{b64url(json.dumps(claims(action='admin')).encode())}.{sig}"


def facts(jwt_token=None, **overrides):
    base = {
        "stream_id": "st1",
        "now_ms": NOW_MS,
        "playback_id": PLAYBACK_ID,
        "policy": "jwt",
        "policy_source": "api",
        "jwt": jwt_token,
        "signing_keys": KEYS,
        "public_url": PUBLIC_URL,
        "api_configured": True,
    }
    base.update(overrides)
    return PlaybackFacts(**base)


HOOK = ApiWebhook(
    id="wh1",
    url="https://auth.example.com/livepeer/access",
    events=("playback.accessControl",),
    last_triggered_at_ms=NOW_MS - 5_000,
    last_failure_at_ms=NOW_MS - 90_000,
    last_failure_status=500,
)


def webhook(hook=HOOK, **overrides):
    base = {"policy": "webhook", "webhook_id": "wh1", "webhook": hook, "signing_keys": None}
    base.update(overrides)
    return facts(**base)


VIEWER_NO_KEY = ViewerRequest(url_given=True, url_path="/hls/pb1abcd/index.m3u8")
ORIGINS = ("https://app.example.com", "https://www.example.com/")
ORIGIN_CASES = [
    ("account suspended", facts(account_suspended=True), "content_unavailable"),
    ("stream deleted", facts(stream_deleted=True, policy=None), "content_unavailable"),
    (
        "suspended beats a bad origin",
        facts(stream_suspended=True, allowed_origins=ORIGINS, viewer=ViewerRequest(origin="x")),
        "content_unavailable",
    ),
    (
        "origin not allowed, public",
        facts(
            policy="public", allowed_origins=ORIGINS, viewer=ViewerRequest(origin="https://x.io")
        ),
        "origin_not_allowed",
    ),
    (
        "origin not allowed beats a missing token",
        facts(allowed_origins=ORIGINS, viewer=ViewerRequest(origin="https://x.io")),
        "origin_not_allowed",
    ),
    (
        "stored entry with a slash matches no viewer",
        facts(allowed_origins=ORIGINS, viewer=ViewerRequest(origin="https://www.example.com/")),
        "origin_not_allowed",
    ),
    (
        "viewer's slash and %-escapes are forgiven",
        facts(
            policy="public",
            allowed_origins=ORIGINS,
            viewer=ViewerRequest(origin="https%3A%2F%2Fapp.example.com/"),
        ),
        "public",
    ),
    ("wildcard", facts(policy="public", allowed_origins=("*", "https://a.b")), "public"),
    (
        "restricted, no origin given",
        facts(policy="public", allowed_origins=ORIGINS),
        "origin_restricted",
    ),
    ("restricted jwt, no origin: jwt rows", facts(allowed_origins=ORIGINS), "jwt_required"),
    ("public, no restriction", facts(policy="public"), "public"),
]
LIST_PAYLOAD = forged({"alg": "ES256", "typ": "JWT"}, b"[1, 2]")
CRLF_PUB = b64(pem(KEY).replace(b"\n", b"\r\n"))

CASES = [
    ("no API key, policy unknown", facts(policy=None, api_configured=False), "no_api_key"),
    ("API failed, policy unknown", facts(policy=None, api_error="timeout"), "unknown"),
    ("API answered without a policy", facts(policy=None, policy_source=None), "unknown"),
    ("public", facts(policy="public"), "public"),
    ("public beats a bad token", facts("garbage", policy="public"), "public"),
    ("unrecognised policy", facts(policy="lit_signing_condition"), "unknown"),
    ("jwt, no token", facts(None), "jwt_required"),
    ("jwt, blank token", facts("  "), "jwt_required"),
    ("not a JWT", facts("not-a-jwt"), "jwt_malformed"),
    ("two parts", facts("a.b"), "jwt_malformed"),
    ("truncated token", facts(token()[:40]), "jwt_malformed"),
    ("signature not base64url", facts(token()[:-1] + "!"), "jwt_malformed"),
    ("alg none", facts(token(key=None, alg="none")), "jwt_malformed"),
    ("HS256", facts(token(key="shared-secret-of-32-bytes-or-more!", alg="HS256")), "jwt_malformed"),
    ("RS256", facts(token(key=RSA_KEY, alg="RS256")), "jwt_malformed"),
    (
        "ES384 with P-384",
        facts(token(key=P384_KEY, alg="ES384", pub=b64(pem(P384_KEY)))),
        "jwt_malformed",
    ),
    ("ES256 header, P-384 pub", facts(token(pub=b64(pem(P384_KEY)))), "jwt_malformed"),
    ("RSA pub", facts(token(pub=b64(pem(RSA_KEY)))), "jwt_malformed"),
    ("pub not base64", facts(token(pub="!!not base64!!")), "jwt_malformed"),
    ("pub base64 without padding", facts(token(pub=PUB.rstrip("="))), "jwt_malformed"),
    ("pub raw PEM", facts(token(pub=pem(KEY).decode())), "jwt_malformed"),
    ("pub not a PEM", facts(token(pub=b64(b"hello world"))), "jwt_malformed"),
    ("pub non-ASCII", facts(token(pub="ключ")), "jwt_malformed"),
    ("pub a number", facts(token(pub=12345)), "jwt_malformed"),
    ("no pub", facts(token(pub=None)), "jwt_malformed"),
    ("no sub", facts(token(sub=None)), "jwt_malformed"),
    ("sub a list", facts(token(sub=["pb1abcd"])), "jwt_malformed"),
    ("no exp", facts(token(exp=None)), "jwt_malformed"),
    ("exp a string", facts(token(exp=str(NOW + 3600))), "jwt_malformed"),
    ("exp a boolean", facts(token(exp=True)), "jwt_malformed"),
    ("exp NaN", facts(token(exp=float("nan"))), "jwt_malformed"),
    ("exp beyond float", facts(token(exp=10**400)), "jwt_malformed"),
    ("iat a string", facts(token(iat="yesterday")), "jwt_malformed"),
    ("claims a list", facts(LIST_PAYLOAD), "jwt_malformed"),
    (
        "header kid a number",
        facts(forged({"alg": "ES256", "kid": 7}, json.dumps(claims()).encode())),
        "jwt_malformed",
    ),
    (
        "malformed beats expired",
        facts(token(key="k" * 32, alg="HS256", exp=NOW - DAY)),
        "jwt_malformed",
    ),
    ("expired", facts(token(exp=NOW - 60)), "jwt_expired"),
    ("expires exactly now", facts(token(exp=NOW)), "jwt_expired"),
    ("more than 7 days ahead", facts(token(exp=NOW + 7 * DAY + 1)), "jwt_expired"),
    ("exp far beyond any calendar", facts(token(exp=10**30)), "jwt_expired"),
    ("issued in the future", facts(token(iat=NOW + 120)), "jwt_expired"),
    ("nbf in the future", facts(token(nbf=NOW + 120)), "jwt_expired"),
    ("expired beats wrong playback id", facts(token(exp=NOW - 60, sub="other")), "jwt_expired"),
    ("wrong playback id", facts(token(sub="someone-else")), "jwt_wrong_playback_id"),
    (
        "wrong playback id beats bad signature",
        facts(token(key=OTHER_KEY, sub="someone-else")),
        "jwt_wrong_playback_id",
    ),
    ("signed by another key", facts(token(key=OTHER_KEY)), "jwt_bad_signature"),
    ("payload altered", facts(tampered()), "jwt_bad_signature"),
    ("signature cut to half its bytes", facts(cut_signature()), "jwt_bad_signature"),
    (
        "signature garbage",
        facts(forged({"alg": "ES256"}, json.dumps(claims()).encode())),
        "jwt_bad_signature",
    ),
    (
        "bad signature beats unknown key",
        facts(token(key=OTHER_KEY), signing_keys=()),
        "jwt_bad_signature",
    ),
    (
        "pub not an account key",
        facts(token(key=OTHER_KEY, pub=OTHER_PUB), signing_keys=KEYS[:1]),
        "jwt_unknown_key",
    ),
    ("pub is a disabled key", facts(token(key=OTHER_KEY, pub=OTHER_PUB)), "jwt_key_disabled"),
    ("same key, other text", facts(token(pub=CRLF_PUB)), "jwt_unknown_key"),
    (
        "pub wrapped at 76 columns",
        facts(token(pub=base64.encodebytes(pem(KEY)).decode())),
        "jwt_unknown_key",
    ),
    ("no signing keys at all", facts(token(), signing_keys=()), "jwt_unknown_key"),
    ("valid", facts(token()), "jwt_valid"),
    (
        "valid, keys could not be listed",
        facts(token(key=OTHER_KEY, pub=OTHER_PUB), signing_keys=None),
        "jwt_valid",
    ),
    ("valid, playback id unknown", facts(token(sub="anything"), playback_id=None), "jwt_valid"),
    ("valid at 7 days ahead exactly", facts(token(exp=NOW + 7 * DAY)), "jwt_valid"),
    ("valid, Bearer-free whitespace", facts(f"  {token()}\n"), "jwt_valid"),
    ("valid, policy in capitals", facts(token(), policy="JWT"), "jwt_valid"),
    ("webhook gone", webhook(None, webhook_missing=True), "webhook_missing"),
    ("no access key in the viewer's URL", webhook(viewer=VIEWER_NO_KEY), "access_key_missing"),
    (
        "no access key beats a missing webhook",
        webhook(None, webhook_missing=True, viewer=VIEWER_NO_KEY),
        "access_key_missing",
    ),
    (
        "viewer's key given",
        webhook(viewer=replace(VIEWER_NO_KEY, access_key_given=True)),
        "webhook_ok",
    ),
    ("viewer not given: key unknown", webhook(viewer=None), "webhook_ok"),
    ("API policy names no webhook", webhook(None, webhook_id=None), "webhook_missing"),
    (
        "points here",
        webhook(replace(HOOK, url="HTTPS://Hooks.Example.com/webhooks/livepeer/")),
        "webhook_points_here",
    ),
    (
        "points here beats failing",
        webhook(replace(HOOK, url=PUBLIC_URL, last_failure_at_ms=HOOK.last_triggered_at_ms)),
        "webhook_points_here",
    ),
    (
        "failing now",
        webhook(replace(HOOK, last_failure_at_ms=HOOK.last_triggered_at_ms)),
        "webhook_failing",
    ),
    ("failed earlier, fine since", webhook(), "webhook_ok"),
    (
        "never failed",
        webhook(replace(HOOK, last_failure_at_ms=None, last_failure_status=None)),
        "webhook_ok",
    ),
    (
        "never called",
        webhook(replace(HOOK, last_triggered_at_ms=None, last_failure_at_ms=None)),
        "webhook_ok",
    ),
    ("PUBLIC_URL unset", webhook(replace(HOOK, url=PUBLIC_URL), public_url=None), "webhook_ok"),
    ("other path is not here", webhook(replace(HOOK, url=PUBLIC_URL + "/x")), "webhook_ok"),
    ("webhook lookup failed", webhook(None, api_error="HTTP 503"), "unknown"),
    (
        "webhook id from deliveries, no API key",
        webhook(None, api_configured=False, policy_source="webhooks"),
        "unknown",
    ),
]
STATUS = {
    "no_api_key": "unknown",
    "public": "ok",
    "jwt_required": "warn",
    "jwt_malformed": "fail",
    "jwt_expired": "fail",
    "jwt_wrong_playback_id": "fail",
    "jwt_bad_signature": "fail",
    "jwt_key_disabled": "fail",
    "jwt_unknown_key": "warn",
    "content_unavailable": "fail",
    "origin_not_allowed": "fail",
    "origin_restricted": "warn",
    "access_key_missing": "fail",
    "jwt_valid": "ok",
    "webhook_missing": "fail",
    "webhook_points_here": "fail",
    "webhook_failing": "fail",
    "webhook_ok": "ok",
    "unknown": "unknown",
}


CASES += ORIGIN_CASES


@pytest.mark.parametrize(("case", "fact", "code"), CASES, ids=[c[0] for c in CASES])
def test_playback_rows(case, fact, code):
    """Each fact set answers with the first playback row of the contract that holds."""
    verdict = diagnose_playback(fact)
    assert verdict.code == f"playback.{code}", (case, verdict.cause, verdict.evidence)
    assert verdict.status == STATUS[code]
    assert verdict.check == "playback" and verdict.cause and verdict.fix
    if verdict.status == "unknown" and code == "unknown":
        assert verdict.evidence["reason"]


def test_every_playback_code_is_reachable():
    """The table above reaches every playback code of the contract."""
    codes = {diagnose_playback(fact).code for _, fact, _ in CASES}
    assert codes == {f"playback.{c}" for c in STATUS}


@pytest.mark.parametrize(("case", "fact", "code"), CASES, ids=[c[0] for c in CASES])
def test_token_never_in_verdict(case, fact, code):
    """Neither the token nor its signature part appears in any verdict."""
    text = json.dumps(diagnose_playback(fact).as_dict())
    if fact.jwt and fact.jwt.strip():
        raw = fact.jwt.strip()
        assert raw not in text
        assert raw.rsplit(".", 1)[-1] not in text or len(raw.rsplit(".", 1)[-1]) < 8


def test_valid_token_evidence():
    """A valid token shows sub, exp as ISO time, iss and a key fingerprint; no pub, no token."""
    ev = diagnose_playback(facts(token())).evidence
    assert ev["sub"] == PLAYBACK_ID and ev["iss"] == "Livepeer Studio" and ev["action"] == "pull"
    assert ev["exp"] == "2025-11-25T17:00:00.000Z"
    assert ev["key_fingerprint"].startswith("sha256:")
    assert PUB not in json.dumps(ev)


def test_same_key_other_text_is_explained():
    """Livepeer matches pub as text: the same key written with CRLF is named as such."""
    verdict = diagnose_playback(facts(token(pub=CRLF_PUB)))
    assert verdict.evidence["same_key_other_text"] is True
    assert verdict.evidence["key_fingerprint"] in verdict.evidence["enabled_key_fingerprints"]


def test_disabled_key_is_named():
    """A pub matching a disabled signing key names that key by its id (never the token)."""
    tok = token(key=OTHER_KEY, pub=OTHER_PUB)
    verdict = diagnose_playback(facts(tok))
    assert verdict.evidence["key_id"] == "key-disabled"
    assert verdict.evidence["token_last4"] == tok[-4:]


@pytest.mark.parametrize(
    ("fact", "words"),
    [
        (facts(token(alg="HS256", key="k" * 32)), "ES256 only"),
        (facts(token(exp="soon")), "exp claim is not a number"),
        (facts(token(pub=pem(KEY).decode())), "is a PEM"),
        (facts(token(exp=NOW - 60)), "expired at 2025-11-25T15:59:00.000Z"),
        (facts(token(exp=NOW + 8 * DAY)), "more than 7 days ahead"),
    ],
)
def test_problem_is_named_in_the_cause(fact, words):
    """The cause names what exactly is wrong with the token."""
    assert words in diagnose_playback(fact).cause


def test_webhook_evidence_hides_credentials_and_query():
    """The webhook URL in evidence has no userinfo or query string (either may hold a secret)."""
    hook = replace(HOOK, url="https://user:pa55@auth.example.com/hook?token=s3cr3t")
    text = json.dumps(diagnose_playback(webhook(hook)).as_dict())
    assert "pa55" not in text and "s3cr3t" not in text
    assert "https://auth.example.com/hook" in text


def test_failing_webhook_evidence():
    """A failing webhook shows when and how its latest call failed."""
    hook = replace(
        HOOK, last_failure_at_ms=HOOK.last_triggered_at_ms, last_failure_error="ETIMEDOUT"
    )
    ev = diagnose_playback(webhook(hook)).evidence
    assert ev["last_failure_at"] == ev["last_triggered_at"] and ev["last_failure_status"] == 500
    assert ev["last_failure_error"] == "ETIMEDOUT"


def test_policy_source_is_reported():
    """Where the policy came from (API or deliveries) is in the evidence."""
    verdict = diagnose_playback(facts(policy="public", policy_source="webhooks"))
    assert verdict.evidence["policy_source"] == "webhooks"


@settings(deadline=None)  # timing varies on loaded CI machines; correctness does not
@given(st.text(max_size=300))
def test_any_text_token_yields_a_verdict(text):
    """Whatever a viewer sends as Livepeer-Jwt, the check answers and never echoes it."""
    verdict = diagnose_playback(facts(text))
    assert verdict.code.startswith("playback.jwt_")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)


@settings(deadline=None)  # timing varies on loaded CI machines; correctness does not
@given(JSON, st.dictionaries(st.sampled_from(["sub", "pub", "exp", "iat", "nbf", "iss"]), JSON))
def test_any_json_claims_yield_a_verdict(header_extra, claim_overrides):
    """Tokens with arbitrary JSON in the header and claims never make the check raise."""
    header = {"alg": "ES256", "x": header_extra}
    body = json.dumps({**claims(), **claim_overrides}).encode()
    verdict = diagnose_playback(facts(forged(header, body)))
    assert verdict.code.startswith("playback.jwt_")
