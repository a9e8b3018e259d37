"""Where a probe may connect: the configured API and CDN bases as configured, and hosts under an
allowed suffix on that entry's port, at an address checked to be global when connecting.

A host under a suffix is resolved once, here; every address it resolves to must be global, and
the connection goes to the checked address (the name kept for the Host header, TLS SNI and the
certificate check), so DNS cannot answer differently between the check and the connection.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import urllib3
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url
from urllib3.util.connection import allowed_gai_family

from webhook_service.urls import non_global_kind, split_host_port

DEFAULT_PORTS = {"http": 80, "https": 443}
HOST = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)*|\[[0-9a-f:.]+\]")  # DNS names and IP literals


def origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an http(s) URL, host lower-case without a trailing dot.

    Parsed by urllib3, the parser that decides where the request goes: `urllib.parse` reads
    `http://evil.example\\@livepeer.studio/` as livepeer.studio, urllib3 connects to evil.example.
    """
    try:
        u = parse_url(url)
    except LocationParseError:
        return None
    scheme = (u.scheme or "").lower()
    host = (u.host or "").lower().rstrip(".")
    if scheme not in DEFAULT_PORTS or not HOST.fullmatch(host):
        return None
    return scheme, host, u.port or DEFAULT_PORTS[scheme]


@dataclass(frozen=True)
class Target:
    """An allowed destination; `trusted`: a configured base, contacted as configured."""

    scheme: str
    host: str
    port: int
    trusted: bool

    @property
    def netloc(self) -> str:
        """The Host header's value: the name, and the port unless it is the scheme's default."""
        default = DEFAULT_PORTS[self.scheme] == self.port
        return self.host if default else f"{self.host}:{self.port}"


class AddressError(Exception):
    """Raised when a host under a suffix may not be connected to; the message says why."""


class AllowList:
    """Exact bases (host and port) and host suffixes (each with its port) a probe may contact."""

    def __init__(self, bases: Iterable[str], suffixes: Iterable[str] = ()) -> None:
        # Exact bases match host and port: on 127.0.0.1 (tests, sidecars) another port is
        # another service entirely.
        self._exact = {(o[1], o[2]) for o in map(origin, bases) if o is not None}
        # A suffix without a port means 443: the CDN's nodes serve https only, and any other
        # port of a host under the suffix may be another service.
        pairs = (split_host_port(s) for s in suffixes if s.strip(" ."))
        self._suffixes = tuple((host, port or 443) for host, port in pairs)

    def __repr__(self) -> str:
        return f"AllowList(suffixes={self._suffixes!r})"

    def allows(self, url: str) -> bool:
        """Whether a probe may contact this URL's host and port (its address is checked later)."""
        return self.target(url) is not None

    def target(self, url: str) -> Target | None:
        """Where this URL sends a probe, or None when it is not allowed."""
        found = origin(url)
        if found is None:
            return None
        scheme, host, port = found
        if (host, port) in self._exact:
            return Target(scheme, host, port, trusted=True)
        for suffix, allowed_port in self._suffixes:
            if port == allowed_port and (host == suffix or host.endswith("." + suffix)):
                return Target(scheme, host, port, trusted=False)
        return None


def checked_address(host: str, port: int) -> str:
    """The address to connect to for `host`: looked up once, and every address it resolves to
    must be global (a name that also resolves to a private address is refused whole).

    Raises AddressError with the reason.
    """
    try:
        infos = socket.getaddrinfo(host, port, allowed_gai_family(), socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise AddressError("DNS lookup failed") from None
    addresses = [str(info[4][0]) for info in infos]
    for address in addresses:
        kind = non_global_kind(address)
        if kind is not None:
            raise AddressError(
                f"address not allowed: {host} resolves to {address}, a {kind} address"
            )
    if not addresses:
        raise AddressError("DNS lookup failed")
    return addresses[0]


def connection_to(
    manager: urllib3.PoolManager, target: Target
) -> tuple[HTTPConnectionPool, Mapping[str, str]]:
    """The pool a request to `target` goes through, and the headers it must add.

    A configured base is contacted as configured. A host under a suffix is contacted at its
    checked address, with its name as the Host header and, over TLS, as SNI and the name the
    certificate is verified for (the standard library's check, as for any https request).
    Raises AddressError when the host may not be contacted.
    """
    if target.trusted:
        return manager.connection_from_host(target.host, target.port, target.scheme), {}
    address = checked_address(target.host, target.port)
    literal = f"[{address}]" if ":" in address else address
    tls: dict[str, Any] = {"server_hostname": target.host} if target.scheme == "https" else {}
    pool = manager.connection_from_host(literal, target.port, target.scheme, pool_kwargs=tls)
    return pool, {"Host": target.netloc}
