"""Why a delivery could not be recovered, by kind, and what fixes each kind (pure).

Livepeer resends a logged delivery to that row's `request.url`, signed with the secret the
webhook had when the event was first sent (cannon.ts resendWebhook reads `webhookLog.request.url`
and `webhookLog.sharedSecret`), and answers with the new log row. So a resend can fail for two
reasons an operator fixes here, and for any other:

- `old_secret`: this receiver refused the resend as `bad_signature` (a 401 problem whose `type`
  ends in `:bad-signature`): the previous secret was dropped from LIVEPEER_WEBHOOK_SECRET.
- `old_url`: the row went to another URL than PUBLIC_URL, so its resend would go there, not
  here. Such a row is never resent: that URL may be someone else's by now, and the resend
  carries our event, signed.
- `other`: the API refused or failed the call, or this receiver answered anything else.
"""

from __future__ import annotations

import json
import re
from typing import Literal

from webhook_service.livepeer.facts import WebhookLogEntry
from webhook_service.urls import redact_url

FailureKind = Literal["old_secret", "old_url", "other"]
FAILURE_KINDS: tuple[FailureKind, ...] = ("old_secret", "old_url", "other")
BAD_SIGNATURE_SUFFIX = ":bad-signature"  # http/errors.py: PROBLEM_BASE + ":bad-signature"
# Livepeer keeps only the first 1024 characters of an answer: a long problem may be cut short.
_PROBLEM_TYPE = re.compile(r'"type"\s*:\s*"([^"\\]{1,200})"')

# What the operator does about each kind; the CLI prints these, the HTTP schema documents them.
FIXES: dict[FailureKind, str] = {
    "old_secret": (
        "Livepeer signs a resend with the secret the webhook had when the event was first sent, "
        "and this service no longer accepts that secret. Add the previous secret back, "
        "comma-separated (LIVEPEER_WEBHOOK_SECRET=<new>,<previous>), restart the service and "
        "run the same reconcile again. Keep the previous secret listed for at least 25 h after "
        "the rotation (Livepeer's retry window) and until a reconcile of the rotation period "
        "reports old_secret=0."
    ),
    "old_url": (
        "Livepeer resends a delivery only to the URL it first went to (shown on each line), "
        "and that is not PUBLIC_URL, so these were not resent: a resend cannot recover them. "
        "Their streams' next events, and the live diagnosis (GET /api/streams/<id>/diagnosis "
        "reads the Livepeer API), give the current state. When changing the webhook's URL, "
        "keep the old URL serving this receiver for 25 h (Livepeer's retry window)."
    ),
    "other": (
        "See the reason on each line, fix it, then run the same reconcile again: failed "
        "resends are tried again, and nothing is resent twice."
    ),
}


def problem_type(text: str | None) -> str | None:
    """The `type` of a problem+json answer, from its (possibly truncated) text."""
    if not text:
        return None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        match = _PROBLEM_TYPE.search(text)
        return match.group(1) if match else None
    value = data.get("type") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def resend_failure(row: WebhookLogEntry | None) -> FailureKind:
    """The kind of a resend that Livepeer made but this receiver did not accept, from the new
    log row Livepeer answered with (its response status and body)."""
    if row is None or row.response_status != 401:
        return "other"
    kind = problem_type(row.response_body) or ""
    return "old_secret" if kind.endswith(BAD_SIGNATURE_SUFFIX) else "other"


def refusal(row: WebhookLogEntry | None) -> str:
    """Why a resend Livepeer made was not accepted, in words, from its new log row."""
    if row is None:
        return "Livepeer resent it but this receiver did not answer 2xx (see the webhook's log)"
    if resend_failure(row) == "old_secret":
        return "refused here as bad_signature: it was signed with the webhook's previous secret"
    if row.response_status is None:
        return "Livepeer's resend got no answer (a timeout or a network error)"
    kind = problem_type(row.response_body)
    named = f" ({kind.rpartition(':')[2][:64]})" if kind else ""
    return f"this receiver answered the resend HTTP {row.response_status}{named}"


def elsewhere(request_url: str | None) -> str:
    """Why an `old_url` delivery is not resent, naming where it went (without credentials)."""
    shown = redact_url(request_url, limit=200)
    return f"it went to {shown}, not PUBLIC_URL, and a resend would go there too"
