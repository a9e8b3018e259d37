"""Livepeer-Signature parsing and HMAC verification, including the shared known-answer vectors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from webhook_service.ingest import events, signature
from webhook_service.ingest.signature import SignatureError

VECTORS_PATH = Path(__file__).resolve().parents[1] / ".." / "shared" / "vectors"
VECTORS_FILE = VECTORS_PATH / "livepeer-signature.json"
if not VECTORS_FILE.exists():  # a vendored copy, for clones that lack ../shared
    VECTORS_FILE = Path(__file__).parent / "vectors" / "livepeer-signature.json"
VECTORS = json.loads(VECTORS_FILE.read_text())
BODY = VECTORS["body"].encode()


def test_vector_body_is_the_documented_bytes():
    """The vector body hashes to its recorded sha256, so the cases test the real bytes."""
    import hashlib

    assert hashlib.sha256(BODY).hexdigest() == VECTORS["body_sha256"]
    assert signature.sign(BODY, VECTORS["secret"]) == VECTORS["expected_v1"]


def _accepts(header: str) -> bool:
    """A full check as the receiver makes it: HMAC, then the body timestamp against t."""
    try:
        t = signature.verify(BODY, header, [VECTORS["secret"]])
        delivery = events.parse_delivery(BODY)
        events.check_freshness(delivery, t, VECTORS["now_ms"], VECTORS["tolerance_seconds"])
    except (SignatureError, events.FreshnessError):
        return False
    return True


@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda c: c["name"])
def test_known_answer_case(case):
    """Each shared vector case is accepted or rejected as recorded."""
    assert _accepts(case["header"]) is case["valid"], case["why"]


@pytest.mark.parametrize("case", VECTORS["freshness_cases"], ids=lambda c: c["name"])
def test_freshness_case(case):
    """The tolerance window is inclusive at both edges, in milliseconds."""
    delivery = events.parse_delivery(BODY)
    t = signature.verify(BODY, VECTORS["cases"][0]["header"], [VECTORS["secret"]])
    if case["valid"]:
        events.check_freshness(delivery, t, case["now_ms"], VECTORS["tolerance_seconds"])
    else:
        with pytest.raises(events.FreshnessError) as caught:
            events.check_freshness(delivery, t, case["now_ms"], VECTORS["tolerance_seconds"])
        assert caught.value.reason == "stale"


def test_any_configured_secret_verifies():
    """During a rotation either secret verifies; the order of secrets does not matter."""
    header = VECTORS["cases"][0]["header"]
    assert signature.verify(BODY, header, ["old-secret", VECTORS["secret"]]) == VECTORS["now_ms"]
    assert signature.verify(BODY, header, [VECTORS["secret"], "old"]) == VECTORS["now_ms"]


def test_reserialised_json_does_not_verify():
    """The HMAC covers the raw bytes: the same JSON written differently fails."""
    header = VECTORS["cases"][0]["header"]
    reserialised = json.dumps(json.loads(BODY)).encode()
    with pytest.raises(SignatureError) as caught:
        signature.verify(reserialised, header, [VECTORS["secret"]])
    assert caught.value.reason == "mismatch"


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing"),
        ("", "missing"),
        ("   ", "missing"),
        ("t=1,v1=" + "a" * 64 + "\x00", "malformed"),
        ("t=1764086400000,v1=" + "é" * 64, "malformed"),
        ("t=1764086400000,v1=" + "g" * 64, "malformed"),
        ("t=-5,v1=" + "a" * 64, "malformed"),
        ("t=1e12,v1=" + "a" * 64, "malformed"),
        ("t=" + "9" * 17 + ",v1=" + "a" * 64, "malformed"),
        ("t=1764086400000," + ",".join(["v1=" + "a" * 64] * 9), "malformed"),
        ("x" * 5000, "malformed"),
        ("t=1764086400000;v1=" + "a" * 64, "malformed"),
        ("==,,==", "malformed"),
        ("t=1764086400000,v1=" + "a" * 64, "mismatch"),
    ],
    ids=[
        "none", "empty", "blank", "nul-byte", "non-ascii", "non-hex", "negative-t",
        "float-t", "17-digit-t", "too-many-v1", "5000-bytes", "semicolons", "punctuation",
        "wrong-digest",
    ],
)  # fmt: skip
def test_hostile_headers_raise_only_signature_error(header, reason):
    """Hostile or broken headers give SignatureError with a reason, never another exception."""
    with pytest.raises(SignatureError) as caught:
        signature.verify(BODY, header, [VECTORS["secret"]])
    assert caught.value.reason == reason


def test_format_header_round_trips():
    """format_header writes what verify accepts."""
    header = signature.format_header(b"{}", "s", 1_764_086_400_000)
    assert header.startswith("t=1764086400000,v1=")
    assert signature.verify(b"{}", header, ["s"]) == 1_764_086_400_000
