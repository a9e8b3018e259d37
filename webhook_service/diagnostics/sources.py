"""Where the checks' facts come from: Redis, the Livepeer API and the CDN, under one deadline.

Every outside call runs under one deadline per diagnosis (about 3 s a call, 9 s in all), in a
bounded thread pool, so a hanging API or CDN costs an operator seconds and never blocks
ingest. A source that fails answers with an error string, never an exception.
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
from webhook_service.diagnostics.facts import LocalStream
from webhook_service.livepeer.api import LivepeerApi
from webhook_service.livepeer.facts import HttpResult
from webhook_service.livepeer.probe import Prober
from webhook_service.livepeer.results import ApiResult, StreamResult
from webhook_service.store import StorageError, Store
from webhook_service.urls import path_segment

T = TypeVar("T")
DIAGNOSIS_SECONDS = 9.0
NO_API: ApiResult[Any] = ApiResult()


@dataclass
class Sources:
    """Everything a gather step may consult; one per app, shared by every request thread."""

    settings: Settings
    store: Store
    api: LivepeerApi | None  # None without LIVEPEER_API_KEY
    prober: Prober
    pool: ThreadPoolExecutor  # outside calls only (see Diagnostician for why)

    def deadline(self) -> float:
        """The `time.monotonic()` value no call of one diagnosis may outlast."""
        return time.monotonic() + DIAGNOSIS_SECONDS

    def api_call(self, call: Callable[[LivepeerApi], ApiResult[T]]) -> Future[ApiResult[T]]:
        """Run an API call in the pool; without an API key the result is empty (no error)."""
        api = self.api
        if api is None:
            done: Future[ApiResult[T]] = Future()
            done.set_result(NO_API)
            return done
        return self.pool.submit(call, api)

    def api_stream(self, stream_id: str, deadline: float, key: str | None = None) -> StreamResult:
        """GET /stream/{id} (comparing `key` when given), or an empty result without a key."""
        future = self.api_call(
            lambda api: api.get_stream(stream_id, deadline=deadline, compare_key=key)
        )
        got = result(future, deadline)
        return got if isinstance(got, StreamResult) else StreamResult(error=got.error)

    def playback_url(self, playback_id: str, deadline: float) -> str:
        """The HLS URL from the playback info when allowed, else the configured CDN pattern."""
        info = result(
            self.api_call(lambda api: api.get_playback(playback_id, deadline=deadline)), deadline
        )
        if info.value and info.value.hls_url and self.prober.is_allowed(info.value.hls_url):
            return info.value.hls_url
        # The id comes from a delivery or the API: one encoded segment, so the path stays put.
        return f"{self.settings.livepeer_playback_url}/hls/{path_segment(playback_id)}/index.m3u8"

    def close(self) -> None:
        """Stop the pool (waiting calls are cancelled) and close the HTTP connections."""
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.prober.close()


def result(future: Future[ApiResult[T]], deadline: float) -> ApiResult[T]:
    """The call's result, or an error result if it outlived the deadline."""
    try:
        return future.result(timeout=max(0.0, deadline - time.monotonic()) + 0.5)
    except FutureTimeout:
        return ApiResult(error="deadline exceeded")


def local_stream(store: Store, stream_id: str) -> LocalStream | None:
    """This service's record of the stream; None when it has none or Redis failed."""
    try:
        record = store.get_stream(stream_id)
    except StorageError:
        return None
    if record is None:
        return None
    return LocalStream(
        id=stream_id,
        state=record["state"],
        playback_id=record["playback_id"],
        record=record["record"],
        playback_policy=record["playback_policy"],
        playback_policy_webhook_id=record["playback_policy_webhook_id"],
        last_started_at_ms=record["last_started_at"],
        last_idle_at_ms=record["last_idle_at"],
        sessions=tuple(record["sessions"]),
        allowed_origins=_origins(record.get("playback_allowed_origins")),
    )


def _origins(value: Any) -> tuple[str, ...] | None:
    return tuple(o for o in value if isinstance(o, str)) if isinstance(value, list) else None


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
