"""Gather the facts of each check from its sources, calls in parallel where they can be.

One function per check: it returns that check's facts (diagnostics/facts.py) and decides
nothing. Sources that fail become `*_error` facts; the pure checks turn those into
`<check>.unknown`.
"""

from __future__ import annotations

from typing import Any

from webhook_service.diagnostics.facts import (
    HlsFacts,
    LocalStream,
    PlaybackFacts,
    RecordingFacts,
    RejectionStats,
    RtmpFacts,
    TimelineFacts,
    ViewerRequest,
    WebhooksFacts,
)
from webhook_service.diagnostics.liveness import liveness
from webhook_service.diagnostics.sources import (
    Sources,
    fetch_playlists,
    local_stream,
    resolve_host,
    result,
)
from webhook_service.livepeer.facts import ApiSession, ApiStream, WebhookLogEntry
from webhook_service.livepeer.results import ApiResult, StreamResult
from webhook_service.reconcile.plan import failed_candidates
from webhook_service.store import StorageError
from webhook_service.times import now_ms


def gather_rtmp(s: Sources, stream_id: str | None, key: str | None, url: str | None) -> RtmpFacts:
    """Would the encoder's push be accepted? By stream id, or by key alone."""
    deadline = s.deadline()
    local = local_stream(s.store, stream_id) if stream_id else None
    if stream_id is not None:
        found = s.api_stream(stream_id, deadline, key)
    elif key is not None and s.api is not None:
        found = s.api.get_stream_by_key(key, deadline=deadline)
        if found.value is not None:
            local = local_stream(s.store, found.value.id)
    else:
        found = StreamResult()
    return RtmpFacts(
        stream_id=stream_id or (found.value.id if found.value else None),
        local=local,
        api_configured=s.api is not None,
        api_stream=found.value,
        api_not_found=found.not_found,
        api_error=found.error,
        key_given=key is not None,
        key_matches=True if (stream_id is None and found.value) else found.key_matches,
        key_last4=key[-4:] if key and len(key) >= 8 else None,
        ingest_url=url,
        ingest_hosts=s.settings.rtmp_ingest_hosts,
        now_ms=now_ms(),
        account_suspended=found.account_suspended,
    )


def gather_hls(s: Sources, stream_id: str) -> HlsFacts:
    """Liveness, the playback id and the playlists the CDN serves for it."""
    deadline = s.deadline()
    local = local_stream(s.store, stream_id)
    found = s.api_stream(stream_id, deadline)
    now = now_ms()
    live = liveness(found.value, local, now)
    playback_id = (found.value.playback_id if found.value else None) or (
        local.playback_id if local else None
    )
    master = rendition = None
    if playback_id:
        url = s.playback_url(playback_id, deadline)
        master, rendition = fetch_playlists(s.prober, url, deadline)
    return HlsFacts(
        stream_id=stream_id,
        now_ms=now,
        first_segment_seconds=s.settings.hls_first_segment_seconds,
        live=live.live,
        live_source=live.source,
        live_since_ms=live.since_ms,
        playback_id=playback_id,
        master=master,
        rendition=rendition,
        api_error=found.error,
        live_stuck=live.stuck,
        account_suspended=found.account_suspended,
    )


def gather_playback(
    s: Sources, stream_id: str, jwt: str | None, viewer: ViewerRequest | None = None
) -> PlaybackFacts:
    """The playback policy, the project's signing keys and the access-control webhook."""
    deadline = s.deadline()
    local = local_stream(s.store, stream_id)
    keys_future = s.api_call(lambda api: api.list_signing_keys(deadline=deadline))
    found = s.api_stream(stream_id, deadline)
    api_stream = found.value
    policy, source = _policy(api_stream, local)
    webhook_id = (api_stream.playback_policy_webhook_id if api_stream else None) or (
        local.playback_policy_webhook_id if local else None
    )
    hook: ApiResult[Any] = ApiResult()
    if policy == "webhook" and webhook_id and s.api is not None:
        hook = s.api.get_webhook(webhook_id, deadline=deadline)
    keys = result(keys_future, deadline)
    return PlaybackFacts(
        stream_id=stream_id,
        now_ms=now_ms(),
        playback_id=(api_stream.playback_id if api_stream else None)
        or (local.playback_id if local else None),
        policy=policy,
        policy_source=source,
        jwt=jwt,
        signing_keys=keys.value,
        webhook_id=webhook_id,
        webhook=hook.value,
        webhook_missing=hook.not_found,
        public_url=s.settings.public_url,
        api_configured=s.api is not None,
        api_error=found.error or hook.error,
        viewer=viewer,
        allowed_origins=_allowed_origins(api_stream, local),
        stream_deleted=bool(api_stream and api_stream.deleted)
        or (found.not_found and local is not None),
        stream_suspended=bool(api_stream and api_stream.suspended),
        account_suspended=found.account_suspended or keys.account_suspended,
    )


def gather_recording(s: Sources, stream_id: str) -> RecordingFacts:
    """The latest session as the API, the stored deliveries and the timeline describe it."""
    deadline = s.deadline()
    sessions_future = s.api_call(lambda api: api.list_sessions(stream_id, deadline=deadline))
    local = local_stream(s.store, stream_id)
    found = s.api_stream(stream_id, deadline)
    sessions = result(sessions_future, deadline)
    stored = local.sessions if local else ()
    latest_id, created, api_session, stored_session = latest_session(sessions.value, stored)
    try:
        events = s.store.stream_events(stream_id, 100)
        failed = s.store.asset_outcomes([latest_id] if latest_id else [])
    except StorageError:
        events, failed = [], {}
    api_stream = found.value
    now = now_ms()
    live = liveness(api_stream, local, now)
    return RecordingFacts(
        stream_id=stream_id,
        now_ms=now,
        ready_timeout_seconds=s.settings.recording_ready_timeout_seconds,
        record=_record_flag(api_stream, local),
        live=live.live,
        latest_session_id=latest_id,
        latest_session_created_ms=created,
        api_session=api_session,
        stored_session=stored_session,
        timeline=timeline_facts(local, events, failed),
        api_configured=s.api is not None,
        api_error=found.error or sessions.error,
        live_stuck=live.stuck,
        last_seen_ms=live.last_seen_ms,
        account_suspended=found.account_suspended or sessions.account_suspended,
    )


def gather_webhooks(s: Sources) -> WebhooksFacts:
    """This receiver's delivery counters, PUBLIC_URL's addresses, our webhook and its log."""
    deadline = s.deadline()
    public_url = s.settings.public_url
    now = now_ms()
    addresses, dns_error = (
        resolve_host(public_url, deadline, s.pool) if public_url else (None, None)
    )
    try:
        counts, last, accepted = s.store.delivery_stats(now)
        rejections: RejectionStats | None = RejectionStats(counts, last, accepted)
    except StorageError:
        rejections = None
    hook, lookup_error, log, suspended = None, None, None, False
    if public_url and s.api is not None:
        found = s.api.find_webhook(public_url, deadline=deadline)
        hook, lookup_error, suspended = found.value, found.error, found.account_suspended
        if hook is not None:
            page = s.api.webhook_log(hook.id, deadline=deadline, limit=20)
            log = page.value.entries if page.value else None
    return WebhooksFacts(
        now_ms=now,
        silent_seconds=s.settings.webhook_silent_seconds,
        public_url=public_url,
        public_url_addresses=addresses,
        public_url_error=dns_error,
        rejections=rejections,
        webhook=hook,
        webhook_lookup_error=lookup_error,
        recent_log=log,
        api_configured=s.api is not None,
        account_suspended=suspended,
        **_missing_from_log(s, log),
    )


def _missing_from_log(s: Sources, log: tuple[WebhookLogEntry, ...] | None) -> dict[str, Any]:
    """How many failed deliveries of the log page never reached Redis, and since when:
    chosen as `reconcile` chooses them, so its command recovers exactly these."""
    if log is None:
        return {}
    candidates = failed_candidates(log, since_ms=0)
    try:
        applied = s.store.applied_event_ids([(c.event_id, c.stream_id) for c in candidates])
    except StorageError:
        return {}
    missing = [c.created_at_ms for c in candidates if c.event_id not in applied]
    return {"missing_from_log": len(missing), "missing_since_ms": min(missing, default=None)}


def _policy(api: ApiStream | None, local: LocalStream | None) -> tuple[str | None, str | None]:
    """The playback policy and where it came from; the API wins over deliveries."""
    if api is not None and api.playback_policy:
        return api.playback_policy, "api"
    if local is not None and local.playback_policy:
        return local.playback_policy, "webhooks"
    return None, None


def _allowed_origins(api: ApiStream | None, local: LocalStream | None) -> tuple[str, ...] | None:
    """playbackPolicy.allowedOrigins; the API wins over deliveries."""
    if api is not None and api.playback_policy is not None:
        return api.allowed_origins
    return local.allowed_origins if local is not None else None


def _record_flag(api: ApiStream | None, local: LocalStream | None) -> bool | None:
    if api is not None and api.record is not None:
        return api.record
    return local.record if local else None


def timeline_facts(
    local: LocalStream | None, events: list[dict[str, Any]], failed: dict[str, str]
) -> TimelineFacts:
    """What the stream's timeline says about its recordings (pure)."""
    ready: dict[str, dict[str, Any]] = {}
    waiting: set[str] = set()
    for event in events:
        session = event.get("session_id")
        if not session:
            continue
        payload = event.get("payload") or {}
        if event["event"] == "recording.ready":
            inner = payload.get("session") or {}
            ready[session] = {
                "recording_url": payload.get("recordingUrl") or inner.get("recordingUrl"),
                "mp4_url": payload.get("mp4Url") or inner.get("mp4Url"),
                "at": event["created_at"],
            }
        elif event["event"] == "recording.waiting":
            waiting.add(session)
    return TimelineFacts(
        last_started_at_ms=local.last_started_at_ms if local else None,
        last_idle_at_ms=local.last_idle_at_ms if local else None,
        recording_ready=ready,
        recording_waiting=frozenset(waiting),
        failed_sessions={s: e for s, e in failed.items() if e != "asset.deleted"},
        deleted_sessions=frozenset(s for s, e in failed.items() if e == "asset.deleted"),
    )


def latest_session(
    api_sessions: tuple[ApiSession, ...] | None, stored: tuple[dict[str, Any], ...]
) -> tuple[str | None, int | None, ApiSession | None, dict[str, Any] | None]:
    """The newest session (by createdAt) known to the API or to this service's deliveries."""
    candidates: list[tuple[int, str]] = [
        (s.created_at_ms or 0, s.id) for s in api_sessions or () if s.id
    ] + [(int(s.get("created_at") or s.get("updated_at") or 0), s["id"]) for s in stored]
    if not candidates:
        return None, None, None, None
    created, session_id = max(candidates)
    api = next((s for s in api_sessions or () if s.id == session_id), None)
    kept = next((s for s in stored if s["id"] == session_id), None)
    return session_id, created or None, api, kept
