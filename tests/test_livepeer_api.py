"""LivepeerApi against the fake Livepeer API: field mapping, paging, failures, no leaked keys."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
from fake_livepeer import FAKE_API_KEY
from helpers import make_settings

from webhook_service.config import Secret
from webhook_service.livepeer.api import SHAPE_ERROR, LivepeerApi
from webhook_service.livepeer.facts import ApiSession, ApiWebhook, SigningKey
from webhook_service.livepeer.probe import Prober
from webhook_service.livepeer.results import ACCOUNT_SUSPENDED

STREAM_KEY = "ab12-cd34-ef56-gh78"


@pytest.fixture
def prober(fake):
    probe = Prober((fake.url, fake.cdn_url), call_timeout=0.5)
    yield probe
    probe.close()


@pytest.fixture
def api(fake, prober):
    return LivepeerApi(prober, Secret(FAKE_API_KEY), fake.url)


def soon(seconds: float = 5.0) -> float:
    return time.monotonic() + seconds


def test_get_stream_maps_livepeer_fields(fake, api):
    """camelCase stream JSON becomes ApiStream, without the stream key."""
    fake.add_stream(
        "s1",
        name="show",
        playbackId="pb1",
        isActive=True,
        suspended=False,
        record=True,
        lastSeen=1_700_000_000_000,
        sourceSegments=42,
        playbackPolicy={"type": "webhook", "webhookId": "w1"},
        streamKey=STREAM_KEY,
    )
    result = api.get_stream("s1", deadline=soon())
    stream = result.value
    assert (result.error, result.not_found, result.key_matches) == (None, False, None)
    assert (stream.id, stream.name, stream.playback_id) == ("s1", "show", "pb1")
    assert (stream.is_active, stream.suspended, stream.record, stream.deleted) == (
        True,
        False,
        True,
        None,
    )
    assert (stream.last_seen_ms, stream.source_segments) == (1_700_000_000_000, 42)
    assert (stream.playback_policy, stream.playback_policy_webhook_id) == ("webhook", "w1")
    assert STREAM_KEY not in repr(result)


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("absent", "public"),
        (None, "public"),
        ({"type": "public"}, "public"),
        ({"type": "jwt"}, "jwt"),
        ({"type": 7}, None),
        ("jwt", None),
    ],
)
def test_playback_policy_mapping(fake, api, policy, expected):
    """playbackPolicy: absent or null is public, an object gives its type."""
    fields = {} if policy == "absent" else {"playbackPolicy": policy}
    fake.add_stream("s1", **fields)
    assert api.get_stream("s1", deadline=soon()).value.playback_policy == expected


def test_mistyped_optional_fields_read_as_unknown(fake, api):
    """Wrongly typed optional fields become None instead of failing the lookup."""
    fake.add_stream("s1", isActive="yes", lastSeen="soon", sourceSegments=float("nan"), name=3)
    stream = api.get_stream("s1", deadline=soon()).value
    assert (stream.is_active, stream.last_seen_ms, stream.source_segments, stream.name) == (
        None,
        None,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("given", "matches"),
    [(STREAM_KEY, True), ("wrong-key", False), ("", False), (None, None)],
)
def test_compare_key_reports_a_match_without_keeping_the_key(fake, api, given, matches):
    """The key comparison happens inside the client; only the boolean comes back."""
    fake.add_stream("s1", streamKey=STREAM_KEY)
    result = api.get_stream("s1", deadline=soon(), compare_key=given)
    assert result.key_matches is matches
    assert STREAM_KEY not in repr(result)


def test_get_stream_unknown_or_deleted_is_not_found(fake, api):
    """404 (unknown id, or a deleted stream) sets not_found."""
    fake.add_stream("gone", deleted=True)
    for stream_id in ("missing", "gone"):
        result = api.get_stream(stream_id, deadline=soon())
        assert (result.not_found, result.value, result.error) == (True, None, None)


def test_get_stream_by_key_finds_the_stream(fake, api):
    """GET /stream/key/{key} returns the stream and confirms the key."""
    fake.add_stream("s1", streamKey=STREAM_KEY)
    result = api.get_stream_by_key(STREAM_KEY, deadline=soon())
    assert result.value.id == "s1"
    assert result.key_matches is True
    assert STREAM_KEY not in repr(result)


def test_stream_key_is_path_quoted(fake, api):
    """A key with path characters stays one path segment."""
    key = "a/b?c#d ../e"
    fake.add_stream("s1", streamKey=key)
    result = api.get_stream_by_key(key, deadline=soon())
    assert result.value.id == "s1"
    assert fake.requests[-1].path == "/api/stream/key/a%2Fb%3Fc%23d%20%2E%2E%2Fe"


def test_unknown_stream_key_is_not_found(fake, api):
    """No stream with that key: not_found, and the key appears nowhere."""
    result = api.get_stream_by_key(STREAM_KEY, deadline=soon())
    assert result.not_found
    assert STREAM_KEY not in repr(result)


@pytest.mark.parametrize("fault", ["timeout", "502", "garbage", "shape"])
def test_stream_key_absent_from_errors(fake, api, fault):
    """Whatever goes wrong, the error names no stream key."""
    if fault == "timeout":
        fake.hang("/stream/key/", 5)
    elif fault == "502":
        fake.fail("/stream/key/", 502, json.dumps({"errors": [f"bad key {STREAM_KEY}"]}))
    elif fault == "garbage":
        fake.garbage("/stream/key/")
    else:
        fake.fail("/stream/key/", 200, json.dumps({"streamKey": STREAM_KEY}))
    result = api.get_stream_by_key(STREAM_KEY, deadline=soon())
    assert result.error
    assert STREAM_KEY not in repr(result)


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (502, None, "HTTP 502: fake failure 502"),
        (500, "<html>oops</html>", "HTTP 500"),
        (403, None, "forbidden for this API key (HTTP 403: fake failure 403)"),
        (403, '{"errors": ["user is suspended"]}', ACCOUNT_SUSPENDED),
        (403, '{"errors": [{"not": "text"}]}', "forbidden for this API key (HTTP 403)"),
        (429, None, "rate limited (HTTP 429: fake failure 429)"),
        (500, '{"errors": ["' + "x" * 500 + '"]}', "HTTP 500: " + "x" * 200),
        (200, "<html>not json</html>", "not JSON"),
        (200, "[" * 100_000, "not JSON"),
        (200, '"a string"', SHAPE_ERROR),
        (200, "[]", SHAPE_ERROR),
        (200, '{"name": "no id"}', SHAPE_ERROR),
        (200, '{"id": 12}', SHAPE_ERROR),
    ],
)
def test_bad_answers_become_errors(fake, api, status, body, error):
    """Error statuses, non-JSON and wrongly shaped JSON give an error string, never raise; an
    error says what Livepeer's body said (`{"errors": [...]}`, api-schema.yaml `error`), and a
    suspended account is its own error (middleware/auth.ts: 403 "user is suspended")."""
    fake.fail("/stream/", status, body)
    result = api.get_stream("s1", deadline=soon())
    assert (result.value, result.not_found, result.error) == (None, False, error)


def test_garbage_body_is_not_json(fake, api):
    """A 200 whose body is not JSON is reported as such."""
    fake.garbage("/webhook")
    assert api.list_webhooks(deadline=soon()).error == "not JSON"


def test_oversized_response_is_an_error(fake, prober):
    """A body beyond the client's limit is refused rather than parsed half-read."""
    fake.fail("/stream/", 200, json.dumps({"id": "s1", "name": "x" * 5000}))
    api = LivepeerApi(prober, Secret(FAKE_API_KEY), fake.url, max_bytes=1000)
    assert api.get_stream("s1", deadline=soon()).error == "response too large"


def test_timeout_is_an_error(fake, api):
    """A hanging API answers "timeout" after the call timeout."""
    fake.hang("/stream/", 5)
    started = time.monotonic()
    assert api.get_stream("s1", deadline=soon()).error == "timeout"
    assert time.monotonic() - started < 1.0


def test_past_deadline_is_an_error_without_a_request(fake, api):
    """No time left: "deadline exceeded" and nothing sent."""
    assert api.get_stream("s1", deadline=time.monotonic()).error == "deadline exceeded"
    assert fake.requests == []


def test_wrong_api_key_is_rejected(fake, prober):
    """A 401 says the key was rejected and never shows it."""
    api = LivepeerApi(prober, Secret("not-the-key-5c1e"), fake.url)
    fake.add_stream("s1")
    result = api.get_stream("s1", deadline=soon())
    assert result.error == "API key rejected (HTTP 401: No authorization header or API key invalid)"
    assert "not-the-key-5c1e" not in repr(result)


def test_api_key_never_appears_in_repr_or_errors(fake, api):
    """repr(api) and every error string are free of the API key."""
    assert FAKE_API_KEY not in repr(api)
    fake.hang("/webhook/", 5)
    fake.fail("/session", 500)
    fake.garbage("/access-control/")
    fake.redirect("/playback/", "http://evil.example/?k=" + FAKE_API_KEY)
    results = [
        api.get_webhook("w1", deadline=soon()),
        api.list_sessions("s1", deadline=soon()),
        api.list_signing_keys(deadline=soon()),
        api.get_playback("pb1", deadline=soon()),
    ]
    assert all(r.error for r in results)
    assert not any(FAKE_API_KEY in repr(r) for r in results)


def test_bearer_token_is_sent(fake, api):
    """Requests carry Authorization: Bearer <key>."""
    fake.add_stream("s1")
    api.get_stream("s1", deadline=soon())
    assert fake.requests[0].headers["authorization"] == f"Bearer {FAKE_API_KEY}"


def test_from_settings_needs_an_api_key(fake, prober):
    """Without LIVEPEER_API_KEY there is no client; with one it targets LIVEPEER_API_URL."""
    assert LivepeerApi.from_settings(make_settings(None), prober) is None
    settings = make_settings(None, livepeer_api_key=Secret("k"), livepeer_api_url=fake.url)
    assert LivepeerApi.from_settings(settings, prober).base_url == fake.url


@pytest.mark.parametrize("bad_id", ["", ".", ".."])
def test_ids_cannot_leave_their_path_segment(fake, api, bad_id):
    """Empty ids fail without a request; dot ids stay inside /stream/."""
    result = api.get_stream(bad_id, deadline=soon())
    if bad_id:
        assert result.not_found
        assert fake.requests[-1].path.startswith("/api/stream/%2E")
    else:
        assert result.error == "empty id"
        assert fake.requests == []


def test_list_sessions_follows_link_pages(fake, prober):
    """Sessions on several pages are gathered by following Link rel="next"."""
    api = LivepeerApi(prober, Secret(FAKE_API_KEY), fake.url, page_limit=2)
    for n in range(5):
        fake.add_session("s1", f"sess-{n}", createdAt=1000 + n, recordingStatus="ready")
    fake.add_session("other", "foreign")
    result = api.list_sessions("s1", deadline=soon())
    assert [s.id for s in result.value] == [f"sess-{n}" for n in (4, 3, 2, 1, 0)]
    assert not result.incomplete
    assert fake.hits("/api/session") == 3


def test_list_sessions_maps_recording_fields(fake, api):
    """Session recording fields and times are mapped."""
    fake.add_session(
        "s1",
        "sess-1",
        createdAt=1000,
        lastSeen=2000,
        recordingStatus="ready",
        recordingUrl="https://cdn/hls/r/index.m3u8",
        mp4Url="https://cdn/r.mp4",
        sourceSegments=12,
    )
    (session,) = api.list_sessions("s1", deadline=soon()).value
    assert session == ApiSession(
        id="sess-1",
        created_at_ms=1000,
        last_seen_ms=2000,
        recording_status="ready",
        recording_url="https://cdn/hls/r/index.m3u8",
        mp4_url="https://cdn/r.mp4",
        source_segments=12,
    )


def test_list_sessions_needs_a_parent_id(fake, api):
    """An empty parent id would list every session of the account: refused."""
    assert api.list_sessions("", deadline=soon()).error == "empty id"
    assert fake.requests == []


def test_list_stops_after_max_pages(fake, prober):
    """Paging is bounded; a cut list says it is incomplete."""
    api = LivepeerApi(prober, Secret(FAKE_API_KEY), fake.url, page_limit=1, max_pages=2)
    for n in range(4):
        fake.add_webhook(f"https://example.com/{n}", f"w{n}")
    result = api.list_webhooks(deadline=soon())
    assert [w.id for w in result.value] == ["w0", "w1"]
    assert result.incomplete


def test_error_on_a_later_page_fails_the_list(fake, prober):
    """A partial list would mislead (our webhook may be on the lost page): error instead."""
    api = LivepeerApi(prober, Secret(FAKE_API_KEY), fake.url, page_limit=1)
    for n in range(3):
        fake.add_webhook(f"https://example.com/{n}", f"w{n}")
    fake.fail("/webhook?limit=1&cursor=skip1", 503)
    result = api.list_webhooks(deadline=soon())
    assert (result.value, result.error) == (None, "HTTP 503: fake failure 503")
    assert fake.hits("/api/webhook") == 2


def test_webhook_fields_are_mapped(fake, api):
    """status.lastTriggeredAt and lastFailure become ApiWebhook fields; no secret."""
    fake.add_webhook(
        "https://hooks.example.com/livepeer",
        "w1",
        events=["stream.started", 5],
        sharedSecret="whsec",
        status={
            "lastTriggeredAt": 2000,
            "lastFailure": {"timestamp": 2000, "statusCode": 401, "error": "bad", "response": ""},
        },
    )
    assert api.get_webhook("w1", deadline=soon()).value == ApiWebhook(
        id="w1",
        url="https://hooks.example.com/livepeer",
        events=("stream.started",),
        last_triggered_at_ms=2000,
        last_failure_at_ms=2000,
        last_failure_status=401,
        last_failure_error="bad",
    )
    assert api.get_webhook("nope", deadline=soon()).not_found


def test_webhook_without_status_has_no_times(fake, api):
    """A never-triggered webhook (status absent or null) maps to None times."""
    fake.add_webhook("https://a.example/", "w1", status=None)
    hook = api.get_webhook("w1", deadline=soon()).value
    assert (hook.last_triggered_at_ms, hook.last_failure_at_ms) == (None, None)


def test_webhook_log_pages_and_event_ids(fake, api):
    """Log pages come newest first with event ids parsed from request.body, then a next URL."""
    fake.add_webhook("https://a.example/", "w1")
    fake.add_log("w1", {"id": "evt-old", "event": "stream.idle"}, created_at=1000)
    fake.add_log("w1", "not json {", status=None, created_at=2000)
    fake.add_log("w1", {"id": "evt-new", "event": "stream.started"}, status=500, created_at=3000)
    first = api.webhook_log("w1", deadline=soon(), limit=2)
    entries = first.value.entries
    assert [(e.event_id, e.event, e.response_status, e.success) for e in entries] == [
        ("evt-new", "stream.started", 500, False),
        (None, None, None, False),
    ]
    assert first.value.next_url.startswith(fake.url + "/webhook/w1/log?")
    second = api.webhook_log("w1", deadline=soon(), next_url=first.value.next_url)
    assert [(e.event_id, e.created_at_ms) for e in second.value.entries] == [("evt-old", 1000)]
    assert second.value.next_url is None


def test_webhook_log_falls_back_to_event_id_field(fake, api):
    """When request.body is unreadable, the row's eventId gives the event id."""
    fake.add_webhook("https://a.example/", "w1")
    entry = fake.add_log("w1", "{broken")
    entry["eventId"] = "evt-7"
    (row,) = api.webhook_log("w1", deadline=soon()).value.entries
    assert row.event_id == "evt-7"


def test_webhook_log_next_url_must_be_on_the_api(fake, api):
    """A next URL elsewhere is refused before any request carries the API key there."""
    result = api.webhook_log("w1", deadline=soon(), next_url="http://evil.example/api/x?cursor=2")
    assert result.error == "next page is not on the Livepeer API"
    assert fake.requests == []


def test_webhook_log_of_unknown_webhook_is_not_found(fake, api):
    """404 for the webhook id sets not_found."""
    assert api.webhook_log("nope", deadline=soon()).not_found


def test_resend_asks_livepeer_to_deliver_again(fake, api):
    """POST .../resend is sent; the fake re-signs the stored body with a new timestamp."""
    fake.add_webhook("https://a.example/", "w1", sharedSecret="whsec-1")
    log = fake.add_log("w1", {"id": "evt-1", "event": "stream.started", "timestamp": 1})
    delivered = []
    fake.on_resend = lambda hook, body, headers: delivered.append((body, headers)) or 204
    result = api.resend("w1", log["id"], deadline=soon())
    assert (result.value, result.error) == (True, None)
    assert fake.resends == [("w1", log["id"])]
    body, headers = delivered[0]
    parsed = json.loads(body)
    assert parsed["id"] == "evt-1" and parsed["timestamp"] > 1
    mac = hmac.new(b"whsec-1", body.encode(), hashlib.sha256).hexdigest()
    assert headers["Livepeer-Signature"] == f"t={parsed['timestamp']},v1={mac}"


def test_resend_of_unknown_log_is_not_found(fake, api):
    """Resending a log row that does not exist gives not_found."""
    fake.add_webhook("https://a.example/", "w1")
    assert api.resend("w1", "missing", deadline=soon()).not_found


def test_signing_keys_are_listed(fake, api):
    """publicKey and disabled map to SigningKey (absent disabled means enabled)."""
    fake.add_signing_key("cHViLTE=")
    fake.add_signing_key("cHViLTI=", disabled=True)
    del fake.signing_keys[0]["disabled"]
    assert api.list_signing_keys(deadline=soon()).value == (
        SigningKey(public_key_b64="cHViLTE=", disabled=False, id=fake.signing_keys[0]["id"]),
        SigningKey(public_key_b64="cHViLTI=", disabled=True, id=fake.signing_keys[1]["id"]),
    )


def test_get_playback_reads_sources_and_policy(fake, api):
    """GET /playback/{id} gives live state, policy and the HLS URL."""
    fake.add_stream("s1", playbackId="pb1", isActive=True, playbackPolicy={"type": "jwt"})
    info = api.get_playback("pb1", deadline=soon()).value
    assert (info.kind, info.live, info.playback_policy) == ("live", True, "jwt")
    assert info.hls_url == fake.hls_url("pb1")
    assert api.get_playback("unknown", deadline=soon()).not_found
