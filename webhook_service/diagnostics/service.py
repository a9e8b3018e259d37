"""Run a check end to end: gather its facts (gather.py), decide (the pure modules), count it."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from webhook_service.diagnostics.facts import (
    HlsFacts,
    LocalStream,
    PlaybackFacts,
    RecordingFacts,
    RejectionStats,
    RtmpFacts,
    WebhooksFacts,
)
from webhook_service.diagnostics.gather import (
    Sources,
    fetch_playlists,
    find_our_webhook,
    latest_session,
    local_stream,
    now_ms,
    resolve_host,
    result,
    timeline_facts,
)
from webhook_service.diagnostics.hls import diagnose_hls
from webhook_service.diagnostics.playback import diagnose_playback
from webhook_service.diagnostics.recording import diagnose_recording
from webhook_service.diagnostics.rtmp import diagnose_rtmp
from webhook_service.diagnostics.verdict import Verdict, worst
from webhook_service.diagnostics.webhooks import diagnose_webhooks
from webhook_service.livepeer.api import ApiResult, StreamResult
from webhook_service.livepeer.facts import ApiStream, WebhookLogEntry
from webhook_service.reconcile.plan import failed_candidates
from webhook_service.store import StorageError
from webhook_service.telemetry.metrics import DIAGNOSES

# Each check keeps to its own deadline; this only guards against a bug leaving a thread stuck.
DEADLINE_SLACK = 15.0


@dataclass(frozen=True)
class Liveness:
    live: bool | None
    source: str | None
    since_ms: int | None


def _liveness(api_stream: ApiStream | None, local: LocalStream | None) -> Liveness:
    """The API (fresher) wins over this service's webhook records."""
    since = local.last_started_at_ms if local else None
    if api_stream is not None and api_stream.is_active is not None:
        return Liveness(api_stream.is_active, "api", since)
    if local is not None:
        return Liveness(local.state == "active", "webhooks", since)
    return Liveness(None, None, since)


def _policy(api: ApiStream | None, local: LocalStream | None) -> tuple[str | None, str | None]:
    """The playback policy and where it came from; the API wins over deliveries."""
    if api is not None and api.playback_policy:
        return api.playback_policy, "api"
    if local is not None and local.playback_policy:
        return local.playback_policy, "webhooks"
    return None, None


def _record_flag(api: ApiStream | None, local: LocalStream | None) -> bool | None:
    if api is not None and api.record is not None:
        return api.record
    return local.record if local else None


def _last4(key: str | None) -> str | None:
    return key[-4:] if key and len(key) >= 8 else None


class Diagnostician:
    """The diagnosis routes' single entry point: one method per check."""

    def __init__(self, sources: Sources, checks: ThreadPoolExecutor) -> None:
        self.sources = sources
        # A pool of its own: checks wait on outside calls in sources.pool, never on each other,
        # so a busy pool can only queue work, not deadlock it.
        self._checks = checks

    def _record(self, verdict: Verdict) -> Verdict:
        DIAGNOSES.labels(check=verdict.check, status=verdict.status).inc()
        return verdict

    def _stream(self, stream_id: str, deadline: float, key: str | None = None) -> StreamResult:
        future: Future[Any] = self.sources.api_call(
            lambda api: api.get_stream(stream_id, deadline=deadline, compare_key=key)
        )
        got = result(future, deadline)
        return got if isinstance(got, StreamResult) else StreamResult(error=got.error)

    # rtmp ----------------------------------------------------------------------------------
    def rtmp(self, stream_id: str | None, key: str | None, ingest_url: str | None) -> Verdict:
        """Would the encoder's push be accepted? By stream id, or by key alone."""
        s = self.sources
        deadline = s.deadline()
        local, _ = local_stream(s.store, stream_id) if stream_id else (None, None)
        if stream_id is not None:
            found = self._stream(stream_id, deadline, key)
        elif key is not None and s.api is not None:
            found = s.api.get_stream_by_key(key, deadline=deadline)
            if found.value is not None:
                local, _ = local_stream(s.store, found.value.id)
        else:
            found = StreamResult()
        facts = RtmpFacts(
            stream_id=stream_id or (found.value.id if found.value else None),
            local=local,
            api_configured=s.api is not None,
            api_stream=found.value,
            api_not_found=found.not_found,
            api_error=found.error,
            key_given=key is not None,
            key_matches=True if (stream_id is None and found.value) else found.key_matches,
            key_last4=_last4(key),
            ingest_url=ingest_url,
            ingest_hosts=s.settings.rtmp_ingest_hosts,
        )
        return self._record(diagnose_rtmp(facts))

    # hls -----------------------------------------------------------------------------------
    def hls(self, stream_id: str) -> Verdict:
        s = self.sources
        deadline = s.deadline()
        local, _ = local_stream(s.store, stream_id)
        found = self._stream(stream_id, deadline)
        live = _liveness(found.value, local)
        playback_id = (found.value.playback_id if found.value else None) or (
            local.playback_id if local else None
        )
        master = rendition = None
        if playback_id:
            url = self._playback_url(playback_id, deadline)
            master, rendition = fetch_playlists(s.prober, url, deadline)
        facts = HlsFacts(
            stream_id=stream_id,
            now_ms=now_ms(),
            first_segment_seconds=s.settings.hls_first_segment_seconds,
            live=live.live,
            live_source=live.source,
            live_since_ms=live.since_ms,
            playback_id=playback_id,
            master=master,
            rendition=rendition,
            api_error=found.error,
        )
        return self._record(diagnose_hls(facts))

    def _playback_url(self, playback_id: str, deadline: float) -> str:
        """The HLS URL from the playback info when allowed, else the configured CDN pattern."""
        s = self.sources
        info = result(
            s.api_call(lambda api: api.get_playback(playback_id, deadline=deadline)), deadline
        )
        if info.value and info.value.hls_url and s.prober.is_allowed(info.value.hls_url):
            return info.value.hls_url
        return f"{s.settings.livepeer_playback_url}/hls/{playback_id}/index.m3u8"

    # playback ------------------------------------------------------------------------------
    def playback(self, stream_id: str, jwt: str | None) -> Verdict:
        s = self.sources
        deadline = s.deadline()
        local, _ = local_stream(s.store, stream_id)
        keys_future = s.api_call(lambda api: api.list_signing_keys(deadline=deadline))
        found = self._stream(stream_id, deadline)
        api_stream = found.value
        policy, source = _policy(api_stream, local)
        webhook_id = (api_stream.playback_policy_webhook_id if api_stream else None) or (
            local.playback_policy_webhook_id if local else None
        )
        hook: ApiResult[Any] = ApiResult()
        if policy == "webhook" and webhook_id and s.api is not None:
            hook = s.api.get_webhook(webhook_id, deadline=deadline)
        keys = result(keys_future, deadline)
        facts = PlaybackFacts(
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
        )
        return self._record(diagnose_playback(facts))

    # recording -----------------------------------------------------------------------------
    def recording(self, stream_id: str) -> Verdict:
        s = self.sources
        deadline = s.deadline()
        sessions_future = s.api_call(lambda api: api.list_sessions(stream_id, deadline=deadline))
        local, _ = local_stream(s.store, stream_id)
        found = self._stream(stream_id, deadline)
        sessions = result(sessions_future, deadline)
        stored = local.sessions if local else ()
        latest_id, created, api_session, stored_session = latest_session(sessions.value, stored)
        try:
            events = s.store.stream_events(stream_id, 100)
            failed = s.store.failed_assets([latest_id] if latest_id else [])
        except StorageError:
            events, failed = [], {}
        api_stream = found.value
        live = _liveness(api_stream, local)
        facts = RecordingFacts(
            stream_id=stream_id,
            now_ms=now_ms(),
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
        )
        return self._record(diagnose_recording(facts))

    # webhooks ------------------------------------------------------------------------------
    def webhooks(self) -> Verdict:
        s = self.sources
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
        hook, lookup_error, log = None, None, None
        if public_url and s.api is not None:
            hook, lookup_error = find_our_webhook(s.api, public_url, deadline)
            if hook is not None:
                page = s.api.webhook_log(hook.id, deadline=deadline, limit=20)
                log = page.value.entries if page.value else None
        facts = WebhooksFacts(
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
            **self._missing_from_log(log),
        )
        return self._record(diagnose_webhooks(facts))

    def _missing_from_log(self, log: tuple[WebhookLogEntry, ...] | None) -> dict[str, Any]:
        """How many failed deliveries of the log page never reached Redis, and since when:
        chosen as `reconcile` chooses them, so its command recovers exactly these."""
        if log is None:
            return {}
        candidates = failed_candidates(log, since_ms=0)
        try:
            applied = self.sources.store.applied_event_ids(
                [(c.event_id, c.stream_id) for c in candidates]
            )
        except StorageError:
            return {}
        missing = [c.created_at_ms for c in candidates if c.event_id not in applied]
        return {"missing_from_log": len(missing), "missing_since_ms": min(missing, default=None)}

    # all stream checks ---------------------------------------------------------------------
    def stream(self, stream_id: str, jwt: str | None) -> dict[str, Any]:
        """Every stream check in parallel: the Diagnosis shape."""
        pool = self._checks
        futures = [
            pool.submit(self.rtmp, stream_id, None, None),
            pool.submit(self.hls, stream_id),
            pool.submit(self.playback, stream_id, jwt),
            pool.submit(self.recording, stream_id),
        ]
        verdicts = [f.result(timeout=DEADLINE_SLACK) for f in futures]
        return {
            "stream_id": stream_id,
            "status": worst(v.status for v in verdicts),
            "verdicts": [v.as_dict() for v in verdicts],
        }
