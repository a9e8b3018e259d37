"""Every verdict code of the catalog, reached over HTTP: real Redis, a fake Livepeer API and CDN.

Each scenario sets up what Livepeer would show (fake API state, CDN mode), what this service
received (signed deliveries through the real ingest route), then asks the diagnosis route.
"""

from __future__ import annotations

import json
import time

import pytest
from diagnosis_harness import PUBLIC_URL, Harness, codes, es256_key, token
from fake_livepeer import FAKE_API_KEY
from helpers import auth, dead_redis_url, make_settings, now_ms, signed

# rtmp ---------------------------------------------------------------------------------------


def test_rtmp_stream_not_found(make):
    """A stream the API does not know and that never sent an event."""
    codes(make().check("nobody", "rtmp"), "rtmp.stream_not_found")


def test_rtmp_stream_deleted(make):
    """A stream this service saw, that the API now answers 404 for."""
    h = make()
    h.deliver("stream.idle", "gone")
    verdict = codes(h.check("gone", "rtmp"), "rtmp.stream_deleted")
    assert "project" in verdict["cause"]


def test_rtmp_stream_suspended(make, fake):
    """The API shows the stream suspended."""
    fake.add_stream("susp", suspended=True)
    codes(make().check("susp", "rtmp"), "rtmp.stream_suspended")


def test_rtmp_key_mismatch_never_echoes_the_key(make, fake):
    """The encoder's key is not the stream's; neither key appears in the answer."""
    stream = fake.add_stream("s-key")
    verdict = codes(make().rtmp({"stream_key": "wrong-key-1234"}, "s-key"), "rtmp.key_mismatch")
    text = json.dumps(verdict)
    assert "wrong-key-1234" not in text and stream["streamKey"] not in text


def test_rtmp_ingest_url_invalid(make, fake):
    """The right key with a server URL that is not Livepeer's RTMP ingest."""
    stream = fake.add_stream("s-url")
    body = {"stream_key": stream["streamKey"], "ingest_url": "rtmp://ingest.example.com/live"}
    codes(make().rtmp(body, "s-url"), "rtmp.ingest_url_invalid")


def test_rtmp_receiving(make, fake):
    """The API shows the stream live."""
    fake.add_stream("s-live", isActive=True)
    codes(make().check("s-live", "rtmp"), "rtmp.receiving")


def test_rtmp_ready_by_stream_and_by_key(make, fake):
    """Existing, not suspended, key and URL right: ready, by stream id and by key alone."""
    stream = fake.add_stream("s-ready")
    body = {"stream_key": stream["streamKey"], "ingest_url": "rtmp://rtmp.livepeer.com/live"}
    h = make()
    codes(h.rtmp(body, "s-ready"), "rtmp.ready")
    verdict = codes(h.rtmp(body), "rtmp.ready")
    assert stream["streamKey"] not in json.dumps(verdict)


def test_rtmp_unknown_key_by_key_is_not_found(make):
    """A key the API knows no stream for."""
    codes(make().rtmp({"stream_key": "no-such-key-00"}), "rtmp.stream_not_found")


def test_rtmp_no_api_key(make):
    """Without an API key and not live, nothing more can be known."""
    h = make(api=False)
    h.deliver("stream.idle", "s-noapi")
    codes(h.check("s-noapi", "rtmp"), "rtmp.no_api_key")


def test_rtmp_unknown_when_the_api_fails(make, fake):
    """An API answering 502 for a stream never seen: unknown, with the reason."""
    fake.fail("/stream/", 502)
    verdict = codes(make().check("s-err", "rtmp"), "rtmp.unknown")
    assert verdict["evidence"]["reason"]


# hls ----------------------------------------------------------------------------------------


def test_hls_stream_idle(make):
    """Webhooks say idle: nothing to play, whatever the CDN says."""
    h = make(api=False)
    h.deliver("stream.idle", "h-idle")
    codes(h.check("h-idle", "hls"), "hls.stream_idle")


@pytest.mark.parametrize(
    ("mode", "code"),
    [
        ("404", "hls.not_found"),
        ("denied", "hls.access_denied"),
        ("html403", "hls.access_denied"),
        ("html200", "hls.not_a_playlist"),
        ("offline", "hls.stream_offline"),
        ("live", "hls.ok"),
    ],
)
def test_hls_cdn_answers(make, fake, mode, code):
    """A live stream (per the API) and each CDN behaviour, through the 307 redirect."""
    stream = fake.add_stream(f"h-{mode}", isActive=True)
    fake.set_cdn(stream["playbackId"], mode)
    verdict = codes(make().check(f"h-{mode}", "hls"), code)
    assert verdict["evidence"]


def test_hls_first_segment_pending_then_no_segments(make, fake):
    """An empty rendition is normal just after start, a failure long after."""
    h = make(api=False)
    h.deliver("stream.started", "h-new")
    fake.set_cdn("pbh-new", "empty")
    codes(h.check("h-new", "hls"), "hls.first_segment_pending")
    h.deliver("stream.started", "h-old", created_at=now_ms() - 120_000)
    fake.set_cdn("pbh-old", "empty")
    codes(h.check("h-old", "hls"), "hls.no_segments")


def test_hls_unreachable(make_app, redis_url, key_prefix, fake):
    """A CDN that refuses connections: unreachable."""
    h = Harness(make_app, redis_url, key_prefix, fake, api=False)
    settings = make_settings(
        redis_url, key_prefix, livepeer_playback_url=dead_redis_url().replace("redis", "http")[:-2]
    )
    h.client = make_app(settings).test_client()
    h.deliver("stream.started", "h-down")
    codes(h.check("h-down", "hls"), "hls.unreachable")


def test_hls_cdn_that_hangs_is_bounded(make, fake):
    """A hanging CDN answers within the probe timeout, never a 5xx."""
    h = make(api=False)
    h.deliver("stream.started", "h-hang")
    fake.set_cdn("pbh-hang", "hang")
    started = time.monotonic()
    verdict = h.check("h-hang", "hls")
    assert verdict["status"] == "unknown" and time.monotonic() - started < 5


def test_hls_unknown_for_a_stream_nobody_knows(make):
    """No API key and no deliveries: unknown, saying how to enable more."""
    codes(make(api=False).check("h-who", "hls"), "hls.unknown")


# playback -----------------------------------------------------------------------------------


def test_playback_no_api_key(make):
    """No API key and no delivery carried the policy."""
    h = make(api=False)
    h.deliver("stream.idle", "p-unk")
    codes(h.check("p-unk", "playback"), "playback.no_api_key")


def test_playback_public(make, fake):
    """No access control on the stream."""
    fake.add_stream("p-pub", playbackPolicy={"type": "public"})
    codes(make().check("p-pub", "playback"), "playback.public")


@pytest.fixture
def jwt_stream(fake):
    private, pub = es256_key()
    fake.add_signing_key(pub)
    stream = fake.add_stream("p-jwt", playbackPolicy={"type": "jwt"})
    return stream, private, pub


def test_playback_jwt_required(make, jwt_stream):
    """A jwt policy and no token to check."""
    codes(make().check("p-jwt", "playback"), "playback.jwt_required")


def test_playback_jwt_rows(make, jwt_stream):
    """Malformed, expired, wrong playback id, bad signature, unknown key and valid tokens."""
    stream, private, pub = jwt_stream
    other_private, other_pub = es256_key()
    h = make()
    pid = stream["playbackId"]
    cases = {
        "playback.jwt_malformed": "not-a-jwt",
        "playback.jwt_expired": token(private, pub, pid, exp_offset=-60),
        "playback.jwt_wrong_playback_id": token(private, pub, "someone-else"),
        "playback.jwt_bad_signature": token(other_private, pub, pid),
        "playback.jwt_unknown_key": token(other_private, other_pub, pid),
        "playback.jwt_valid": token(private, pub, pid),
    }
    for code, raw in cases.items():
        verdict = codes(h.check("p-jwt", "playback", **{"Livepeer-Jwt": raw}), code)
        assert raw not in json.dumps(verdict)


def test_playback_webhook_rows(make, fake):
    """Webhook policy: missing, pointing here, failing, and fine."""
    ok = fake.add_webhook("https://auth.example.com/decide", events=["playback.accessControl"])
    here = fake.add_webhook(PUBLIC_URL)
    t = now_ms() - 1000
    failing = fake.add_webhook(
        "https://auth.example.com/fail",
        status={"lastTriggeredAt": t, "lastFailure": {"timestamp": t, "statusCode": 500}},
    )
    for sid, hook_id in (
        ("w-miss", "no-such-hook"),
        ("w-here", here["id"]),
        ("w-fail", failing["id"]),
        ("w-ok", ok["id"]),
    ):
        fake.add_stream(sid, playbackPolicy={"type": "webhook", "webhookId": hook_id})
    h = make(public_url=PUBLIC_URL)
    codes(h.check("w-miss", "playback"), "playback.webhook_missing")
    codes(h.check("w-here", "playback"), "playback.webhook_points_here")
    codes(h.check("w-fail", "playback"), "playback.webhook_failing")
    codes(h.check("w-ok", "playback"), "playback.webhook_ok")


def test_playback_unknown_when_the_api_fails(make, fake):
    """Policy unknown locally and the API erroring: unknown with a reason."""
    fake.fail("/stream/", 500)
    codes(make().check("p-err", "playback"), "playback.unknown")


# recording ----------------------------------------------------------------------------------


def test_recording_not_enabled(make):
    """record is off for the stream."""
    h = make(api=False)
    h.deliver("stream.idle", "r-off", stream={"record": False})
    codes(h.check("r-off", "recording"), "recording.not_enabled")


def test_recording_no_sessions(make, fake):
    """A recorded stream that has never been live."""
    fake.add_stream("r-never", record=True)
    codes(make().check("r-never", "recording"), "recording.no_sessions")


def test_recording_still_live(make):
    """Live now: the recording comes after idle."""
    h = make(api=False)
    h.deliver("stream.started", "r-live")
    codes(h.check("r-live", "recording"), "recording.still_live")


def session_payload(sid, session_id, **fields):
    return {
        "session": {"id": session_id, "parentId": sid, "createdAt": now_ms() - 600_000, **fields}
    }


def test_recording_ready_with_urls(make):
    """recording.ready delivered: ready, with its URLs in evidence."""
    h = make(api=False)
    h.deliver("stream.started", "r-ok", created_at=now_ms() - 500_000)
    h.deliver("stream.idle", "r-ok", created_at=now_ms() - 400_000)
    payload = session_payload("r-ok", "ses-ok", recordingStatus="ready")
    payload.update(recordingUrl="https://cdn/ses-ok/index.m3u8", mp4Url="https://cdn/ses-ok.mp4")
    h.deliver("recording.ready", "r-ok", payload=payload)
    verdict = codes(h.check("r-ok", "recording"), "recording.ready")
    assert "https://cdn/ses-ok/index.m3u8" in json.dumps(verdict["evidence"])


def test_recording_failed_from_asset_failure(make):
    """asset.failed for the session id: failed."""
    h = make(api=False)
    h.deliver("stream.started", "r-fail", created_at=now_ms() - 500_000)
    h.deliver("stream.idle", "r-fail", created_at=now_ms() - 400_000)
    h.deliver(
        "recording.waiting",
        "r-fail",
        payload=session_payload("r-fail", "ses-f", recordingStatus="ready"),
    )
    h.deliver("asset.failed", None, payload={"asset": {"id": "ses-f"}})
    codes(h.check("r-fail", "recording"), "recording.failed")


def test_recording_no_media(make, fake):
    """The API's latest session received no source segments."""
    fake.add_stream("r-empty", record=True)
    fake.add_session("r-empty", sourceSegments=0, recordingStatus="none", record=True)
    h = make()
    h.deliver("stream.started", "r-empty", created_at=now_ms() - 500_000)
    h.deliver("stream.idle", "r-empty", created_at=now_ms() - 400_000)
    codes(h.check("r-empty", "recording"), "recording.no_media")


def test_recording_without_idle_ends_at_the_api_lastseen(make, fake):
    """Started, no stream.idle received, and the API says it is over: the session ended at the
    API session's lastSeen, and the check goes on from there (DESIGN.md, under the table)."""
    fake.add_stream("r-noidle", record=True, isActive=False)
    fake.add_session(
        "r-noidle", "ses-noidle", record=True, sourceSegments=120, lastSeen=now_ms() - 120_000
    )
    h = make()
    h.deliver("stream.started", "r-noidle", created_at=now_ms() - 3_600_000)
    verdict = codes(h.check("r-noidle", "recording"), "recording.processing")
    assert verdict["evidence"]["idle_source"] == "the API session's lastSeen"
    assert "stream.idle" in verdict["evidence"]["missing_delivery"]


def test_recording_overdue_and_processing(make):
    """Idle beyond the timeout with nothing: overdue; idle a minute ago: processing."""
    h = make(api=False)
    h.deliver("stream.started", "r-late", created_at=now_ms() - 3_000_000)
    h.deliver("stream.idle", "r-late", created_at=now_ms() - 2_000_000)
    codes(h.check("r-late", "recording"), "recording.overdue")
    h.deliver("stream.started", "r-soon", created_at=now_ms() - 200_000)
    h.deliver("stream.idle", "r-soon", created_at=now_ms() - 60_000)
    codes(h.check("r-soon", "recording"), "recording.processing")


def test_recording_unknown(make):
    """Nothing known about the stream."""
    codes(make(api=False).check("r-who", "recording"), "recording.unknown")


# webhooks -----------------------------------------------------------------------------------


def test_webhooks_url_not_public(make):
    """PUBLIC_URL on localhost: Livepeer skips it."""
    codes(
        make(public_url="https://localhost/webhooks/livepeer").webhooks(), "webhooks.url_not_public"
    )


def test_webhooks_delivery_failing(make, fake):
    """Our webhook's status shows the latest delivery failing."""
    t = now_ms() - 5000
    fake.add_webhook(
        PUBLIC_URL,
        status={"lastTriggeredAt": t, "lastFailure": {"timestamp": t, "statusCode": 401}},
    )
    codes(make(public_url=PUBLIC_URL).webhooks(), "webhooks.delivery_failing")


@pytest.mark.parametrize(
    ("make_bad", "code"),
    [
        (
            lambda body: (signed(body)[0], {"Content-Type": "application/json"}),
            "webhooks.unsigned_deliveries",
        ),
        (lambda body: signed(body, "someone-elses-secret"), "webhooks.signature_mismatch"),
        (
            lambda body: signed({**body, "timestamp": body["timestamp"] - 900_000}),
            "webhooks.clock_skew",
        ),
    ],
    ids=["unsigned", "mismatch", "skew"],
)
def test_webhooks_rejections(make, make_bad, code):
    """Three recent rejections of one kind and no accepted delivery since."""
    h = make(api=False)
    for i in range(3):
        body = {
            "id": f"rej-{i}",
            "event": "stream.idle",
            "createdAt": now_ms(),
            "timestamp": now_ms(),
        }
        data, headers = make_bad(body)
        assert h.client.post("/webhooks/livepeer", data=data, headers=headers).status_code == 401
    codes(h.webhooks(), code)


def test_webhooks_not_subscribed(make, fake):
    """Our webhook lacks recording.ready."""
    fake.add_webhook(PUBLIC_URL, events=["stream.started", "stream.idle"])
    h = make(public_url=PUBLIC_URL)
    h.deliver("stream.started", "wh-1")
    verdict = codes(h.webhooks(), "webhooks.not_subscribed")
    assert "recording.ready" in json.dumps(verdict["evidence"])


def test_webhooks_silent_then_ok(make):
    """Nothing accepted yet: silent; after a delivery: ok."""
    h = make(api=False)
    codes(h.webhooks(), "webhooks.silent")
    h.deliver("stream.started", "wh-ok")
    codes(h.webhooks(), "webhooks.ok")


def test_webhooks_unknown_when_redis_is_down(make_app, redis_url, key_prefix, fake):
    """No counters and no API: unknown, never a 5xx."""
    settings = make_settings(dead_redis_url(), key_prefix)
    client = make_app(settings).test_client()
    response = client.get("/api/diagnosis/webhooks", headers=auth())
    assert response.status_code == 200
    codes(response.get_json(), "webhooks.unknown")


# the whole diagnosis and its edges ------------------------------------------------------------


def test_stream_diagnosis_has_four_verdicts_and_the_worst_status(make, fake):
    """GET /diagnosis gives rtmp, hls, playback and recording, and the worst status."""
    fake.add_stream("d-all", suspended=True)
    body = make().client.get("/api/streams/d-all/diagnosis", headers=auth()).get_json()
    assert [v["check"] for v in body["verdicts"]] == ["rtmp", "hls", "playback", "recording"]
    assert body["status"] == "fail" and body["stream_id"] == "d-all"


def test_unknown_check_is_404_and_bad_body_is_400(make):
    """An unknown check name is 404; a malformed rtmp body is 400 without echoing it."""
    h = make(api=False)
    assert h.client.get("/api/streams/x/diagnosis/dns", headers=auth()).status_code == 404
    bad = h.client.post("/api/diagnosis/rtmp", data=b'{"stream_key": 5}', headers=auth())
    assert bad.status_code == 400 and bad.mimetype == "application/problem+json"
    extra = h.client.post(
        "/api/diagnosis/rtmp", json={"stream_key": "k-9999", "x": 1}, headers=auth()
    )
    assert extra.status_code == 400 and "k-9999" not in extra.get_data(as_text=True)


def test_diagnosis_needs_the_token(make):
    """Diagnosis routes are /api routes: 401 without the bearer token."""
    h = make(api=False)
    assert h.client.get("/api/diagnosis/webhooks").status_code == 401
    assert h.client.post("/api/diagnosis/rtmp", json={}).status_code == 401


def test_diagnoses_and_probes_are_counted(make, fake):
    """Each verdict and each outside call shows in /metrics, by check and by target."""
    stream = fake.add_stream("m-live", isActive=True)
    fake.set_cdn(stream["playbackId"], "live")
    fake.fail("/webhook", 502)
    h = make(public_url=PUBLIC_URL)

    def scrape():
        text = h.client.get("/metrics").get_data(as_text=True)
        return {
            line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith(("livepeer_probe", "livepeer_diagnosis"))
        }

    before = scrape()
    codes(h.check("m-live", "hls"), "hls.ok")
    h.webhooks()
    after = scrape()

    def delta(name):
        return after.get(name, 0) - before.get(name, 0)

    assert delta('livepeer_diagnosis_total{check="hls",status="ok"}') == 1
    assert delta('livepeer_probe_duration_seconds_count{target="cdn"}') >= 2  # master + rendition
    assert delta('livepeer_probe_duration_seconds_count{target="livepeer_api"}') >= 1
    assert delta('livepeer_probe_errors_total{target="livepeer_api"}') >= 1  # the 502


def test_a_hanging_api_is_bounded_and_never_a_5xx(make, fake):
    """An API that hangs gives unknown verdicts within the probe timeout, for every check."""
    fake.hang("/", 30)
    h = make()
    h.deliver("stream.started", "hang-1")
    started = time.monotonic()
    body = h.client.get("/api/streams/hang-1/diagnosis", headers=auth())
    elapsed = time.monotonic() - started
    assert body.status_code == 200 and elapsed < 9
    verdicts = {v["check"]: v for v in body.get_json()["verdicts"]}
    assert verdicts["rtmp"]["code"] == "rtmp.receiving"  # the webhooks still say live
    assert "timeout" in json.dumps(verdicts)


def test_jwts_and_keys_never_reach_the_log(make, fake, jwt_stream, caplog):
    """A viewer JWT and an encoder key sent to the diagnosis appear in no log line."""
    import logging

    caplog.set_level(logging.DEBUG)
    stream, private, pub = jwt_stream
    raw = token(private, pub, stream["playbackId"])
    h = make()
    h.check("p-jwt", "playback", **{"Livepeer-Jwt": raw})
    h.rtmp({"stream_key": "enc-key-4242-secret"}, "p-jwt")
    h.rtmp({"stream_key": stream["streamKey"]})
    text = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "diagnosis" in text  # the request lines were captured
    for secret in (
        raw,
        raw.split(".")[2],
        "enc-key-4242-secret",
        stream["streamKey"],
        FAKE_API_KEY,
    ):
        assert secret not in text


def test_diagnoses_are_bounded_per_worker_so_ingest_keeps_a_thread(make, fake):
    """With every diagnosis slot waiting on a slow CDN, another gets 503 and ingest still 200."""
    import threading

    h = make(api=False, threads=2)  # one diagnosis slot per process
    h.deliver("stream.started", "b-slow")
    fake.set_cdn("pbb-slow", "hang")
    first: dict = {}
    worker = threading.Thread(
        target=lambda: first.update(
            r=h.client.get("/api/streams/b-slow/diagnosis/hls", headers=auth())
        )
    )
    worker.start()
    try:
        deadline = time.monotonic() + 5
        while fake.hits("/region/hls/pbb-slow", server="cdn") == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        busy = h.client.get("/api/streams/b-slow/diagnosis/hls", headers=auth())
        assert busy.status_code == 503 and busy.headers["Retry-After"]
        assert busy.mimetype == "application/problem+json"
        h.deliver("stream.idle", "b-slow")  # ingest is not a diagnosis: never refused
    finally:
        worker.join(10)
    assert first["r"].status_code == 200
    again = h.client.get("/api/streams/b-slow/diagnosis/rtmp", headers=auth())
    assert again.status_code == 200  # the slot was given back
