"""Security headers, and the failed-authentication limit of /api/*.

The threats each measure answers, and the tests that prove it, are in SECURITY.md.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass

from webhook_service.http.errors import AuthRateLimitedError
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
# Nothing is cacheable (operators' data, readiness, acks) unless a view says otherwise.
DEFAULT_CACHE_CONTROL = ("Cache-Control", "no-store")
_HTTP_HEADERS = tuple(SECURITY_HEADERS.items())
_HTTPS_HEADERS = (*_HTTP_HEADERS, ("Strict-Transport-Security", HSTS))


def security_headers(https: bool) -> tuple[tuple[str, str], ...]:
    """The headers every answer carries; HSTS only on https, which is when browsers honour it.

    Behind a proxy listed in FORWARDED_ALLOW_IPS, gunicorn takes the scheme from its
    X-Forwarded-Proto.
    """
    return _HTTPS_HEADERS if https else _HTTP_HEADERS


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
