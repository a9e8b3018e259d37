"""The URL rules every part shares: matching PUBLIC_URL (DESIGN.md, under the verdict table)
and showing a URL without what may be a credential."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webhook_service.urls import UNPARSEABLE, normalise_url, redact_url, same_url

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
