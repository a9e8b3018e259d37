"""Explain why a captured delivery does or does not verify, without revealing a secret (pure)."""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from webhook_service.ingest import events, signature

HEADER_NAME = "livepeer-signature:"


@dataclass
class SignatureReport:
    """The verdict on one captured delivery and the findings that explain it, in order."""

    valid: bool = False
    secret_index: int | None = None  # 1-based position in LIVEPEER_WEBHOOK_SECRET
    findings: list[str] = field(default_factory=list)


def _compact(body: bytes) -> bytes:
    return json.dumps(json.loads(body), separators=(",", ":"), ensure_ascii=False).encode()


def _ascii_compact(body: bytes) -> bytes:
    return json.dumps(json.loads(body), separators=(",", ":")).encode()


# Ways a captured body commonly differs from the bytes Livepeer signed.
_ALTERATIONS: tuple[tuple[str, Callable[[bytes], bytes]], ...] = (
    ("the file ends with a newline that was not in the delivery", lambda b: b.rstrip(b"\r\n")),
    ("the body was re-serialised (pretty-printed or re-encoded JSON)", _compact),
    ("the body was re-serialised with non-ASCII characters escaped", _ascii_compact),
    ("line endings were changed to CRLF", lambda b: b.replace(b"\r\n", b"\n")),
)


def _matching_secret(body: bytes, candidates: Sequence[str], secrets: Sequence[str]) -> int | None:
    for index, secret in enumerate(secrets, start=1):
        expected = signature.sign(body, secret)
        if any(hmac.compare_digest(expected, c) for c in candidates):
            return index
    return None


def _explain_mismatch(
    body: bytes, candidates: Sequence[str], secrets: Sequence[str], report: SignatureReport
) -> None:
    for description, alter in _ALTERATIONS:
        try:
            altered = alter(body)
        except (ValueError, RecursionError):
            continue
        if altered != body and _matching_secret(altered, candidates, secrets):
            report.findings.append(
                f"no match over the bytes given, but a match after undoing this: {description}. "
                "Verify over the exact bytes received, never over parsed and re-written JSON."
            )
            return
    report.findings.append(
        f"none of the {len(secrets)} configured secret(s) produced this signature: the "
        "webhook's signing secret in Livepeer Studio differs from LIVEPEER_WEBHOOK_SECRET "
        "(or the body is not the bytes that were sent)."
    )


def explain(
    body: bytes, header: str, secrets: Sequence[str], now_ms: int, tolerance_seconds: int
) -> SignatureReport:
    """Check a captured delivery step by step and say, for a person, what holds and what fails."""
    report = SignatureReport()
    if header.strip().lower().startswith(HEADER_NAME):
        header = header.strip()[len(HEADER_NAME) :]
        report.findings.append("note: the header name was included; only its value is used.")
    try:
        parsed = signature.parse_header(header)
    except signature.SignatureError as error:
        report.findings.append(f"header: {error.detail}.")
        return report
    report.secret_index = _matching_secret(body, parsed.signatures, secrets)
    if report.secret_index is None:
        _explain_mismatch(body, parsed.signatures, secrets, report)
        return report
    report.findings.append(
        f"signature: matches secret #{report.secret_index} of {len(secrets)} over the raw body."
    )
    try:
        delivery = events.parse_delivery(body)
        events.check_freshness(delivery, parsed.timestamp_ms, now_ms, tolerance_seconds)
    except events.EventError as error:
        report.findings.append(f"body: {error} (the service answers 400).")
        return report
    except events.FreshnessError as error:
        report.findings.append(f"timestamp: {error.detail} (the service answers 401).")
        return report
    report.findings.append("timestamp: equals t and is within the tolerance.")
    report.valid = True
    return report
