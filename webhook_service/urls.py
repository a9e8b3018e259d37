"""URL rules every part shares (pure): when two URLs name our webhook, how a URL is shown, how a
value becomes one path segment, and which addresses are not public."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from urllib.parse import SplitResult, quote, urlsplit, urlunsplit

UNPARSEABLE = "<unparseable>"
DEFAULT_PORTS = {"http": 80, "https": 443}
# Hostnames Livepeer treats as local without resolving them (cannon.ts checkIsLocalIp).
LOCAL_HOSTNAMES = frozenset({"localhost", "ip6-localhost", "ip6-loopback"})
_HOST_NAME = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)*")


def _split(url: object) -> SplitResult | None:
    """`url` split into its parts, or None when it is not a parseable URL string."""
    if not isinstance(url, str):
        return None
    try:
        parts = urlsplit(url.strip())
        _ = parts.port  # urlsplit validates the port only when it is read
    except ValueError:
        return None
    return parts


def _host_port(parts: SplitResult, *, drop_default_port: bool = False) -> str:
    """The lower-case host (IPv6 in brackets) and the port when one is given."""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is None or (drop_default_port and DEFAULT_PORTS.get(parts.scheme.lower()) == port):
        return host
    return f"{host}:{port}"


def normalise_url(url: object) -> str | None:
    """The form in which URLs are compared with PUBLIC_URL, or None when `url` does not parse.

    DESIGN.md (under the verdict table): scheme and host lower-cased, a default port, a
    trailing slash, a fragment and userinfo dropped; the query is kept.
    """
    parts = _split(url)
    if parts is None or not parts.scheme or not parts.hostname:
        return None
    netloc = _host_port(parts, drop_default_port=True)
    path = parts.path[:-1] if parts.path.endswith("/") else parts.path
    return urlunsplit((parts.scheme.lower(), netloc, path, parts.query, ""))


def same_url(a: object, b: object, *, any_scheme: bool = False) -> bool:
    """Whether two URLs name the same endpoint by `normalise_url`; unparseable never matches.

    With `any_scheme`, `http` and `https` count as the same (our webhook registered as plain
    http is still ours: DESIGN.md, under the verdict table).
    """
    left, right = normalise_url(a), normalise_url(b)
    if left is None or right is None:
        return False
    if any_scheme:
        return left.partition("://")[2] == right.partition("://")[2]
    return left == right


def redact_url(url: object, *, keep_path: bool = True, limit: int = 512) -> str:
    """`url` as a log line or evidence may show it: scheme, host, port and (optionally) path.

    Userinfo, query and fragment go: each may carry a credential (a password, `?jwt=`,
    `?accessKey=`). Drop the path too where it may hold a key (an RTMP URL ends in one). A
    relative reference keeps its path only.
    """
    parts = _split(url)
    if parts is None:
        return UNPARSEABLE
    path = parts.path if keep_path else ""
    if not parts.scheme and not parts.netloc:
        return path[:limit]
    return urlunsplit((parts.scheme.lower(), _host_port(parts), path, "", ""))[:limit]


def why_not_public(url: str, addresses: Sequence[str] | None) -> str | None:
    """Why Livepeer would skip PUBLIC_URL (a local host, a non-public address), or None.

    `addresses` are what its host resolves to; Livepeer resolves it too (cannon.ts).
    """
    try:
        host = urlsplit(url).hostname
    except (ValueError, TypeError, AttributeError):
        host = None
    if not host:
        return "PUBLIC_URL has no host: it must look like https://host/webhooks/livepeer"
    host = host.rstrip(".")
    if host in LOCAL_HOSTNAMES or host.endswith(".localhost"):
        return f"the host {host!r} is local to this machine"
    candidates = [host] if address_kind(host) != "invalid" else []
    candidates += [a for a in (addresses or ()) if isinstance(a, str)]
    for address in candidates[:32]:
        kind = address_kind(address)
        if kind not in (None, "invalid"):
            return f"{host!r} resolves to {address}, a {kind} address"
    return None


def path_segment(value: str) -> str:
    """`value` as exactly one URL path segment, for any id that goes into an outbound URL.

    Everything but letters, digits and `-_~` is percent-encoded: `/`, `?`, `#` and `%` could
    end the segment or the path, and dots are encoded too, as urllib3 resolves `.` and `..`
    segments (`../../admin?x=` would otherwise climb out of `/hls/`).
    """
    return quote(value, safe="", errors="surrogatepass").replace(".", "%2E")


def split_host_port(entry: str) -> tuple[str, int | None]:
    """A `PROBE_ALLOWED_HOSTS` entry, `host` or `host:port`, as (host, port or None).

    The host is lower-cased without leading or trailing dots; a scheme, a path, an IPv6
    literal or a port outside 1-65535 raises ValueError (ending the sentence "... must be").
    """
    host, colon, port = entry.strip().lower().partition(":")
    host = host.strip(".")
    good_port = not colon or (port.isascii() and port.isdigit() and 0 < int(port) < 65536)
    if not _HOST_NAME.fullmatch(host) or not good_port:
        raise ValueError(f"must be host names, each optionally with :port, got {entry!r}")
    return host, int(port) if colon else None


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address `text` names (an IPv4-mapped IPv6 one as IPv4), None if it is none."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # ::ffff:127.0.0.1 is loopback too
    return address


def non_global_kind(text: str) -> str | None:
    """Why a probe must not connect to the address `text`, None for a global unicast one.

    The kinds of `address_kind`, or "non-global" for any other address not globally reachable
    (shared 100.64.0.0/10 and the like); a 6to4 address is judged by the IPv4 address
    it carries.
    """
    address = _ip(text)
    if address is None:
        return "invalid"
    kind = _kind(address)
    if kind is not None:
        return kind
    if isinstance(address, ipaddress.IPv6Address) and address.sixtofour is not None:
        return non_global_kind(str(address.sixtofour))
    return None if address.is_global else "non-global"


def address_kind(text: str) -> str | None:
    """The kind of non-public address `text` is, None for a public one, "invalid" if no IP."""
    address = _ip(text)
    return "invalid" if address is None else _kind(address)


# Loopback, link-local and unspecified are also "private": the precise kinds are named first.
_KINDS = ("loopback", "link-local", "unspecified", "private", "reserved", "multicast")


def _kind(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """The first of _KINDS `address` is (`is_loopback`, `is_link_local`, ...), or None."""
    return next((k for k in _KINDS if getattr(address, "is_" + k.replace("-", "_"))), None)
