"""The `recording` check: where is the latest session's recording (pure: facts in, Verdict out)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from webhook_service.diagnostics.evidence import as_int, as_text
from webhook_service.diagnostics.facts import RecordingFacts
from webhook_service.diagnostics.verdict import Status, Verdict, unknown
from webhook_service.livepeer.facts import ApiSession
from webhook_service.times import iso_from_ms

# API recordingStatus values that mean "the session ended and the asset is being made":
# recording.waiting already carries "ready", so "ready" without a URL is still processing.
PROCESSING_STATUSES = frozenset({"waiting", "ready"})


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


def diagnose_recording(facts: RecordingFacts) -> Verdict:
    """Answer with the first recording row of DESIGN.md whose condition holds on `facts`."""
    tl = facts.timeline
    latest = _latest(facts)
    started, idle = as_int(tl.last_started_at_ms), as_int(tl.last_idle_at_ms)
    timeout_ms = max(as_int(facts.ready_timeout_seconds) or 0, 0) * 1000
    ev = _evidence(facts, latest, started, idle)
    if facts.record is False:
        return _verdict(facts, "not_enabled", ev)
    never_live = latest.id is None and started is None and idle is None and facts.live is not True
    knows_stream = (facts.api_configured and facts.api_error is None) or facts.record is not None
    if never_live and knows_stream:
        return _verdict(facts, "no_sessions", ev)
    if facts.live is True:
        return _verdict(facts, "still_live", ev)
    if latest.urls:
        return _verdict(facts, "ready", {**ev, **latest.urls, "url_source": latest.urls_source})
    if latest.failure is not None:
        return _verdict(facts, "failed", {**ev, "failure": latest.failure})
    if latest.source_segments == 0:
        return _verdict(facts, "no_media", ev)
    idle_after_start = idle is not None and (started is None or idle >= started)  # ties: idle
    # A recording.waiting (or the API's waiting status) proves the session ended: not not_idle.
    ended = idle_after_start or latest.ended_by is not None
    if started is not None and not ended and facts.live is False:
        return _verdict(facts, "not_idle", ev)
    idle_at, idle_source = _idle_at(facts, latest, idle if idle_after_start else None)
    if idle_at is not None:
        since_ms = as_int(facts.now_ms) or 0
        ev = {**ev, "idle_at": iso_from_ms(idle_at), "idle_source": idle_source}
        ev["seconds_since_idle"] = max(since_ms - idle_at, 0) // 1000
        # "Longer than" the timeout: exactly at it the recording is still processing.
        return _verdict(facts, "overdue" if since_ms - idle_at > timeout_ms else "processing", ev)
    if latest.ended_by is not None:
        return _verdict(facts, "processing", {**ev, "idle_source": latest.ended_by})
    return unknown("recording", _unknown_reason(facts), _unknown_fix(facts), **ev)


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
    return _Latest(sid, api, stored, urls, urls_source, failure, segments, ended_by)


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
    no_start_known = facts.timeline.last_started_at_ms is None and facts.live is False
    if latest.api is not None and (latest.ended_by is not None or no_start_known):
        # No stream.idle was received (or nothing at all): the API's lastSeen is when media stopped.
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
        "record": facts.record,
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
    status, cause, fix = _ROWS[row]
    values = {
        "stream_id": facts.stream_id,
        "session_id": ev.get("session_id") or "<session id>",
        "failure": ev.get("failure"),
        "timeout": facts.ready_timeout_seconds,
    }
    return Verdict(
        "recording", status, f"recording.{row}", cause.format(**values), fix.format(**values), ev
    )


_ROWS: dict[str, tuple[Status, str, str]] = {
    "not_enabled": (
        "fail",
        "Recording is off for this stream (`record` is false), so Livepeer records no session.",
        "Turn recording on before the next broadcast (PATCH /stream/{stream_id} with "
        '{{"record": true}}, or the Studio dashboard); past sessions cannot be recorded later.',
    ),
    "no_sessions": (
        "warn",
        "The stream has never been live, so there is no session to record.",
        "Start the encoder on rtmp://rtmp.livepeer.com/live/<stream key>; if the push is "
        "refused, run the `rtmp` diagnosis.",
    ),
    "still_live": (
        "warn",
        "The stream is live now; Livepeer makes the recording only after it goes idle.",
        "Stop the encoder when the broadcast is over; the recording is usually ready about "
        "5 minutes after stream.idle.",
    ),
    "ready": (
        "ok",
        "The latest session's recording is ready.",
        "Nothing to fix: play evidence.recording_url (HLS) or download evidence.mp4_url.",
    ),
    "failed": (
        "fail",
        "Livepeer could not make the latest session's recording ({failure}).",
        "Read the error of asset {session_id} (GET /asset/{session_id}) in Livepeer Studio; "
        "a failed recording is not retried, so contact Livepeer support if it matters.",
    ),
    "no_media": (
        "warn",
        "The latest session received no media (0 source segments), so no recording is made.",
        "Check that the encoder really sent video (its log and bitrate) and run the `rtmp` "
        "diagnosis; the next session that carries media will be recorded.",
    ),
    "not_idle": (
        "fail",
        "The stream is no longer live but no stream.idle came after its last stream.started: the "
        "session did not end cleanly (or the delivery was missed), and recordings start on idle.",
        "Wait 2 minutes (Livepeer's clean-up sends stream.idle ~90 s after media stops); if none "
        "comes, run the `webhooks` diagnosis and check GET /session?parentId={stream_id}.",
    ),
    "overdue": (
        "fail",
        "The stream went idle more than {timeout} s ago (RECORDING_READY_TIMEOUT_SECONDS) and "
        "neither a recording nor a failure has been reported.",
        "Check the session's recordingStatus (GET /session/{session_id}) and asset "
        "{session_id}; if Livepeer shows it ready, recover the missed recording.ready with "
        "POST /api/reconcile.",
    ),
    "processing": (
        "warn",
        "The session has ended and Livepeer is still making its recording (usually within "
        "about 5 minutes of stream.idle).",
        "Wait; if no recording.ready arrives within {timeout} s of stream.idle "
        "(RECORDING_READY_TIMEOUT_SECONDS), this check turns into recording.overdue.",
    ),
}


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
