"""Livepeer-Signature: parse `t=<ms>,v1=<hex>` and check the HMAC-SHA256 of the raw body.

Pure: no I/O, no clock. Freshness is judged later, on the body's signed `timestamp`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

# Livepeer's header is ~80 bytes; anything far longer is not from Livepeer.
MAX_HEADER_LENGTH = 1024
MAX_SIGNATURES = 8
_T_RE = re.compile(r"[0-9]{1,16}")
_HEX64_RE = re.compile(r"[0-9a-fA-F]{64}")
_PRINTABLE_RE = re.compile(r"[\x20-\x7e]*")

SignatureReason = Literal["missing", "malformed", "mismatch"]


class SignatureError(Exception):
    """Raised when the header is missing or malformed, or no `v1` matches a configured secret."""

    def __init__(self, reason: SignatureReason, detail: str) -> None:
        super().__init__(detail)
        self.reason: SignatureReason = reason
        self.detail = detail


@dataclass(frozen=True)
class SignatureHeader:
    """A parsed header: the delivery time `t` (ms) and the candidate `v1` digests, lowercased."""

    timestamp_ms: int
    signatures: tuple[str, ...]


def parse_header(header: str | None) -> SignatureHeader:
    """Parse a Livepeer-Signature header; any malformation raises SignatureError."""
    if header is None or not header.strip():
        raise SignatureError("missing", "the Livepeer-Signature header is missing")
    if len(header) > MAX_HEADER_LENGTH:
        raise SignatureError("malformed", "the Livepeer-Signature header is too long")
    if not _PRINTABLE_RE.fullmatch(header):
        raise SignatureError("malformed", "the Livepeer-Signature header has non-ASCII bytes")
    timestamp: int | None = None
    signatures: list[str] = []
    for pair in header.split(","):
        key, sep, value = pair.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            if timestamp is not None:
                raise SignatureError("malformed", "the Livepeer-Signature header has two t values")
            if not _T_RE.fullmatch(value):
                raise SignatureError("malformed", "t in Livepeer-Signature is not a number of ms")
            timestamp = int(value)
        elif key == "v1" and _HEX64_RE.fullmatch(value):
            signatures.append(value.lower())
    if timestamp is None:
        raise SignatureError("malformed", "the Livepeer-Signature header has no t value")
    if not signatures:
        raise SignatureError("malformed", "the Livepeer-Signature header has no valid v1 value")
    if len(signatures) > MAX_SIGNATURES:
        raise SignatureError("malformed", "the Livepeer-Signature header has too many v1 values")
    return SignatureHeader(timestamp, tuple(signatures))


def sign(body: bytes, secret: str) -> str:
    """Return Livepeer's `v1` value for a body: lowercase hex HMAC-SHA256."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def format_header(body: bytes, secret: str, timestamp_ms: int) -> str:
    """Return a complete Livepeer-Signature header, as Livepeer sends it."""
    return f"t={timestamp_ms},v1={sign(body, secret)}"


def verify(body: bytes, header: str | None, secrets: Iterable[str]) -> int:
    """Check that some `v1` is the HMAC of the raw body under some secret; return `t` (ms).

    Every candidate is compared with every secret in constant time, so the time taken does
    not tell which secret (or how much of a digest) matched.
    """
    parsed = parse_header(header)
    matched = False
    for secret in secrets:
        expected = sign(body, secret)
        for candidate in parsed.signatures:
            matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise SignatureError(
            "mismatch", "no v1 in Livepeer-Signature matches the body under a configured secret"
        )
    return parsed.timestamp_ms
