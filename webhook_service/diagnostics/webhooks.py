"""The `webhooks` check: do Livepeer's deliveries reach this receiver and verify (pure)."""

from __future__ import annotations

from typing import Any

from webhook_service.diagnostics.evidence import as_int, as_text
from webhook_service.diagnostics.facts import RejectionStats
from webhook_service.diagnostics.facts import WebhooksFacts as Facts
from webhook_service.diagnostics.verdict import Verdict, unknown
from webhook_service.diagnostics.webhooks_rows import ROWS
from webhook_service.livepeer.facts import ApiWebhook, WebhookLogEntry
from webhook_service.times import iso_from_ms
from webhook_service.urls import redact_url, why_not_public

REQUIRED_EVENTS = ("stream.started", "stream.idle", "recording.ready")
RECENT_MS = 3_600_000  # "recent" rejections: the last hour (DESIGN.md)
MIN_REJECTIONS = 3  # fewer may be scanners posting junk
RECENT_LOG_ROWS = 10  # "recent" log rows: the last hour, at most the latest 10 (DESIGN.md)
# Answers that show a redirect: the 3xx itself, or the 405 our route gives the GET it becomes.
REDIRECT_SIGNS = frozenset({301, 302, 303, 405})
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
    if facts.account_suspended:
        return _verdict("account_suspended", ev)
    if facts.public_url is not None:
        problem = why_not_public(facts.public_url, facts.public_url_addresses)
        if problem is not None:
            return _verdict("url_not_public", {**ev, "public_url_problem": problem}, problem)
    if _not_registered(facts):
        return _verdict("not_registered", ev)
    # Newest first by createdAt (the API's order; entries without a time go last).
    log = sorted(facts.recent_log or (), key=lambda e: (as_int(e.created_at_ms) is None, -_t(e)))
    redirected = _redirected(facts, log, now)
    if redirected is not None:
        return _verdict("redirected", {**ev, **redirected}, redirected["redirect_finding"])
    failing = _failing(hook, log)
    if failing is not None:
        return _verdict("delivery_failing", {**ev, **failing}, _failing_fix(failing))
    for row, reasons in REJECTION_ROWS:
        recent = _recent_rejections(stats, reasons, now, MIN_REJECTIONS) if stats else None
        if recent is not None:
            return _verdict(row, {**ev, **recent})
    missing = [name for name in REQUIRED_EVENTS if hook is not None and name not in hook.events]
    if missing:
        return _verdict("not_subscribed", {**ev, "events_missing": missing})
    if stats is not None:
        return _counted(facts, stats, now, ev)
    if log and log[0].success is True:
        return _verdict("ok", {**ev, "ok_source": "Livepeer's webhook log"})
    return _unknown(facts, ev)


def _counted(facts: Facts, stats: RejectionStats, now: int, ev: dict[str, Any]) -> Verdict:
    """silent or ok, from this service's delivery counters."""
    accepted = as_int(stats.last_accepted_at_ms)
    if accepted is None:
        note = "no delivery accepted since the counters began"
        return _verdict("silent", {**ev, "silent_note": note})
    if now - accepted >= max(as_int(facts.silent_seconds) or 0, 0) * 1000:
        return _verdict("silent", {**ev, "seconds_since_accepted": (now - accepted) // 1000})
    return _verdict("ok", {**ev, "ok_source": "this service's delivery counters"})


def _not_registered(facts: Facts) -> bool:
    """The API answered, and no webhook of the key's project has our URL (nor its http/https
    twin, which is ours and answers `redirected`)."""
    looked = facts.api_configured and facts.public_url is not None
    return looked and facts.webhook is None and facts.webhook_lookup_error is None


def _redirected(facts: Facts, log: list[WebhookLogEntry], now: int) -> dict[str, Any] | None:
    """Evidence that deliveries to our webhook are redirected, else None (cannon.ts posts
    with node-fetch v2, which follows a 301/302/303 with a GET)."""
    recent = [e for e in log[:RECENT_LOG_ROWS] if (as_int(e.created_at_ms) or 0) >= now - RECENT_MS]
    bounced = [s for e in recent if (s := as_int(e.response_status)) in REDIRECT_SIGNS]
    if bounced:
        finding = f"recent deliveries were answered {', '.join(map(str, bounced[:10]))}"
        return {"redirected_statuses": bounced[:10], "redirect_finding": finding}
    stats = facts.rejections
    gets = _recent_rejections(stats, ("redirected_get",), now, 1) if stats is not None else None
    if gets is not None:
        finding = "signed GET requests from Livepeer reached the ingest route"
        return {**gets, "redirect_finding": finding}
    hook, public = facts.webhook, facts.public_url or ""
    plain = hook is not None and isinstance(hook.url, str) and hook.url.lower().startswith("http:")
    if plain and public.lower().startswith("https:") and not any(e.success for e in recent):
        finding = "the webhook is registered as http:// while PUBLIC_URL is https://"
        return {"redirect_finding": finding}
    return None


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
    stats: RejectionStats, reasons: tuple[str, ...], now: int, least: int
) -> dict[str, Any] | None:
    """Evidence of `least` or more rejections of `reasons` in the last hour with no acceptance
    after them."""
    counts = stats.counts if isinstance(stats.counts, dict) else {}
    last_at = stats.last_at_ms if isinstance(stats.last_at_ms, dict) else {}
    count = sum(max(as_int(counts.get(reason)) or 0, 0) for reason in reasons)
    times = [t for reason in reasons if (t := as_int(last_at.get(reason))) is not None]
    last = max(times, default=None)
    accepted = as_int(stats.last_accepted_at_ms)
    if count < least or (last is not None and last < now - RECENT_MS):
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
    status, cause, fix = ROWS[row]
    cause, fix = cause.format(detail=detail), fix.format(detail=detail)
    command = ev.get("reconcile_command")
    if command:
        hint = f"Recover the {ev['missing_from_log']} missed event(s): {command}."
        fix = hint if row == "ok" else f"{fix} {hint}"
    return Verdict("webhooks", status, f"webhooks.{row}", cause, fix, ev)


def _t(entry: WebhookLogEntry) -> int:
    return as_int(entry.created_at_ms) or 0


def _status(value: Any) -> int | str:
    return status if (status := as_int(value)) is not None else "no response"


def _shown(url: str | None) -> str | None:
    """A URL as evidence shows it (no credentials), or None when there is none."""
    return redact_url(url) if isinstance(url, str) else None
