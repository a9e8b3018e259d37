"""Security headers, guarded request bodies, and the failed-authentication limit of /api/*.

The threats each measure answers, and the tests that prove it, are in SECURITY.md.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from typing import IO

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge

from webhook_service.http.errors import ServiceError
from webhook_service.store import StorageError, Store

logger = logging.getLogger(__name__)

# Every answer is JSON or plain text for programs: nothing may be sniffed into HTML, framed,
# loaded by another origin's page, or leak this URL in a Referer. No CORS header is ever sent.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Cross-Origin-Resource-Policy": "same-origin",
}
# One year, without includeSubDomains: other hosts of the operator's domain are not ours to pin.
HSTS = "max-age=31536000"
LIMITER_EXTENSION = "livepeer.auth_limiter"
_HTTP_HEADERS = (*SECURITY_HEADERS.items(), ("Cache-Control", "no-store"))
_HTTPS_HEADERS = (*_HTTP_HEADERS, ("Strict-Transport-Security", HSTS))


def security_headers(https: bool) -> tuple[tuple[str, str], ...]:
    """The standard headers of every answer, for a WSGI app that builds its own."""
    return _HTTPS_HEADERS if https else _HTTP_HEADERS


def add_security_headers(response: Response) -> Response:
    """`after_request`: the standard headers; HSTS only on https, which is when browsers honour it.

    Behind a proxy listed in FORWARDED_ALLOW_IPS, gunicorn takes the scheme from its
    X-Forwarded-Proto. Nothing is cacheable (operators' data, readiness, acks) unless a view
    says otherwise.
    """
    response.headers.update(SECURITY_HEADERS)
    response.headers.setdefault("Cache-Control", "no-store")
    if request.is_secure:
        response.headers["Strict-Transport-Security"] = HSTS
    return response


class GuardedInput:
    """The request body as views read it: a broken body is a 400, an over-long one a 413.

    A server's body reader fails on a malformed chunked encoding or a dropped connection, with
    its own errors (gunicorn's are not even OSErrors): the client's fault, so a 400, not a 500.
    werkzeug stops reading a streamed (chunked) body at MAX_CONTENT_LENGTH without telling
    whether more followed: with `limit`, this looks one byte further once a reader has taken
    exactly `limit` bytes. A reader that asks for more itself (the ingest route) gets the bytes
    and judges them. No `readinto`: werkzeug would call that instead of `read`.
    """

    def __init__(self, stream: IO[bytes], limit: int | None) -> None:
        self._stream = stream
        self._limit = limit
        self._taken = 0

    def read(self, size: int = -1) -> bytes:
        try:
            data = self._stream.read(size)
            self._taken += len(data)
            longer = self._taken == self._limit and bool(self._stream.read(1))
        except Exception as error:  # any server's reader: whatever it raises, the body is lost
            raise ClientDisconnected(
                "the request body could not be read (a malformed chunked encoding or a dropped "
                "connection)"
            ) from error
        if longer:
            raise RequestEntityTooLarge(f"the body is larger than {self._limit} bytes")
        return data


def guard_body() -> None:
    """`before_request`: read the body through GuardedInput (nothing is read here).

    The body is read, after authentication, by the view that wants it. Only a streamed body
    needs the limit: werkzeug (and the ingest route) refuse a long Content-Length as it is.
    """
    environ = request.environ
    if "wsgi.input" in environ:
        streamed = request.content_length is None and environ.get("wsgi.input_terminated")
        limit = current_app.config["MAX_CONTENT_LENGTH"] if streamed else None
        environ["wsgi.input"] = GuardedInput(environ["wsgi.input"], limit)


class AuthRateLimitedError(ServiceError):
    """Raised for every /api request from an address that failed authentication too often."""

    status, title, slug = 429, "Too many failed authentications", "auth-rate-limited"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            "too many requests with wrong credentials came from this address; every /api "
            f"request from it is refused for {retry_after} s more",
            {"Retry-After": str(retry_after)},
        )


def client_bucket(address: str | None) -> str:
    """The limiter's name for a client: its IPv4 address, its IPv6 /64, or `unknown`.

    An IPv6 host usually holds a whole /64 and could rotate through it. The result is short
    and of a fixed alphabet, so it is safe inside a Redis key.
    """
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return "unknown"  # e.g. a Unix-socket peer: only a local proxy can be one
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


@dataclass(frozen=True)
class AuthFailureLimiter:
    """Counts wrong /api credentials per client in Redis (shared by all workers) and blocks.

    Fails open: when Redis cannot answer, requests are judged by their token alone (routes that
    need Redis answer 503 then anyway).
    """

    store: Store
    limit: int  # 0 turns the limiter off
    window_seconds: int

    def check(self, client: str) -> None:
        """Raise AuthRateLimitedError while `client` has `limit` failures in its window."""
        if self.limit <= 0:
            return
        try:
            failures, seconds_left = self.store.auth_failures(client)
        except StorageError:
            logger.warning("failed-auth limit not checked: storage unavailable")
            return
        if failures >= self.limit:
            raise AuthRateLimitedError(max(seconds_left, 1))

    def record_failure(self, client: str) -> None:
        """Count one wrong credential from `client`; log once when it reaches the limit."""
        if self.limit <= 0:
            return
        try:
            failures = self.store.count_auth_failure(client, self.window_seconds)
        except StorageError:
            logger.warning("failed authentication not counted: storage unavailable")
            return
        if failures == self.limit:
            logger.warning(
                "failed-auth limit reached: /api refuses this client until its window ends",
                extra={"client": client, "window_seconds": self.window_seconds},
            )


def auth_limiter() -> AuthFailureLimiter:
    """The app's limiter (set by init_app)."""
    limiter: AuthFailureLimiter = current_app.extensions[LIMITER_EXTENSION]
    return limiter


def init_app(app: Flask) -> None:
    """Register the security headers and the failed-auth limiter (needs the app's store)."""
    settings = app.config["SETTINGS"]
    app.extensions[LIMITER_EXTENSION] = AuthFailureLimiter(
        app.extensions["livepeer.store"],
        settings.auth_failure_limit,
        settings.auth_failure_window_seconds,
    )
    app.before_request(guard_body)
    app.after_request(add_security_headers)
