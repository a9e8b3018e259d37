"""The hls check: every code, the decision order, skipped rows and hostile playlists."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webhook_service.diagnostics.facts import HlsFacts
from webhook_service.diagnostics.hls import diagnose_hls
from webhook_service.livepeer.facts import HttpResult

NOW_MS = 1_764_086_400_000
URL = "https://fra-prod-catalyst-0.lp-playback.studio/hls/video+pb1/index.m3u8"
RENDITION_URL = "https://fra-prod-catalyst-0.lp-playback.studio/hls/video+pb1/0_1/index.m3u8"
MASTER = (
    "#EXTM3U\r\n#EXT-X-VERSION:3\r\n"
    '#EXT-X-STREAM-INF:BANDWIDTH=2000000,RESOLUTION=1280x720,CODECS="avc1.64001f,mp4a.40.2"\r\n'
    "0_1/index.m3u8\r\n"
    "#EXT-X-STREAM-INF:BANDWIDTH=600000,RESOLUTION=640x360\r\n1_1/index.m3u8\r\n"
)
MEDIA = (
    "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n"
    "#EXTINF:2.000,\n0.ts\n#EXTINF:2.000,\n1.ts\n#EXTINF:2.000,\n2.ts\n"
)
EMPTY = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n"
OFFLINE = "#EXTM3U\r\n#EXT-X-ERROR: Stream open failed\r\n"
HTML = "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n<body></body></html>"


def ok(body, url=URL, status=200):
    return HttpResult(url=url, status=status, body=body, content_type="application/x-mpegurl")


def facts(master=None, rendition=None, **overrides):
    base = {
        "stream_id": "st1",
        "now_ms": NOW_MS,
        "first_segment_seconds": 10,
        "live": True,
        "live_source": "api",
        "live_since_ms": NOW_MS - 60_000,
        "playback_id": "pb1",
        "master": master,
        "rendition": rendition,
    }
    base.update(overrides)
    return HlsFacts(**base)


def via_master(rendition_body, status=200, **overrides):
    return facts(ok(MASTER), ok(rendition_body, RENDITION_URL, status), **overrides)


TIMEOUT = HttpResult(url=URL, error="timeout")
CASES = [
    ("idle beats a 404", facts(ok("not found", status=404), live=False), "stream_idle"),
    ("idle beats segments", facts(ok(MEDIA), live=False), "stream_idle"),
    ("idle beats unreachable", facts(TIMEOUT, live=False), "stream_idle"),
    ("idle without a probe", facts(None, live=False, playback_id=None), "stream_idle"),
    ("404", facts(ok("", status=404)), "not_found"),
    ("404 beats liveness unknown", facts(ok("", status=404), live=None), "not_found"),
    ("rendition 404", via_master("", status=404), "not_found"),
    ("401", facts(ok('{"error":"unauthorised"}', status=401)), "access_denied"),
    ("403 with an HTML body", facts(ok(HTML, status=403)), "access_denied"),
    (
        "EXT-X-ERROR naming access control",
        facts(ok("#EXTM3U\r\n#EXT-X-ERROR: Access control denied\r\n")),
        "access_denied",
    ),
    (
        "EXT-X-ERROR unauthorised",
        facts(ok("#EXTM3U\n#EXT-X-ERROR:UNAUTHORISED\n")),
        "access_denied",
    ),
    (
        "EXT-X-ERROR forbidden, not live",
        facts(ok("#EXTM3U\n#EXT-X-ERROR: Forbidden\n"), live=None),
        "access_denied",
    ),
    ("rendition 403", via_master("", status=403), "access_denied"),
    ("HTML page with 200", facts(ok(HTML)), "not_a_playlist"),
    ("empty body with 200", facts(ok("")), "not_a_playlist"),
    ("JSON with 200", facts(ok('{"errors":["not found"]}')), "not_a_playlist"),
    ("EXTM3U later in the body", facts(ok("hello\n#EXTM3U\n")), "not_a_playlist"),
    ("garbled EXTINF", facts(ok("#EXTM3U\n#EXTINF:abc,\nx.ts\n")), "not_a_playlist"),
    ("garbled target duration", facts(ok("#EXTM3U\n#EXT-X-TARGETDURATION:zz\n")), "not_a_playlist"),
    (
        "garbled variant",
        facts(ok("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=zz\nx\n")),
        "not_a_playlist",
    ),
    ("rendition is HTML", via_master(HTML), "not_a_playlist"),
    ("offline manifest while live", facts(ok(OFFLINE)), "stream_offline"),
    ("offline by webhooks", facts(ok(OFFLINE), live_source="webhooks"), "stream_offline"),
    ("offline rendition", via_master(OFFLINE), "stream_offline"),
    (
        "live 3 s, rendition empty",
        via_master(EMPTY, live_since_ms=NOW_MS - 3_000),
        "first_segment_pending",
    ),
    (
        "live 3 s, media as master",
        facts(ok(EMPTY), live_since_ms=NOW_MS - 3_000),
        "first_segment_pending",
    ),
    (
        "clock skew counts as just started",
        via_master(EMPTY, live_since_ms=NOW_MS + 2_000),
        "first_segment_pending",
    ),
    ("live 9.9 s", via_master(EMPTY, live_since_ms=NOW_MS - 9_900), "first_segment_pending"),
    ("live exactly 10 s", via_master(EMPTY, live_since_ms=NOW_MS - 10_000), "no_segments"),
    ("live 60 s, rendition empty", via_master(EMPTY), "no_segments"),
    ("master then rendition with segments", via_master(MEDIA), "ok"),
    ("media playlist given as master", facts(ok(MEDIA)), "ok"),
    ("segments, liveness unknown", facts(ok(MEDIA), live=None, live_source=None), "ok"),
    ("BOM and blank lines first", facts(ok("\ufeff\r\n  " + MEDIA)), "ok"),
    ("master timeout", facts(TIMEOUT), "unreachable"),
    ("master refused", facts(HttpResult(url=URL, error="connection refused")), "unreachable"),
    (
        "rendition timeout",
        facts(ok(MASTER), HttpResult(url=RENDITION_URL, error="timeout")),
        "unreachable",
    ),
    ("master 502", facts(ok("bad gateway", status=502)), "unknown"),
    ("no playback id", facts(None, playback_id=None, api_error="HTTP 500"), "unknown"),
    ("not probed", facts(None), "unknown"),
    ("rendition not fetched", facts(ok(MASTER)), "unknown"),
    ("rendition is a master", via_master(MASTER), "unknown"),
    ("offline, liveness unknown", facts(ok(OFFLINE), live=None), "unknown"),
    ("empty, start unknown", via_master(EMPTY, live_since_ms=None), "unknown"),
    ("empty, liveness unknown", via_master(EMPTY, live=None), "unknown"),
]
STATUS = {
    "stream_idle": "warn",
    "not_found": "fail",
    "access_denied": "fail",
    "not_a_playlist": "fail",
    "stream_offline": "fail",
    "first_segment_pending": "warn",
    "no_segments": "fail",
    "ok": "ok",
    "unreachable": "unknown",
    "unknown": "unknown",
}


@pytest.mark.parametrize(("case", "fact", "code"), CASES, ids=[c[0] for c in CASES])
def test_hls_rows(case, fact, code):
    """Each fact set answers with the first hls row of the contract that holds."""
    verdict = diagnose_hls(fact)
    assert verdict.code == f"hls.{code}", (case, verdict.evidence)
    assert verdict.status == STATUS[code]
    assert verdict.check == "hls" and verdict.cause and verdict.fix
    if verdict.status == "unknown":
        assert verdict.evidence["reason"]


def test_every_hls_code_is_reachable():
    """The table above reaches every hls code of the contract."""
    assert {diagnose_hls(fact).code for _, fact, _ in CASES} == {f"hls.{c}" for c in STATUS}


def test_evidence_of_an_empty_rendition():
    """Evidence holds both statuses, the excerpt, the segment count and seconds since live."""
    ev = diagnose_hls(via_master(EMPTY, live_since_ms=NOW_MS - 3_000)).evidence
    assert ev["master_status"] == 200 and ev["rendition_status"] == 200
    assert ev["segments"] == 0 and ev["seconds_since_live"] == 3.0
    assert ev["rendition_excerpt"][0] == "#EXTM3U" and len(ev["rendition_excerpt"]) <= 5
    assert ev["live_source"] == "api" and ev["probe"] == "rendition"
    assert ev["rendition_url"] == RENDITION_URL


def test_offline_evidence_is_the_error_line():
    """An #EXT-X-ERROR answer shows the error line itself."""
    verdict = diagnose_hls(facts(ok(OFFLINE), live_source="webhooks"))
    assert verdict.evidence["ext_x_error"] == "#EXT-X-ERROR: Stream open failed"
    assert verdict.evidence["live_source"] == "webhooks"
    assert "Stream open failed" in verdict.cause


def test_html_excerpt_shows_the_page():
    """A 200 error page is quoted (first lines) so the operator sees who answered."""
    ev = diagnose_hls(facts(ok(HTML))).evidence
    assert ev["master_excerpt"][0] == "<!DOCTYPE html>"


def test_query_strings_never_reach_evidence():
    """A token in the probed URL or in playlist lines is cut from the evidence."""
    token = "eyJhbGciOiJFUzI1NiJ9.secret-token-part"
    master = MASTER.replace("0_1/index.m3u8", f"0_1/index.m3u8?jwt={token}")
    fact = facts(ok(master, f"{URL}?jwt={token}"), ok(MEDIA, f"{RENDITION_URL}?jwt={token}"))
    verdict = diagnose_hls(fact)
    assert verdict.code == "hls.ok"
    assert token not in json.dumps(verdict.as_dict())
    assert verdict.evidence["master_url"] == URL


def test_excerpt_lines_are_bounded():
    """A huge one-line body is clipped in the evidence."""
    ev = diagnose_hls(facts(ok("x" * 60_000))).evidence
    assert len(ev["master_excerpt"][0]) <= 200


@pytest.mark.parametrize(
    "body",
    [
        "#EXTM3U\n#EXT-X-STREAM-INF:\n",
        "#EXTM3U\n#EXT-X-KEY:METHOD\n",
        "#EXTM3U\n#EXT-X-BYTERANGE:a@b\n#EXTINF:1,\nx",
        "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:q\n",
        "#EXTM3U\n#EXT-X-PROGRAM-DATE-TIME:yesterday\n#EXTINF:1,\nx.ts\n",
        "#EXTM3U\n#EXT-X-MAP:URI=\n",
        "#EXTM3U\n#EXT-X-DATERANGE:ID\n",
        "#EXTM3U\n" + "#EXTINF:1,\n" * 5000,
        "#EXTM3U\x00\x00\n\udcff",
        "#EXT-X-ERROR",
        "\ufeff",
    ],
)
def test_garbage_playlists_never_raise(body):
    """Hostile playlist text yields a verdict, never an exception."""
    for fact in (facts(ok(body)), via_master(body)):
        assert diagnose_hls(fact).check == "hls"


@settings(deadline=None)  # timing varies on loaded CI machines; correctness does not
@given(st.text(max_size=500), st.sampled_from([True, False, None]))
def test_any_body_yields_a_verdict(body, live):
    """Whatever the CDN sends, as master or rendition, the check answers."""
    for fact in (facts(ok(body), live=live), via_master(body, live=live)):
        assert diagnose_hls(fact).code.startswith("hls.")


@settings(deadline=None)  # timing varies on loaded CI machines; correctness does not
@given(st.lists(st.sampled_from(MEDIA.splitlines() + MASTER.splitlines() + ["#EXT-X-ERROR: x"])))
def test_shuffled_playlist_lines_yield_a_verdict(lines):
    """Valid tags in any order and number never make the parser raise through the check."""
    body = "#EXTM3U\n" + "\n".join(lines)
    assert diagnose_hls(replace(via_master(body), master=ok(body))).code.startswith("hls.")
