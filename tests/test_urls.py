"""The URL rules every part shares: matching PUBLIC_URL (DESIGN.md, under the verdict table)
and showing a URL without what may be a credential."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webhook_service.urls import (
    UNPARSEABLE,
    non_global_kind,
    normalise_url,
    path_segment,
    redact_url,
    same_url,
    split_host_port,
)

URL = "https://hooks.example.com/webhooks/livepeer"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://Hooks.Example.COM/webhooks/livepeer/", URL),
        (URL, URL),
        ("https://hooks.example.com:443/webhooks/livepeer", URL),
        ("https://user:pw@hooks.example.com/webhooks/livepeer", URL),
        ("https://hooks.example.com/webhooks/livepeer#frag", URL),
        ("https://hooks.example.com", "https://hooks.example.com"),
        ("https://hooks.example.com/", "https://hooks.example.com"),
        ("http://hooks.example.com:80/x", "http://hooks.example.com/x"),
        ("http://hooks.example.com:8080/x", "http://hooks.example.com:8080/x"),
        ("https://h.example/Path/", "https://h.example/Path"),
        ("https://h.example/x//", "https://h.example/x/"),
        ("https://h.example/x/?a=B", "https://h.example/x?a=B"),
        ("https://[::1]:8443/x", "https://[::1]:8443/x"),
    ],
)
def test_normalise_url(url, expected):
    """Scheme and host lower-cased; default port, one trailing slash, fragment and userinfo
    dropped; the path's case and the query kept."""
    assert normalise_url(url) == expected


@pytest.mark.parametrize("url", ["", "not a url", "http://[::1", "https://h:99999/", "/relative"])
def test_unparseable_urls_match_nothing(url):
    """A URL that does not parse (or has no scheme and host) normalises to None: never ours."""
    assert normalise_url(url) is None
    assert not same_url(url, url)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (URL, URL + "/", True),
        (URL, "HTTPS://HOOKS.example.com:443" + "/webhooks/livepeer", True),
        (URL, URL + "?x=1", False),
        (URL, URL.replace("https", "http"), False),
        (URL, URL.replace("livepeer", "Livepeer"), False),
    ],
)
def test_same_url(a, b, same):
    """Two URLs name our webhook when their normal forms are equal."""
    assert same_url(a, b) is same and same_url(b, a) is same


@pytest.mark.parametrize(
    ("url", "keep_path", "shown"),
    [
        ("https://u:pw@Host.example:8443/p/q?jwt=t0k#f", True, "https://host.example:8443/p/q"),
        ("https://u:pw@Host.example:8443/p/q?jwt=t0k#f", False, "https://host.example:8443"),
        ("rtmp://ingest.example/live/KEY", False, "rtmp://ingest.example"),
        ("seg-1.ts?token=t0k", True, "seg-1.ts"),
        ("http://[::1", True, UNPARSEABLE),
    ],
)
def test_redact_url(url, keep_path, shown):
    """Userinfo, query and fragment never show; the path only when asked for."""
    assert redact_url(url, keep_path=keep_path) == shown


@given(st.text(max_size=200))
def test_any_text_is_handled_without_raising(text):
    """Whatever an API answer or a delivery holds, the rules answer and never raise."""
    assert normalise_url(text) is None or isinstance(normalise_url(text), str)
    shown = redact_url(text)
    assert isinstance(shown, str) and "?" not in shown and "#" not in shown


@pytest.mark.parametrize(
    ("value", "segment"),
    [
        ("pb-123_abc", "pb-123_abc"),
        ("../../admin?x=", "%2E%2E%2F%2E%2E%2Fadmin%3Fx%3D"),
        (".", "%2E"),
        ("..", "%2E%2E"),
        ("a/b?c#d e", "a%2Fb%3Fc%23d%20e"),
        ("%2e%2E", "%252e%252E"),
        ("x\r\ny", "x%0D%0Ay"),
        ("ü", "%C3%BC"),
    ],
)
def test_path_segment(value, segment):
    """Everything that could end, climb or leave a path segment is percent-encoded, dots too
    (urllib3 resolves `.` and `..` segments); plain ids are unchanged."""
    assert path_segment(value) == segment


@given(st.text(max_size=50))
def test_a_path_segment_is_always_one_segment(value):
    """Whatever a delivery holds, its segment has no `/`, `?`, `#`, dot or control character."""
    segment = path_segment(value)
    assert not set(segment) & set("/?#.\\ \r\n\t")
    assert segment.isascii() and segment.isprintable()


@pytest.mark.parametrize(
    ("entry", "parsed"),
    [
        ("livepeer.studio", ("livepeer.studio", None)),
        ("LivePeer.Studio.", ("livepeer.studio", None)),
        ("cdn.example:8443", ("cdn.example", 8443)),
        ("localhost:1", ("localhost", 1)),
    ],
)
def test_split_host_port(entry, parsed):
    """An allow-list entry is a lower-case name without its trailing dot, and maybe a port."""
    assert split_host_port(entry) == parsed


@pytest.mark.parametrize(
    "entry",
    ["", "https://x.example", "x.example/", "x.example:0", "x.example:65536", "x:y", "[::1]"],
)
def test_split_host_port_refuses_anything_else(entry):
    """Schemes, paths, bad ports and IPv6 literals are not allow-list entries."""
    with pytest.raises(ValueError, match="host"):
        split_host_port(entry)


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("8.8.8.8", None),
        ("2606:4700::1111", None),
        ("127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("169.254.169.254", "link-local"),
        ("100.64.0.1", "non-global"),
        ("192.0.2.1", "private"),
        ("233.252.0.1", "multicast"),
        ("2002:a9fe:a9fe::1", "link-local"),  # 6to4 of 169.254.169.254
        ("not an address", "invalid"),
    ],
)
def test_non_global_kind(address, kind):
    """Why a probe must not connect to an address; None only for a global unicast one."""
    assert non_global_kind(address) == kind
