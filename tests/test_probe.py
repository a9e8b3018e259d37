"""Prober against real local servers: redirects, the host allowlist, deadlines, bounded bodies."""

from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from fake_http import HitCounter
from helpers import make_settings

from webhook_service.livepeer.probe import Prober


@pytest.fixture
def prober(fake):
    probe = Prober((fake.url, fake.cdn_url), call_timeout=0.5)
    yield probe
    probe.close()


def soon(seconds: float = 5.0) -> float:
    return time.monotonic() + seconds


def live_playback_id(fake) -> str:
    return fake.add_stream(isActive=True)["playbackId"]


def test_follows_the_cdn_redirect_to_a_playlist(fake, prober):
    """The CDN's 307 to a regional node is followed and the playlist read."""
    playback_id = live_playback_id(fake)
    result = prober.fetch(fake.hls_url(playback_id), deadline=soon())
    assert result.error is None
    assert result.status == 200
    assert result.redirects == 1
    assert result.url == f"{fake.cdn_url}/region/hls/{playback_id}/index.m3u8"
    assert result.body.startswith("#EXTM3U")
    assert result.content_type == "application/vnd.apple.mpegurl"


def test_query_string_is_removed_from_the_result_url(fake, prober):
    """A token in the query reaches the server but never the result."""
    playback_id = live_playback_id(fake)
    result = prober.fetch(fake.hls_url(playback_id) + "?jwt=secret-token", deadline=soon())
    assert result.status == 200
    assert "secret-token" not in result.url
    assert any("jwt=secret-token" in r.path for r in fake.requests if "/region/" in r.path)


def test_three_redirects_are_followed(fake, prober):
    """Exactly MAX_REDIRECTS hops still reach the answer."""
    playback_id = live_playback_id(fake)
    fake.redirect("/a1", f"{fake.cdn_url}/a2")
    fake.redirect("/a2", "/a3")  # relative Location
    fake.redirect("/a3", f"{fake.cdn_url}/region/hls/{playback_id}/index.m3u8")
    result = prober.fetch(f"{fake.cdn_url}/a1", deadline=soon())
    assert (result.status, result.redirects, result.error) == (200, 3, None)


def test_more_than_three_redirects_are_refused(fake, prober):
    """A fourth redirect is not followed."""
    fake.redirect("/loop", f"{fake.cdn_url}/loop")
    result = prober.fetch(f"{fake.cdn_url}/loop", deadline=soon())
    assert result.error == "too many redirects (more than 3)"
    assert result.status is None
    assert fake.hits("/loop") == 4


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_redirect_to_a_disallowed_host_is_not_contacted(fake, prober, host):
    """A redirect off the allowlist ends the probe before any request to that host."""
    with HitCounter() as counter:
        port = counter.url.rsplit(":", 1)[1]
        fake.redirect("/hls/", f"http://{host}:{port}/steal?token=x")
        result = prober.fetch(fake.hls_url("abc"), deadline=soon())
        assert result.error == f"redirect to a disallowed host: {host}"
        assert result.url == fake.hls_url("abc")
        assert counter.hits == 0


def test_redirect_check_uses_the_parser_that_connects(fake, prober):
    """A Location that urllib.parse and urllib3 read differently cannot sneak past the check."""
    cdn_netloc = fake.cdn_url.split("//", 1)[1]
    with HitCounter() as counter:
        counter_netloc = counter.url.split("//", 1)[1]
        fake.redirect("/hls/", f"http://{counter_netloc}\\@{cdn_netloc}/hls/x/index.m3u8")
        result = prober.fetch(fake.hls_url("abc"), deadline=soon())
        assert result.error == "redirect to a disallowed host: 127.0.0.1"
        assert counter.hits == 0


def test_disallowed_host_is_not_contacted(prober):
    """A URL outside the allowlist is refused without a request."""
    with HitCounter() as counter:
        result = prober.fetch(f"{counter.url}/x", deadline=soon())
        assert result.error == "host not allowed: 127.0.0.1"
        assert counter.hits == 0


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://livepeer.studio/api/stream/x", True),
        ("https://livepeercdn.studio/hls/x/index.m3u8", True),
        ("https://fra-prod-catalyst-1.lp-playback.studio/hls/x/index.m3u8", True),
        ("https://LIVEPEERCDN.STUDIO./hls", True),
        ("https://evil-livepeercdn.studio/", False),
        ("https://livepeercdn.studio.evil.example/", False),
        ("ftp://livepeercdn.studio/", False),
        ("http://127.0.0.1:9/", False),
        ("http://[::1/", False),
        ("http://evil.example\\@livepeercdn.studio/", False),
        ("http://evil.example;.livepeercdn.studio/", False),
        ("http://livepeercdn.studio@evil.example/", False),
        ("not a url", False),
    ],
)
def test_allowlist_is_exact_bases_plus_suffixes(url, allowed):
    """PROBE_ALLOWED_HOSTS entries match the host itself or its subdomains only."""
    prober = Prober.from_settings(make_settings(None))
    assert prober.is_allowed(url) is allowed


def test_configured_api_base_is_allowed_by_host_and_port(fake):
    """A local API base allows its own port, not its neighbours."""
    prober = Prober.from_settings(make_settings(None, livepeer_api_url=fake.url))
    assert prober.is_allowed(f"{fake.url}/stream/x")
    assert not prober.is_allowed(f"{fake.cdn_url}/hls/x/index.m3u8")


def test_hang_times_out_within_the_default_call_timeout(fake):
    """A server that never answers costs at most the 3 s per-call timeout."""
    prober = Prober((fake.cdn_url,))
    fake.hang("/hls/", 10)
    started = time.monotonic()
    result = prober.fetch(fake.hls_url("abc"), deadline=soon(30))
    assert result.error == "timeout"
    assert 2.9 <= time.monotonic() - started < 3.5


def test_deadline_caps_the_call_timeout(fake):
    """A call never outlives the caller's deadline, however long the call timeout."""
    prober = Prober((fake.cdn_url,), call_timeout=3.0)
    fake.hang("/hls/", 10)
    started = time.monotonic()
    result = prober.fetch(fake.hls_url("abc"), deadline=soon(0.3))
    assert result.error == "timeout"
    assert time.monotonic() - started < 0.8


def test_deadline_is_shared_across_calls(fake, prober):
    """Successive calls spend one budget; once spent, nothing more is sent."""
    fake.hang("/hls/", 10)
    deadline = soon(1.2)
    started = time.monotonic()
    errors = [prober.fetch(fake.hls_url("abc"), deadline=deadline).error for _ in range(4)]
    assert errors == ["timeout", "timeout", "timeout", "deadline exceeded"]
    assert time.monotonic() - started < 1.6
    assert fake.hits("/hls/") == 3


def test_past_deadline_makes_no_request(fake, prober):
    """A call after the deadline answers at once without connecting."""
    result = prober.fetch(fake.hls_url("abc"), deadline=time.monotonic() - 1)
    assert result.error == "deadline exceeded"
    assert fake.hits("/") == 0


def test_body_read_is_bounded(fake, prober):
    """Only max_bytes of a large body are read, and the response says it was cut."""
    fake.fail("/big", 200, "x" * 200_000, content_type="text/plain")
    response = prober.request("GET", f"{fake.cdn_url}/big", deadline=soon(), max_bytes=1000)
    assert response.truncated
    assert response.result.body == "x" * 1000
    assert prober.fetch(f"{fake.cdn_url}/big", deadline=soon()).body == "x" * 65536


def test_invalid_utf8_is_decoded_with_replacement(fake, prober):
    """Undecodable bytes become U+FFFD instead of an exception."""
    fake.fail("/bin", 200, b"\xff\xfe#EXTM3U", content_type="text/plain")
    result = prober.fetch(f"{fake.cdn_url}/bin", deadline=soon())
    assert result.body == "\ufffd\ufffd#EXTM3U"


def test_error_status_is_a_result_not_an_error(fake, prober):
    """A 403 HTML page comes back as status and body for the checks to judge."""
    playback_id = live_playback_id(fake)
    fake.set_cdn(playback_id, "html403")
    result = prober.fetch(fake.hls_url(playback_id), deadline=soon())
    assert (result.status, result.error) == (403, None)
    assert result.body.startswith("<!DOCTYPE html>")


def test_connection_refused_is_an_error_string():
    """A dead port gives "connection refused", not an exception."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    prober = Prober((f"http://127.0.0.1:{port}",))
    result = prober.fetch(f"http://127.0.0.1:{port}/x?key=1", deadline=soon())
    assert result.error == "connection refused"
    assert result.url == f"http://127.0.0.1:{port}/x"


def test_authorization_is_dropped_when_a_redirect_leaves_the_origin(fake):
    """Credentials for the API never reach another host, even an allowed one."""
    prober = Prober((fake.url, fake.cdn_url), call_timeout=0.5)
    fake.redirect("/stream/", f"{fake.cdn_url}/landing")
    headers = {"Authorization": "Bearer api-key", "Livepeer-Jwt": "viewer-token"}
    prober.fetch(f"{fake.url}/stream/x", headers=headers, deadline=soon())
    landed = [r for r in fake.requests if r.server == "cdn"]
    assert len(landed) == 1
    assert "authorization" not in landed[0].headers
    assert landed[0].headers["livepeer-jwt"] == "viewer-token"


def test_post_after_303_becomes_get(fake, prober):
    """A 303 answer to a POST is fetched with GET and no body, as browsers do."""
    fake.redirect("/form", f"{fake.cdn_url}/after", status=303)
    prober.request("POST", f"{fake.cdn_url}/form", body=b"{}", deadline=soon())
    assert [(r.method, r.path) for r in fake.requests] == [("POST", "/form"), ("GET", "/after")]


@pytest.mark.parametrize(
    ("mode", "status", "start"),
    [
        ("live", 200, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-STREAM-INF:BANDWIDTH="),
        ("empty", 200, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-STREAM-INF:BANDWIDTH="),
        ("offline", 200, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-ERROR: Stream open failed"),
        ("denied", 200, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-ERROR: access control denied"),
        ("html403", 403, "<!DOCTYPE html>"),
        ("html200", 200, "<!DOCTYPE html>"),
        ("404", 404, "Stream not found"),
    ],
)
def test_fake_cdn_modes(fake, prober, mode, status, start):
    """Each CDN mode of the fake answers the master playlist as documented."""
    fake.set_cdn("pb1", mode)
    result = prober.fetch(fake.hls_url("pb1"), deadline=soon())
    assert (result.status, result.redirects) == (status, 1)
    assert result.body.startswith(start)


@pytest.mark.parametrize(("mode", "segments"), [("live", 3), ("empty", 0)])
def test_fake_cdn_renditions_are_valid_hls(fake, prober, mode, segments):
    """The fake's master and rendition playlists parse as HLS, with or without segments."""
    m3u8 = pytest.importorskip("m3u8")
    fake.set_cdn("pb1", mode)
    master = m3u8.loads(prober.fetch(fake.hls_url("pb1"), deadline=soon()).body)
    assert master.is_variant
    assert master.playlists[0].stream_info.resolution == (1280, 720)
    url = f"{fake.cdn_url}/region/hls/pb1/{master.playlists[0].uri}"
    media = m3u8.loads(prober.fetch(url, deadline=soon()).body)
    assert (media.target_duration, len(media.segments)) == (2, segments)


def test_fake_cdn_hang_mode_times_out(fake, prober):
    """The "hang" mode holds the regional answer past the call timeout."""
    fake.set_cdn("pb1", "hang")
    assert prober.fetch(fake.hls_url("pb1"), deadline=soon()).error == "timeout"


def test_prober_is_shared_across_threads(fake, prober):
    """Concurrent probes through one Prober all succeed."""
    playback_id = live_playback_id(fake)
    with ThreadPoolExecutor(8) as pool:
        results = list(
            pool.map(lambda _: prober.fetch(fake.hls_url(playback_id), deadline=soon()), range(32))
        )
    assert {r.status for r in results} == {200}
