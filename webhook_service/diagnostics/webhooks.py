"""The `webhooks` check: do Livepeer's deliveries reach this receiver and verify (pure)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from webhook_service.diagnostics.facts import RejectionStats
from webhook_service.diagnostics.facts import WebhooksFacts as Facts
from webhook_service.diagnostics.verdict import Status, Verdict, unknown
from webhook_service.http.schemas import iso_from_ms
from webhook_service.livepeer.facts import ApiWebhook, WebhookLogEntry

REQUIRED_EVENTS = ("stream.started", "stream.idle", "recording.ready")
RECENT_MS = 3_600_000  # "recent" rejections: the last hour (DESIGN.md)
MIN_REJECTIONS = 3  # fewer may be scanners posting junk
# Hostnames Livepeer treats as local without resolving them (cannon.ts checkIsLocalIp).
LOCAL_HOSTNAMES = frozenset({"localhost", "ip6-localhost", "ip6-loopback"})
# Rejection reason -> the row it feeds. A header `t` that differs from the signed body timestamp
# (timestamp_mismatch) means a re-serialised or tampered body: a signature problem too.
REJECTION_ROWS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("unsigned_deliveries", ("missing_signature",)),
    ("signature_mismatch", ("signature_mismatch", "timestamp_mismatch")),
    ("clock_skew", ("stale",)),
)
ENABLE_PUBLIC_URL = "set PUBLIC_URL to the URL Livepeer calls (https://host/webhooks/livepeer)"
ENABLE_API = "set LIVEPEER_API_KEY and PUBLIC_URL to read our webhook's status and log"


def normalise_url(url: str) -> str:
    """`url` with scheme and host lowercased and one trailing slash removed, for matching."""
    try:
        parts = urlsplit(url)
    except (ValueError, TypeError, AttributeError):
        return url[:-1] if isinstance(url, str) and url.endswith("/") else str(url)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    path = parts.path[:-1] if parts.path.endswith("/") else parts.path
    netloc = f"{userinfo}{at}{hostport.lower()}"
    return urlunsplit((parts.scheme.lower(), netloc, path, parts.query, parts.fragment))


def diagnose_webhooks(facts: Facts) -> Verdict:
    """Answer with the first webhooks row of DESIGN.md whose condition holds on `facts`."""
    now = _ms(facts.now_ms) or 0
    stats, hook = facts.rejections, facts.webhook
    ev = _evidence(facts)
    if facts.public_url is not None:
        problem = _public_url_problem(facts.public_url, facts.public_url_addresses)
        if problem is not None:
            return _verdict("url_not_public", {**ev, "public_url_problem": problem}, problem)
    # Newest first by createdAt (the API's order; entries without a time go last).
    log = sorted(facts.recent_log or (), key=lambda e: (_ms(e.created_at_ms) is None, -_t(e)))
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
        accepted = _ms(stats.last_accepted_at_ms)
        if accepted is None:
            note = "no delivery accepted since the counters began"
            return _verdict("silent", {**ev, "silent_note": note})
        if now - accepted >= max(_ms(facts.silent_seconds) or 0, 0) * 1000:
            return _verdict("silent", {**ev, "seconds_since_accepted": (now - accepted) // 1000})
        return _verdict("ok", {**ev, "ok_source": "this service's delivery counters"})
    if log and log[0].success is True:
        return _verdict("ok", {**ev, "ok_source": "Livepeer's webhook log"})
    reason = "this service's delivery counters could not be read"
    if hook is None:
        reason += " and Livepeer's view of our webhook is unavailable"
    fix = "Check GET /readyz (Redis) and retry."
    if not facts.api_configured or facts.public_url is None:
        fix += " Set LIVEPEER_API_KEY and PUBLIC_URL to see Livepeer's side too."
    return unknown("webhooks", reason, fix, **ev)


def _public_url_problem(url: str, addresses: Sequence[str] | None) -> str | None:
    """Why Livepeer would skip PUBLIC_URL (local host, non-public address), or None."""
    try:
        host = urlsplit(url).hostname
    except (ValueError, TypeError, AttributeError):
        host = None
    if not host:
        return "PUBLIC_URL has no host: it must look like https://host/webhooks/livepeer"
    host = host.rstrip(".")
    if host in LOCAL_HOSTNAMES or host.endswith(".localhost"):
        return f"the host {host!r} is local to this machine"
    candidates = [host] if _address_kind(host) != "invalid" else []
    candidates += [a for a in (addresses or ()) if isinstance(a, str)]
    for address in candidates[:32]:
        kind = _address_kind(address)
        if kind not in (None, "invalid"):
            return f"{host!r} resolves to {address}, a {kind} address"
    return None


def _address_kind(text: str) -> str | None:
    """The kind of non-public address `text` is, None for a public one, "invalid" if no IP."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return "invalid"
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is loopback too
    # Loopback, link-local and unspecified are also "private": name the precise kind first.
    kinds = (
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("unspecified", address.is_unspecified),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        ("multicast", address.is_multicast),
    )
    return next((name for name, flag in kinds if flag), None)


def _failed(entry: WebhookLogEntry) -> bool:
    if entry.success is not None:
        return entry.success is False
    status = _ms(entry.response_status)
    return status is not None and not 200 <= status < 300


def _failing(hook: ApiWebhook | None, log: list[WebhookLogEntry]) -> dict[str, Any] | None:
    """Evidence that the latest deliveries fail (webhook status or log head), else None."""
    failure_at, status_failing = None, False
    if hook is not None:  # lastFailure is never cleared: failing now when it is the last trigger
        failure_at = _ms(hook.last_failure_at_ms)
        status_failing = failure_at is not None and failure_at == _ms(hook.last_triggered_at_ms)
    run: list[WebhookLogEntry] = []
    for entry in log:
        if not _failed(entry):
            break
        run.append(entry)
    newest = _ms(log[0].created_at_ms) if log else None
    if not run and newest is not None and failure_at is not None and newest > failure_at:
        status_failing = False  # status writes lag up to 60 s: a newer success in the log wins
    if not status_failing and not run:
        return None
    ev: dict[str, Any] = {"failing_statuses": [_status(e.response_status) for e in run[:10]]}
    if run:
        ev.update(failed_in_a_row=len(run), latest_failure_event=_text(run[0].event, 64))
    if hook is not None and status_failing:
        ev["last_failure_at"] = _iso(failure_at)
        ev["last_failure_status"] = _status(hook.last_failure_status)
        ev["last_failure_error"] = _text(hook.last_failure_error, 200)
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
    count = sum(max(_ms(counts.get(reason)) or 0, 0) for reason in reasons)
    times = [t for reason in reasons if (t := _ms(last_at.get(reason))) is not None]
    last = max(times, default=None)
    accepted = _ms(stats.last_accepted_at_ms)
    if count < MIN_REJECTIONS or (last is not None and last < now - RECENT_MS):
        return None
    if last is not None and accepted is not None and accepted > last:
        return None  # a delivery verified after the last rejection: the problem is gone
    return {"rejected_last_hour": count, "last_rejected_at": _iso(last), "reasons": list(reasons)}


def _evidence(facts: Facts) -> dict[str, Any]:
    """The facts every webhooks verdict rests on (no secrets: URLs lose userinfo and query)."""
    ev: dict[str, Any] = {"public_url": _safe_url(facts.public_url)}
    skipped: dict[str, str] = {}
    if facts.public_url is None:
        skipped["url_not_public"] = ENABLE_PUBLIC_URL
    elif (_safe_url(facts.public_url) or "").lower().startswith("http:"):
        ev["public_url_note"] = "PUBLIC_URL is http://: deliveries travel unencrypted; use https"
    if facts.public_url_addresses is not None:
        ev["public_url_addresses"] = [_text(a, 64) for a in facts.public_url_addresses[:10]]
    if facts.public_url_error is not None:
        ev["public_url_error"] = _text(facts.public_url_error, 200)
    hook = facts.webhook
    if hook is not None:
        ev["webhook_id"] = _text(hook.id, 128)
        ev["webhook_url"] = _safe_url(hook.url)
        ev["webhook_events"] = [_text(e, 64) for e in hook.events[:50]]
        ev["last_triggered_at"] = _iso(_ms(hook.last_triggered_at_ms))
    elif not facts.api_configured:
        skipped["delivery_failing"] = skipped["not_subscribed"] = ENABLE_API
    elif facts.public_url is None:
        skipped["delivery_failing"] = skipped["not_subscribed"] = ENABLE_PUBLIC_URL
    elif facts.webhook_lookup_error is not None:
        skipped["delivery_failing"] = skipped["not_subscribed"] = "the webhook lookup failed: retry"
    if facts.webhook_lookup_error is not None:
        ev["webhook_lookup_error"] = _text(facts.webhook_lookup_error, 200)
    stats = facts.rejections
    if stats is not None:
        counts = stats.counts if isinstance(stats.counts, dict) else {}
        ev["rejections_last_hour"] = {
            str(k)[:64]: v for k, v in list(counts.items())[:20] if (_ms(v) or 0) > 0
        }
        ev["last_accepted_at"] = _iso(_ms(stats.last_accepted_at_ms))
    ev["silent_seconds"] = facts.silent_seconds
    if skipped:
        ev["skipped"] = skipped
    ev.update(_missing_evidence(facts))
    return ev


def _missing_evidence(facts: Facts) -> dict[str, Any]:
    """Failed deliveries in Livepeer's log that never reached Redis, and the command that
    recovers them (whatever row answers: a healthy receiver may still have missed some)."""
    missing = _ms(facts.missing_from_log)
    if missing is None or missing < 0:
        return {}
    since = _iso(_ms(facts.missing_since_ms))
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


def _safe_url(url: str | None) -> str | None:
    """`url` without userinfo, query or fragment (they may hold credentials), for evidence."""
    if not isinstance(url, str):
        return None
    try:
        parts = urlsplit(url)
        host = parts.netloc.rpartition("@")[2]
    except (ValueError, TypeError, AttributeError):
        return None
    return urlunsplit((parts.scheme, host, parts.path, "", ""))[:512]


def _t(entry: WebhookLogEntry) -> int:
    return _ms(entry.created_at_ms) or 0


def _status(value: Any) -> int | str:
    return status if (status := _ms(value)) is not None else "no response"


def _ms(value: Any) -> int | None:
    """An int (time, count, status) or None: bools and other types from outside count as missing."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(value: Any, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


def _iso(ms: int | None) -> str | None:
    """ISO-8601 UTC for evidence; None for times outside what datetime can show."""
    try:
        return iso_from_ms(ms)
    except (OverflowError, ValueError, OSError):
        return None
