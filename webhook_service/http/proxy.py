"""Take the client address from X-Forwarded-For only when the peer is a trusted proxy."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def parse_trusted(spec: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network] | None:
    """Parse FORWARDED_ALLOW_IPS (IPs or CIDRs, comma-separated); None means '*' (trust all)."""
    parts = [p.strip() for p in spec.split(",") if p.strip()]
    if "*" in parts:
        return None
    return [ipaddress.ip_network(p, strict=False) for p in parts]


def client_address(peer: str, forwarded_for: str | None, trusted: list[Any] | None) -> str:
    """The client's address: the last X-Forwarded-For hop when the peer is trusted, else the peer.

    The last hop is the one the trusted proxy appended; earlier hops are whatever the client
    claimed and prove nothing.
    """
    if not forwarded_for:
        return peer
    try:
        peer_ip = ipaddress.ip_address(peer)
    except ValueError:
        peer_ip = None  # a Unix socket peer: only a local proxy can reach it
    if trusted is not None and peer_ip is not None and not any(peer_ip in n for n in trusted):
        return peer
    hop = forwarded_for.split(",")[-1].strip()
    try:
        return str(ipaddress.ip_address(hop))
    except ValueError:
        return peer


class ForwardedFor:
    """WSGI middleware that sets REMOTE_ADDR to client_address(...) and keeps the peer."""

    def __init__(self, app: WSGIApp, trusted_spec: str) -> None:
        self.app = app
        self.trusted = parse_trusted(trusted_spec)

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        peer = environ.get("REMOTE_ADDR", "")
        environ["livepeer.peer_addr"] = peer
        environ["REMOTE_ADDR"] = client_address(
            peer, environ.get("HTTP_X_FORWARDED_FOR"), self.trusted
        )
        return self.app(environ, start_response)
