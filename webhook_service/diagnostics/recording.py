"""The `recording` check: where is the latest session's recording (pure: facts in, Verdict out)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from webhook_service.diagnostics.evidence import as_int, as_text
from webhook_service.diagnostics.facts import RecordingFacts
from webhook_service.diagnostics.recording_rows import ROWS
from webhook_service.diagnostics.verdict import (
    ACCOUNT_SUSPENDED_FIX,
    ACCOUNT_SUSPENDED_REASON,
    Verdict,
    unknown,
)
from webhook_service.livepeer.facts import ApiSession
from webhook_service.times import iso_from_ms

# API recordingStatus values that mean "the session ended and the asset is being made":
# recording.waiting already carries "ready", so "ready" without a URL is still processing.
PROCESSING_STATUSES = frozenset({"waiting", "ready"})

# A session whose media stopped this long before it was closed is stale: Livepeer skips its
# recording (stream.ts STALE_SESSION_TIMEOUT, isStreamStale, triggerSessionRecordingProcessing).
STALE_SESSION_MS = 3 * 3600 * 1000


RecordingStatus = Literal["waiting", "ready", "failed", "deleted", "none"]
_FINAL_STATUSES: dict[str, RecordingStatus] = {
    "failed": "failed",
    "deleted": "deleted",
    "none": "none",
}


def shown_recording_status(status: str | None, has_url: bool) -> RecordingStatus | None:
    """A session's recording status as the Stream answer shows it, by the diagnosis's rule:
    "ready" only with a URL; Livepeer's "ready" or "waiting" without one is "waiting". A value
    Livepeer does not write (api-schema.yaml session.recordingStatus) shows as None."""
    if status in PROCESSING_STATUSES or (status is None and has_url):
        return "ready" if has_url else "waiting"
    return _FINAL_STATUSES.get(status) if status is not None else None


@dataclass(frozen=True)
class _Latest:
    """The latest session as the timeline, the stored deliveries and the API describe it."""

    id: str | None
    api: ApiSession | None
    stored: dict[str, Any] | None
    urls: dict[str, str]  # recording_url / mp4_url, from the first source that has any
    urls_source: str | None
    failure: str | None
    source_segments: int | None
    ended_by: str | None  # what shows the session ended without a stream.idle after the start
    record: bool | None  # the session's own flag, else the stream's (see _session_record)
    deleted: str | None  # what shows its recording's asset was deleted


def diagnose_recording(facts: RecordingFacts) -> Verdict:
    """Answer with the first recording row of DESIGN.md whose condition holds on `facts`."""
    tl = facts.timeline
    latest = _latest(facts)
    started, idle = as_int(tl.last_started_at_ms), as_int(tl.last_idle_at_ms)
    timeout_ms = max(as_int(facts.ready_timeout_seconds) or 0, 0) * 1000
    ev = _evidence(facts, latest, started, idle)
    if facts.account_suspended:
        return unknown("recording", ACCOUNT_SUSPENDED_REASON, ACCOUNT_SUSPENDED_FIX, **ev)
    if latest.record is False:
        return _verdict(facts, "not_enabled", ev)
    never_live = latest.id is None and started is None and idle is None and facts.live is not True
    knows_stream = (facts.api_configured and facts.api_error is None) or facts.record is not None
    if never_live and knows_stream:
        return _verdict(facts, "no_sessions", ev)
    if facts.live is True:
        return _verdict(facts, "still_live", ev)
    early = _before_idle_rows(facts, latest, ev)
    if early is not None:
        return early
    idle_after_start = idle is not None and (started is None or idle >= started)  # ties: idle
    if _skipped(latest, idle if idle_after_start else None):
        return _verdict(facts, "skipped", ev)
    idle_at, idle_source = _idle_at(facts, latest, idle if idle_after_start else None)
    if idle_at is not None and started is not None and not idle_after_start:
        ev["missing_delivery"] = "no stream.idle arrived after the last stream.started"
    if idle_at is not None:
        since_ms = as_int(facts.now_ms) or 0
        ev = {**ev, "idle_at": iso_from_ms(idle_at), "idle_source": idle_source}
        ev["seconds_since_idle"] = max(since_ms - idle_at, 0) // 1000
        # "Longer than" the timeout: exactly at it the recording is still processing.
        return _verdict(facts, "overdue" if since_ms - idle_at > timeout_ms else "processing", ev)
    if latest.ended_by is not None:
        return _verdict(facts, "processing", {**ev, "idle_source": latest.ended_by})
    return unknown("recording", _unknown_reason(facts), _unknown_fix(facts), **ev)


def _before_idle_rows(facts: RecordingFacts, latest: _Latest, ev: dict[str, Any]) -> Verdict | None:
    """The rows that need no end time: deleted, ready, failed, no media, not idle."""
    if latest.deleted is not None:
        return _verdict(facts, "deleted", {**ev, "deleted_by": latest.deleted})
    if latest.urls:
        return _verdict(facts, "ready", {**ev, **latest.urls, "url_source": latest.urls_source})
    if latest.failure is not None:
        return _verdict(facts, "failed", {**ev, "failure": latest.failure})
    if latest.source_segments == 0:
        return _verdict(facts, "no_media", ev)
    if facts.live_stuck:
        seen = as_int(facts.last_seen_ms)
        ago = (as_int(facts.now_ms) or 0) - seen if seen is not None else None
        return _verdict(facts, "not_idle", {**ev, "api_last_seen_seconds_ago": _seconds(ago)})
    return None


def _skipped(latest: _Latest, idle: int | None) -> bool:
    """Livepeer skipped a stale session's recording: `none` while recording was on, and the
    session closed (its stream.idle) more than STALE_SESSION_MS after its lastSeen."""
    if latest.api is None or as_text(latest.api.recording_status) != "none":
        return False
    last_seen = as_int(latest.api.last_seen_ms)
    if latest.record is not True or idle is None or last_seen is None:
        return False
    return idle - last_seen > STALE_SESSION_MS


def _seconds(ms: int | None) -> int | None:
    return ms // 1000 if ms is not None else None


def _session_record(facts: RecordingFacts, api: ApiSession | None, stored: Any) -> bool | None:
    """The session's own `record` (copied from the stream when it began: stream.ts), else the
    stream's current flag when the session's is unknown."""
    if api is not None and isinstance(api.record, bool):
        return api.record
    if isinstance(stored, dict) and isinstance(stored.get("record"), bool):
        return bool(stored["record"])
    return facts.record


def _latest(facts: RecordingFacts) -> _Latest:
    """Merge what every source says about the latest session (mismatched ids are ignored)."""
    stored_raw = facts.stored_session if isinstance(facts.stored_session, dict) else None
    sid = as_text(facts.latest_session_id)
    if sid is None and facts.api_session is not None:
        sid = as_text(facts.api_session.id)
    if sid is None and stored_raw is not None:
        sid = as_text(stored_raw.get("id"))
    api = facts.api_session
    if api is not None and as_text(api.id) != sid:
        api = None
    stored = stored_raw if stored_raw is not None and as_text(stored_raw.get("id")) == sid else None
    ready = facts.timeline.recording_ready.get(sid) if sid is not None else None
    urls, urls_source = _recording_urls(ready, stored, api)
    api_status = as_text(api.recording_status) if api is not None else None
    failure = None
    if sid is not None and sid in facts.timeline.failed_sessions:
        failure = as_text(facts.timeline.failed_sessions[sid]) or "asset or task failed"
    elif api_status == "failed":
        failure = "the API's recordingStatus is failed"
    segments = as_int(api.source_segments) if api is not None else None
    if segments is None and stored is not None:
        segments = as_int(stored.get("source_segments"))
    ended_by = None
    if sid is not None and sid in facts.timeline.recording_waiting:
        ended_by = "recording.waiting"
    elif api_status in PROCESSING_STATUSES:
        ended_by = f"the API's recordingStatus {api_status}"
    deleted = None
    if sid is not None and sid in facts.timeline.deleted_sessions:
        deleted = "asset.deleted"
    elif api_status == "deleted":
        deleted = "the API's recordingStatus deleted"
    record = _session_record(facts, api, stored)
    return _Latest(
        sid, api, stored, urls, urls_source, failure, segments, ended_by, record, deleted
    )


def _recording_urls(
    ready: Any, stored: dict[str, Any] | None, api: ApiSession | None
) -> tuple[dict[str, str], str | None]:
    """The recording's URLs from the first source that has any: recording.ready, the stored
    deliveries, the API; and which source that was."""
    sources: list[tuple[str, Any, Any]] = []
    if isinstance(ready, dict):
        sources.append(("recording.ready", ready.get("recording_url"), ready.get("mp4_url")))
    if stored is not None:
        sources.append(("deliveries", stored.get("recording_url"), stored.get("mp4_url")))
    if api is not None:
        sources.append(("api", api.recording_url, api.mp4_url))
    for name, recording_url, mp4_url in sources:
        found = {"recording_url": as_text(recording_url), "mp4_url": as_text(mp4_url)}
        urls = {key: value for key, value in found.items() if value is not None}
        if urls:
            return urls, name
    return {}, None


def _idle_at(
    facts: RecordingFacts, latest: _Latest, idle_after_start: int | None
) -> tuple[int | None, str | None]:
    """When the session ended: stream.idle, else the API session's lastSeen when it surely ended."""
    if idle_after_start is not None:
        return idle_after_start, "stream.idle"
    if latest.api is not None and (latest.ended_by is not None or facts.live is False):
        # No stream.idle was received, and the API says it is over: its lastSeen is when.
        last_seen = as_int(latest.api.last_seen_ms)
        if last_seen is not None:
            return last_seen, "the API session's lastSeen"
    return None, None


def _evidence(
    facts: RecordingFacts, latest: _Latest, started: int | None, idle: int | None
) -> dict[str, Any]:
    """The facts every recording verdict rests on (never secrets)."""
    ev: dict[str, Any] = {
        "stream_id": facts.stream_id,
        "session_id": latest.id,
        "record": latest.record,
        "stream_record": facts.record,
        "live": facts.live,
        "last_started_at": iso_from_ms(started),
        "last_idle_at": iso_from_ms(idle),
        "ready_timeout_seconds": facts.ready_timeout_seconds,
        "recording_waiting_received": latest.id in facts.timeline.recording_waiting,
    }
    if latest.api is not None:
        ev["api_recording_status"] = as_text(latest.api.recording_status)
        ev["api_source_segments"] = as_int(latest.api.source_segments)
    if latest.stored is not None:
        ev["stored_recording_status"] = as_text(latest.stored.get("recording_status"))
    if latest.source_segments is not None:
        ev["source_segments"] = latest.source_segments
    if facts.api_error is not None:
        ev["api_error"] = as_text(facts.api_error)
    elif not facts.api_configured:
        ev["api"] = "not configured: set LIVEPEER_API_KEY to compare with Livepeer's sessions"
    return ev


def _verdict(facts: RecordingFacts, row: str, ev: dict[str, Any]) -> Verdict:
    status, cause, fix = ROWS[row]
    values = {
        "stream_id": facts.stream_id,
        "session_id": ev.get("session_id") or "<session id>",
        "failure": ev.get("failure"),
        "timeout": facts.ready_timeout_seconds,
    }
    return Verdict(
        "recording", status, f"recording.{row}", cause.format(**values), fix.format(**values), ev
    )


def _unknown_reason(facts: RecordingFacts) -> str:
    if facts.api_error is not None:
        return (
            f"the Livepeer API failed ({as_text(facts.api_error)}) and local records do not decide"
        )
    if not facts.api_configured:
        return "this service's records do not show how the latest session ended"
    return "neither the Livepeer API nor this service's records show how the latest session ended"


def _unknown_fix(facts: RecordingFacts) -> str:
    if facts.api_error is None and not facts.api_configured:
        return "Set LIVEPEER_API_KEY so the check can read the stream's sessions from Livepeer."
    return f"Retry in a minute; check GET /api/streams/{facts.stream_id}/events for deliveries."
