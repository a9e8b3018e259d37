"""Which hosts a probe may contact: the configured API and CDN, and allowed host suffixes."""

from __future__ import annotations

import re
from collections.abc import Iterable

from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

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


class AllowList:
    """Exact bases (host and port) and host suffixes a probe may contact; nothing else."""

    def __init__(self, bases: Iterable[str], suffixes: Iterable[str] = ()) -> None:
        # Exact bases match host and port: on 127.0.0.1 (tests, sidecars) another port is
        # another service entirely.
        self._exact = {(o[1], o[2]) for o in map(origin, bases) if o is not None}
        self._suffixes = tuple(s.strip().strip(".").lower() for s in suffixes if s.strip(" ."))

    def __repr__(self) -> str:
        return f"AllowList(suffixes={self._suffixes!r})"

    def allows(self, url: str) -> bool:
        """Whether a probe may contact this URL's host."""
        found = origin(url)
        if found is None:
            return False
        _, host, port = found
        if (host, port) in self._exact:
            return True
        return any(host == s or host.endswith("." + s) for s in self._suffixes)
