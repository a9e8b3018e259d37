"""Gather the facts each check decides on: Redis, the Livepeer API and the CDN, in parallel.

Every outside call runs under one deadline per diagnosis (about 3 s a call, 9 s in all), in a
shared thread pool, so a hanging API or CDN costs an operator seconds and never blocks ingest.
Sources that fail become `*_error` facts; the pure checks turn those into `<check>.unknown`.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import m3u8

from webhook_service.config import Settings
from webhook_service.diagnostics.facts import LocalStream, TimelineFacts
from webhook_service.diagnostics.webhooks import normalise_url
from webhook_service.livepeer.api import ApiResult, LivepeerApi
from webhook_service.livepeer.facts import ApiSession, HttpResult
from webhook_service.livepeer.probe import Prober
from webhook_service.store import StorageError, Store

T = TypeVar("T")
DIAGNOSIS_SECONDS = 9.0
NO_API: ApiResult[Any] = ApiResult()


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class Sources:
    """Everything a gather step may consult; one per app."""

    settings: Settings
    store: Store
    api: LivepeerApi | None
    prober: Prober
    pool: ThreadPoolExecutor

    def deadline(self) -> float:
        return time.monotonic() + DIAGNOSIS_SECONDS

    def submit(self, call: Callable[[], T]) -> Future[T]:
        return self.pool.submit(call)

    def api_call(self, call: Callable[[LivepeerApi], ApiResult[T]]) -> Future[ApiResult[T]]:
        """Run an API call in the pool; without an API key the result is empty (no error)."""
        api = self.api
        if api is None:
            done: Future[ApiResult[T]] = Future()
            done.set_result(NO_API)
            return done
        return self.pool.submit(call, api)


def result(future: Future[ApiResult[T]], deadline: float) -> ApiResult[T]:
    """The call's result, or an error result if it outlived the deadline."""
    try:
        return future.result(timeout=max(0.0, deadline - time.monotonic()) + 0.5)
    except FutureTimeout:
        return ApiResult(error="deadline exceeded")


def local_stream(store: Store, stream_id: str) -> tuple[LocalStream | None, str | None]:
    """This service's record of the stream, or (None, error) when Redis failed."""
    try:
        record = store.get_stream(stream_id)
    except StorageError as error:
        return None, str(error)
    if record is None:
        return None, None
    return (
        LocalStream(
            id=stream_id,
            state=record["state"],
            playback_id=record["playback_id"],
            record=record["record"],
            playback_policy=record["playback_policy"],
            playback_policy_webhook_id=record["playback_policy_webhook_id"],
            last_started_at_ms=record["last_started_at"],
            last_idle_at_ms=record["last_idle_at"],
            sessions=tuple(record["sessions"]),
        ),
        None,
    )


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
        failed_sessions=failed,
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


def resolve_host(
    url: str, deadline: float, pool: ThreadPoolExecutor
) -> tuple[tuple[str, ...] | None, str | None]:
    """The addresses PUBLIC_URL's host resolves to (as Livepeer would see them), or an error."""
    host = urlsplit(url).hostname
    if not host:
        return None, "PUBLIC_URL has no host"
    future = pool.submit(socket.getaddrinfo, host, None, type=socket.SOCK_STREAM)
    try:
        infos = future.result(timeout=max(0.1, min(3.0, deadline - time.monotonic())))
    except FutureTimeout:
        return None, "DNS lookup timed out"
    except OSError as error:
        return None, f"DNS lookup failed: {error.strerror or type(error).__name__}"
    return tuple(sorted({str(info[4][0]) for info in infos})), None


def fetch_playlists(
    prober: Prober, url: str, deadline: float
) -> tuple[HttpResult, HttpResult | None]:
    """The master playlist and, when it lists variants, the first rendition playlist."""
    master = prober.fetch(url, deadline=deadline)
    body = (master.body or "").lstrip("\ufeff \r\n\t")
    if master.status != 200 or not body.startswith("#EXTM3U"):
        return master, None
    try:
        playlist = m3u8.loads(body)
    except Exception:  # noqa: BLE001 - a garbage playlist is a finding, not a crash
        return master, None
    if not playlist.is_variant or not playlist.playlists:
        return master, None
    rendition_url = urljoin(master.url, playlist.playlists[0].uri)
    return master, prober.fetch(rendition_url, deadline=deadline)


def find_our_webhook(api: LivepeerApi, public_url: str, deadline: float) -> tuple[Any, str | None]:
    """Our webhook in the API (its url equals PUBLIC_URL after normalising), or an error."""
    listed = api.list_webhooks(deadline=deadline)
    if listed.error or listed.value is None:
        return None, listed.error or "no answer"
    wanted = normalise_url(public_url)
    return next((h for h in listed.value if normalise_url(h.url) == wanted), None), None
