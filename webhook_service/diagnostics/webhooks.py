"""The `webhooks` check: do Livepeer's deliveries reach this receiver and verify (pure)."""

from __future__ import annotations

from typing import Any

from webhook_service.diagnostics.evidence import as_int, as_text
from webhook_service.diagnostics.facts import RejectionStats
from webhook_service.diagnostics.facts import WebhooksFacts as Facts
from webhook_service.diagnostics.verdict import Status, Verdict, unknown
from webhook_service.livepeer.facts import ApiWebhook, WebhookLogEntry
from webhook_service.times import iso_from_ms
from webhook_service.urls import redact_url, why_not_public

REQUIRED_EVENTS = ("stream.started", "stream.idle", "recording.ready")
RECENT_MS = 3_600_000  # "recent" rejections: the last hour (DESIGN.md)
MIN_REJECTIONS = 3  # fewer may be scanners posting junk
# Rejection reason -> the row it feeds. A header `t` that differs from the signed body timestamp
# (timestamp_mismatch) means a re-serialised or tampered body: a signature problem too.
REJECTION_ROWS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("unsigned_deliveries", ("missing_signature",)),
    ("signature_mismatch", ("signature_mismatch", "timestamp_mismatch")),
    ("clock_skew", ("stale",)),
)
ENABLE_PUBLIC_URL = "set PUBLIC_URL to the URL Livepeer calls (https://host/webhooks/livepeer)"
ENABLE_API = "set LIVEPEER_API_KEY and PUBLIC_URL to read our webhook's status and log"


def diagnose_webhooks(facts: Facts) -> Verdict:
    """Answer with the first webhooks row of DESIGN.md whose condition holds on `facts`."""
    now = as_int(facts.now_ms) or 0
    stats, hook = facts.rejections, facts.webhook
    ev = _evidence(facts)
    if facts.public_url is not None:
        problem = why_not_public(facts.public_url, facts.public_url_addresses)
        if problem is not None:
            return _verdict("url_not_public", {**ev, "public_url_problem": problem}, problem)
    # Newest first by createdAt (the API's order; entries without a time go last).
    log = sorted(facts.recent_log or (), key=lambda e: (as_int(e.created_at_ms) is None, -_t(e)))
    failing = _failing(hook, log)
    if failing is not None:
        return _verdict("delivery_failing", {**ev, **failing}, _failing_fix(failing))
    if stats is not None:
        for row, reasons in REJECTION_ROWS:
            recent = _recent_rejections(stats, reasons, now)
            if recent is not None:
                return _verdict(row, {**ev, **recent})
    not_found = hook is None and facts.api_configured and facts.public_url is not None
    if hook is not None or (not_found and facts.webhook_lookup_error is None):
        events = hook.events if hook is not None else ()
        missing = [name for name in REQUIRED_EVENTS if name not in events]
        if missing:
            extra = {"events_missing": missing, "webhook_found": hook is not None}
            return _verdict("not_subscribed", {**ev, **extra})
    if stats is not None:
        accepted = as_int(stats.last_accepted_at_ms)
        if accepted is None:
            note = "no delivery accepted since the counters began"
            return _verdict("silent", {**ev, "silent_note": note})
        if now - accepted >= max(as_int(facts.silent_seconds) or 0, 0) * 1000:
            return _verdict("silent", {**ev, "seconds_since_accepted": (now - accepted) // 1000})
        return _verdict("ok", {**ev, "ok_source": "this service's delivery counters"})
    if log and log[0].success is True:
        return _verdict("ok", {**ev, "ok_source": "Livepeer's webhook log"})
    return _unknown(facts, ev)


def _unknown(facts: Facts, ev: dict[str, Any]) -> Verdict:
    """`webhooks.unknown`: neither the counters nor Livepeer's side could be read."""
    reason = "this service's delivery counters could not be read"
    if facts.webhook is None:
        reason += " and Livepeer's view of our webhook is unavailable"
    fix = "Check GET /readyz (Redis) and retry."
    if not facts.api_configured or facts.public_url is None:
        fix += " Set LIVEPEER_API_KEY and PUBLIC_URL to see Livepeer's side too."
    return unknown("webhooks", reason, fix, **ev)


def _failing(hook: ApiWebhook | None, log: list[WebhookLogEntry]) -> dict[str, Any] | None:
    """Evidence that the latest deliveries fail (webhook status or log head), else None."""
    failure_at, status_failing = None, False
    if hook is not None:  # lastFailure is never cleared: failing now when it is the last trigger
        failure_at = as_int(hook.last_failure_at_ms)
        status_failing = failure_at is not None and failure_at == as_int(hook.last_triggered_at_ms)
    run: list[WebhookLogEntry] = []
    for entry in log:
        if not entry.failed:
            break
        run.append(entry)
    newest = as_int(log[0].created_at_ms) if log else None
    if not run and newest is not None and failure_at is not None and newest > failure_at:
        status_failing = False  # status writes lag up to 60 s: a newer success in the log wins
    if not status_failing and not run:
        return None
    ev: dict[str, Any] = {"failing_statuses": [_status(e.response_status) for e in run[:10]]}
    if run:
        ev.update(failed_in_a_row=len(run), latest_failure_event=as_text(run[0].event, 64))
    if hook is not None and status_failing:
        ev["last_failure_at"] = iso_from_ms(failure_at)
        ev["last_failure_status"] = _status(hook.last_failure_status)
        ev["last_failure_error"] = as_text(hook.last_failure_error, 200)
        ev["failing_statuses"] = ev["failing_statuses"] or [ev["last_failure_status"]]
    return ev


def _failing_fix(failing: dict[str, Any]) -> str:
    """What to do about the newest failing status: unreachable, 4xx (final) or 5xx (retried)."""
    latest = (failing["failing_statuses"] or ["no response"])[0]
    if not isinstance(latest, int):
        first = "Livepeer got no answer: check DNS, TLS and that PUBLIC_URL answers from outside."
    elif 400 <= latest < 500:
        first = f"This receiver answered {latest} (not retried): see rejections and the log."
    else:
        first = f"This receiver answered {latest}: check GET /readyz (Redis) and the log."
    return first + " Then recover missed events with POST /api/reconcile."


def _recent_rejections(
    stats: RejectionStats, reasons: tuple[str, ...], now: int
) -> dict[str, Any] | None:
    """Evidence of 3+ rejections of `reasons` in the last hour with no acceptance after them."""
    counts = stats.counts if isinstance(stats.counts, dict) else {}
    last_at = stats.last_at_ms if isinstance(stats.last_at_ms, dict) else {}
    count = sum(max(as_int(counts.get(reason)) or 0, 0) for reason in reasons)
    times = [t for reason in reasons if (t := as_int(last_at.get(reason))) is not None]
    last = max(times, default=None)
    accepted = as_int(stats.last_accepted_at_ms)
    if count < MIN_REJECTIONS or (last is not None and last < now - RECENT_MS):
        return None
    if last is not None and accepted is not None and accepted > last:
        return None  # a delivery verified after the last rejection: the problem is gone
    return {
        "rejected_last_hour": count,
        "last_rejected_at": iso_from_ms(last),
        "reasons": list(reasons),
    }


def _evidence(facts: Facts) -> dict[str, Any]:
    """The facts every webhooks verdict rests on (no secrets: URLs lose userinfo and query)."""
    ev: dict[str, Any] = {"public_url": _shown(facts.public_url)}
    skipped: dict[str, str] = {}
    if facts.public_url is None:
        skipped["url_not_public"] = ENABLE_PUBLIC_URL
    elif (_shown(facts.public_url) or "").lower().startswith("http:"):
        ev["public_url_note"] = "PUBLIC_URL is http://: deliveries travel unencrypted; use https"
    if facts.public_url_addresses is not None:
        ev["public_url_addresses"] = [as_text(a, 64) for a in facts.public_url_addresses[:10]]
    if facts.public_url_error is not None:
        ev["public_url_error"] = as_text(facts.public_url_error, 200)
    hook = facts.webhook
    if hook is not None:
        ev["webhook_id"] = as_text(hook.id, 128)
        ev["webhook_url"] = _shown(hook.url)
        ev["webhook_events"] = [as_text(e, 64) for e in hook.events[:50]]
        ev["last_triggered_at"] = iso_from_ms(as_int(hook.last_triggered_at_ms))
    elif not facts.api_configured:
        skipped["delivery_failing"] = skipped["not_subscribed"] = ENABLE_API
    elif facts.public_url is None:
        skipped["delivery_failing"] = skipped["not_subscribed"] = ENABLE_PUBLIC_URL
    elif facts.webhook_lookup_error is not None:
        skipped["delivery_failing"] = skipped["not_subscribed"] = "the webhook lookup failed: retry"
    if facts.webhook_lookup_error is not None:
        ev["webhook_lookup_error"] = as_text(facts.webhook_lookup_error, 200)
    stats = facts.rejections
    if stats is not None:
        counts = stats.counts if isinstance(stats.counts, dict) else {}
        ev["rejections_last_hour"] = {
            str(k)[:64]: v for k, v in list(counts.items())[:20] if (as_int(v) or 0) > 0
        }
        ev["last_accepted_at"] = iso_from_ms(as_int(stats.last_accepted_at_ms))
    ev["silent_seconds"] = facts.silent_seconds
    if skipped:
        ev["skipped"] = skipped
    ev.update(_missing_evidence(facts))
    return ev


def _missing_evidence(facts: Facts) -> dict[str, Any]:
    """Failed deliveries in Livepeer's log that never reached Redis, and the command that
    recovers them (whatever row answers: a healthy receiver may still have missed some)."""
    missing = as_int(facts.missing_from_log)
    if missing is None or missing < 0:
        return {}
    since = iso_from_ms(as_int(facts.missing_since_ms))
    if not missing or since is None:
        return {"missing_from_log": missing}
    command = f"livepeer-webhooks reconcile --since {since}"
    return {"missing_from_log": missing, "reconcile_command": command}


def _verdict(row: str, ev: dict[str, Any], detail: str = "") -> Verdict:
    status, cause, fix = _ROWS[row]
    if row == "not_subscribed" and ev.get("webhook_found") is False:
        cause, fix = WEBHOOK_NOT_FOUND
    cause, fix = cause.format(detail=detail), fix.format(detail=detail)
    command = ev.get("reconcile_command")
    if command:
        hint = f"Recover the {ev['missing_from_log']} missed event(s): {command}."
        fix = hint if row == "ok" else f"{fix} {hint}"
    return Verdict("webhooks", status, f"webhooks.{row}", cause, fix, ev)


WEBHOOK_NOT_FOUND = (
    "No webhook in the Livepeer project of LIVEPEER_API_KEY has the URL PUBLIC_URL.",
    "Create one in Livepeer Studio with URL = PUBLIC_URL and the events stream.started, "
    "stream.idle and recording.ready, or correct PUBLIC_URL to the URL registered there.",
)
_ROWS: dict[str, tuple[Status, str, str]] = {
    "url_not_public": (
        "fail",
        "Livepeer skips this receiver's URL: {detail}.",
        "Serve the receiver on a public hostname (a proxy, the Heroku app URL, or a tunnel such "
        "as ngrok when testing), register it as the webhook in Livepeer Studio and set PUBLIC_URL.",
    ),
    "delivery_failing": ("fail", "Livepeer's latest deliveries to our webhook failed.", "{detail}"),
    "unsigned_deliveries": (
        "fail",
        "Recent deliveries came without a Livepeer-Signature header: the webhook has no signing "
        "secret in Livepeer Studio.",
        "Set the webhook's signing secret in Livepeer Studio and LIVEPEER_WEBHOOK_SECRET here to "
        "the same value.",
    ),
    "signature_mismatch": (
        "fail",
        "Recent deliveries failed the signature check: the webhook's secret in Livepeer Studio "
        "differs from LIVEPEER_WEBHOOK_SECRET (or a proxy rewrites the body).",
        "Copy the webhook's signing secret into LIVEPEER_WEBHOOK_SECRET (comma-separate old and "
        "new while rotating); `livepeer-webhooks verify-signature` explains a captured delivery.",
    ),
    "clock_skew": (
        "fail",
        "Recent deliveries were outside WEBHOOK_TOLERANCE_SECONDS of this host's clock.",
        "Check NTP on this host (timedatectl status; chronyc tracking) and compare its time "
        "with an accurate clock.",
    ),
    "not_subscribed": (
        "warn",
        "Our webhook is not subscribed to every event this service needs (see events_missing).",
        "Add stream.started, stream.idle and recording.ready to the webhook's events in Livepeer "
        "Studio (or PATCH /webhook/<id>), with its URL equal to PUBLIC_URL.",
    ),
    "silent": (
        "warn",
        "No delivery has been accepted for WEBHOOK_SILENT_SECONDS (or ever, see evidence).",
        "Run `livepeer-webhooks send-test-event --url PUBLIC_URL` to test the path end to end, "
        "then check the webhook's log in Livepeer Studio.",
    ),
    "ok": ("ok", "Deliveries arrive and verify.", "Nothing to fix."),
}


def _t(entry: WebhookLogEntry) -> int:
    return as_int(entry.created_at_ms) or 0


def _status(value: Any) -> int | str:
    return status if (status := as_int(value)) is not None else "no response"


def _shown(url: str | None) -> str | None:
    """A URL as evidence shows it (no credentials), or None when there is none."""
    return redact_url(url) if isinstance(url, str) else None
