"""Bounded HTTP probes of Livepeer's API and CDN: allowlisted hosts, manual redirects, deadlines.

Every failure becomes an `HttpResult.error` string, never an exception.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from http.client import HTTPException
from urllib.parse import urljoin

import urllib3
from urllib3.exceptions import (
    HTTPError,
    LocationParseError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    SSLError,
)
from urllib3.exceptions import TimeoutError as Urllib3Timeout
from urllib3.util import parse_url

from webhook_service.config import Settings
from webhook_service.livepeer.allowlist import AddressError, AllowList, connection_to, origin
from webhook_service.livepeer.facts import HttpResult
from webhook_service.urls import redact_url

MAX_REDIRECTS = 3
DEFAULT_CALL_TIMEOUT = 3.0
DEFAULT_MAX_BYTES = 65_536
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 16_384
# What urllib3 itself drops when a redirect leaves the origin: credentials for one host must
# never reach another, even an allowed one (the API key must not go to the CDN).
_CROSS_ORIGIN_DROP = frozenset({"authorization", "proxy-authorization", "cookie"})


@dataclass(frozen=True)
class ProbeResponse:
    """A probe's `HttpResult` plus what API callers also need: headers and the raw bounded body."""

    result: HttpResult
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names, final hop
    content: bytes = b""
    truncated: bool = False  # the body was longer than max_bytes


class _Failure(Exception):
    """Internal: ends a probe with this error text (never leaves the module)."""


class Prober:
    """Fetches URLs on allowlisted hosts only, with manual redirects and a per-call timeout.

    Thread-safe: one `urllib3.PoolManager` is shared by every request thread.
    """

    def __init__(
        self,
        allowed_bases: Iterable[str],
        allowed_suffixes: Iterable[str] = (),
        *,
        call_timeout: float = DEFAULT_CALL_TIMEOUT,
        pool_maxsize: int = 10,
        user_agent: str = "livepeer-webhooks",
        observer: Callable[[str, HttpResult], None] | None = None,
    ) -> None:
        # Told of every finished request (URL asked, result): metrics, kept out of this module.
        self._observer = observer
        # urllib3 logs request lines at DEBUG: paths with stream keys (/stream/key/<key>) and
        # ?jwt= queries. Whatever the logging setup, those lines must never be emitted.
        logging.getLogger("urllib3").setLevel(logging.WARNING)
        self._allowed = AllowList(allowed_bases, allowed_suffixes)
        self.call_timeout = call_timeout
        self._user_agent = user_agent
        self._pool = urllib3.PoolManager(num_pools=20, maxsize=pool_maxsize, block=False)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        call_timeout: float = DEFAULT_CALL_TIMEOUT,
        observer: Callable[[str, HttpResult], None] | None = None,
    ) -> Prober:
        """A prober allowed the configured API and playback hosts plus PROBE_ALLOWED_HOSTS."""
        return cls(
            (settings.livepeer_api_url, settings.livepeer_playback_url),
            settings.probe_allowed_hosts,
            call_timeout=call_timeout,
            observer=observer,
        )

    def __repr__(self) -> str:
        return f"Prober(call_timeout={self.call_timeout}, allowed={self._allowed!r})"

    def close(self) -> None:
        """Close pooled connections."""
        self._pool.clear()

    def is_allowed(self, url: str) -> bool:
        """Whether a probe may contact this URL's host and port (addresses: when connecting)."""
        return self._allowed.allows(url)

    def fetch(
        self,
        url: str,
        *,
        deadline: float,
        headers: Mapping[str, str] | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> HttpResult:
        """GET a URL; `deadline` is a `time.monotonic()` value no call may outlast."""
        return self.request(
            "GET", url, deadline=deadline, headers=headers, max_bytes=max_bytes
        ).result

    def request(
        self,
        method: str,
        url: str,
        *,
        deadline: float,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> ProbeResponse:
        """Send one request, following at most MAX_REDIRECTS redirects on allowed hosts."""
        response = self._send(method, url, deadline, headers, body, max_bytes)
        if self._observer is not None:
            self._observer(url, response.result)
        return response

    def _send(
        self,
        method: str,
        url: str,
        deadline: float,
        headers: Mapping[str, str] | None,
        body: bytes | None,
        max_bytes: int,
    ) -> ProbeResponse:
        started = time.monotonic()
        current = url
        sent = {"User-Agent": self._user_agent, **(headers or {})}
        for hops in range(MAX_REDIRECTS + 1):
            try:
                response, location = self._hop(method, current, sent, body, deadline, max_bytes)
            except _Failure as failure:
                return self._failed(current, str(failure), hops, started)
            if location is None:
                return _ended(response, current, hops, started)
            try:
                target = urljoin(current, location)
            except ValueError:
                target = ""  # not allowed, so reported as a disallowed redirect
            if not self.is_allowed(target):
                name = (origin(target) or ("", "an invalid URL"))[1]
                return self._failed(
                    current, f"redirect to a disallowed host: {name}", hops, started
                )
            if response.result.status in {301, 302, 303} and method not in {"GET", "HEAD"}:
                method, body = "GET", None  # what browsers and Livepeer's clients do
            if origin(target) != origin(current):
                sent = {k: v for k, v in sent.items() if k.lower() not in _CROSS_ORIGIN_DROP}
            current = target
        return self._failed(
            current, f"too many redirects (more than {MAX_REDIRECTS})", hops, started
        )

    def _hop(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        deadline: float,
        max_bytes: int,
    ) -> tuple[ProbeResponse, str | None]:
        """One request without redirects: the response and its redirect target, if any."""
        raw, call_end = self._open(method, url, headers, body, deadline)
        complete = False
        try:
            location = raw.headers.get("Location") if raw.status in _REDIRECTS else None
            if location:
                return ProbeResponse(HttpResult(url=url, status=raw.status)), location
            content, truncated = _read_bounded(raw, max_bytes, call_end)
            complete = not truncated
            names = {k.lower(): v for k, v in raw.headers.items()}
            result = HttpResult(
                url=url,
                status=raw.status,
                body=content.decode("utf-8", errors="replace"),
                content_type=names.get("content-type"),
            )
            return ProbeResponse(result, names, content, truncated), None
        finally:
            if not complete:
                raw.close()  # an unread remainder would poison a reused connection
            raw.release_conn()

    def _open(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        deadline: float,
    ) -> tuple[urllib3.BaseHTTPResponse, float]:
        """Send the request to the address allowed for its host: the response, unread, and the
        `time.monotonic()` value by which its body must be read."""
        target = self._allowed.target(url)
        if target is None:
            host = origin(url)
            raise _Failure(f"host not allowed: {host[1]}" if host else "invalid URL")
        timeout = min(self.call_timeout, deadline - time.monotonic())
        if timeout <= 0:
            raise _Failure("deadline exceeded")
        call_end = time.monotonic() + timeout
        try:
            pool, pinned = connection_to(self._pool, target)  # a suffix host: its one DNS lookup
            raw = pool.urlopen(
                method,
                parse_url(url).request_uri,
                headers={**headers, **pinned},
                body=body,
                timeout=urllib3.Timeout(connect=timeout, read=timeout),
                retries=False,
                redirect=False,
                assert_same_host=False,
                preload_content=False,
            )
        except AddressError as refused:
            raise _Failure(str(refused)) from None
        except (HTTPError, HTTPException, OSError, ValueError) as exc:
            raise _Failure(_describe(exc)) from None
        return raw, call_end

    @staticmethod
    def _failed(url: str, error: str, redirects: int, started: float) -> ProbeResponse:
        return _ended(ProbeResponse(HttpResult(url=url, error=error)), url, redirects, started)


def _ended(response: ProbeResponse, url: str, redirects: int, started: float) -> ProbeResponse:
    """The probe's answer: its last URL without query or credentials, hops and time taken."""
    elapsed_ms = (time.monotonic() - started) * 1000
    shown = replace(
        response.result, url=redact_url(url), redirects=redirects, elapsed_ms=elapsed_ms
    )
    return replace(response, result=shown)


def _read_bounded(
    raw: urllib3.BaseHTTPResponse, max_bytes: int, call_end: float
) -> tuple[bytes, bool]:
    """Read at most max_bytes (plus one, to know whether there was more) before call_end."""
    chunks: list[bytes] = []
    total = 0
    try:
        while total <= max_bytes:
            if time.monotonic() > call_end:
                raise _Failure("timeout")  # a server trickling bytes must not hold us
            chunk = raw.read(min(_CHUNK, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except (HTTPError, HTTPException, OSError, ValueError) as exc:
        raise _Failure(_describe(exc)) from None
    content = b"".join(chunks)
    return content[:max_bytes], total > max_bytes


def _describe(exc: BaseException) -> str:
    """A short, secret-free name for a transport failure (exception texts carry URLs)."""
    if isinstance(exc, NameResolutionError):
        return "DNS lookup failed"
    if isinstance(exc, NewConnectionError):
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        return "connection failed"
    if isinstance(exc, Urllib3Timeout | TimeoutError):
        return "timeout"
    if isinstance(exc, SSLError):
        return "TLS error"
    if isinstance(exc, ProtocolError):
        cause = exc.args[1] if len(exc.args) > 1 else None
        if isinstance(cause, TimeoutError):
            return "timeout"
        return "connection closed"
    if isinstance(exc, LocationParseError | ValueError):
        return "invalid URL"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return "connection error"
