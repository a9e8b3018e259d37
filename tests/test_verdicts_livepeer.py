"""The verdict rows that follow Livepeer's real behaviour, each reached over HTTP in the table's
order: every scenario also makes a later row's condition true, so the order is tested too.

Real Redis, real signed deliveries through the ingest route (shaped as webhooks/cannon.ts sends
them), and the fake Livepeer API and CDN serving objects shaped as api-schema.yaml describes
them. Each docstring names the Livepeer source (livepeer/studio, packages/api/src) the row
rests on.
"""

from __future__ import annotations

import json
import logging

import redis
from diagnosis_harness import PUBLIC_URL, codes, es256_key, token
from helpers import auth, delivery, now_ms, signed

ORIGINS = ["https://app.example.com", "https://www.example.com/"]
HOUR = 3_600_000


def viewer(h, stream_id, **body):
    """POST what the failing viewer sent to the playback check."""
    response = h.client.post(
        f"/api/streams/{stream_id}/diagnosis/playback", json=body, headers=auth()
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


# rtmp ---------------------------------------------------------------------------------------


def test_rtmp_account_suspended_comes_first(make, fake):
    """middleware/auth.ts, authorizer: every API call of a suspended user answers 403 "user is
    suspended"; stream.ts, /setactive: such a stream never goes live. Later row also true:
    this service's deliveries say the stream is live (`receiving`)."""
    fake.add_stream("acct-susp", isActive=True)
    h = make()
    h.deliver("stream.started", "acct-susp")
    fake.account_suspended = True
    verdict = codes(h.check("acct-susp", "rtmp"), "rtmp.account_suspended")
    assert verdict["status"] == "fail" and verdict["evidence"]["live"] is True


def test_a_suspended_account_makes_hls_and_recording_unknown(make, fake):
    """middleware/auth.ts: 403 "user is suspended" is read from the error body; the checks that
    have no account row say so in evidence.reason instead of "forbidden for this API key"."""
    h = make()
    h.deliver("stream.started", "acct-hls")
    fake.account_suspended = True
    for check in ("hls", "recording"):
        verdict = codes(h.check("acct-hls", check), f"{check}.unknown")
        assert "suspended" in verdict["evidence"]["reason"]


# playback -----------------------------------------------------------------------------------


def test_playback_content_unavailable_comes_before_the_origin_rules(make, fake):
    """access-control.ts, the /gate route: `user.suspended || content.suspended ||
    user.disabled` throws NotFoundError("Content not found") before allowedOrigins is read.
    Later rows also true: the viewer's origin is not allowed, and no token was given."""
    fake.add_stream(
        "pb-susp", suspended=True, playbackPolicy={"type": "jwt", "allowedOrigins": ORIGINS}
    )
    verdict = codes(
        viewer(make(), "pb-susp", origin="https://evil.example"), "playback.content_unavailable"
    )
    assert "suspended" in verdict["cause"]


def test_playback_content_unavailable_for_a_deleted_stream(make, fake):
    """access-control.ts, /gate: `!content || content.deleted` -> 404 "Content not found";
    stream.ts: GET /stream/{id} answers 404 for a deleted stream. Later row also true: its
    policy (from deliveries) is public."""
    h = make()
    h.deliver("stream.idle", "pb-gone", stream={"playbackPolicy": {"type": "public"}})
    codes(h.check("pb-gone", "playback"), "playback.content_unavailable")


def test_playback_origin_not_allowed_for_every_policy_type(make, fake):
    """access-control.ts, /gate: the Origin (URL-decoded, one trailing slash stripped) must be in
    playbackPolicy.allowedOrigins unless it holds "*", before the policy type is switched on:
    403 "origin not in allowed origins". Later row also true: a jwt policy and no token."""
    fake.add_stream("pb-orig", playbackPolicy={"type": "jwt", "allowedOrigins": ORIGINS})
    h = make()
    verdict = codes(
        viewer(h, "pb-orig", origin="https://evil.example"), "playback.origin_not_allowed"
    )
    assert verdict["evidence"]["allowed_origins"] == ORIGINS
    assert verdict["evidence"]["allowed_origins_matching_no_viewer"] == [ORIGINS[1]]
    # The stored entry with a slash matches no viewer: the gate strips the viewer's slash only.
    codes(viewer(h, "pb-orig", origin="https://www.example.com/"), "playback.origin_not_allowed")
    codes(viewer(h, "pb-orig", origin="https://app.example.com/"), "playback.jwt_required")


def test_playback_origin_restricted_without_an_origin(make, fake):
    """access-control.ts, /gate: a public policy with allowedOrigins still refuses browsers on
    other origins. With no origin given the check warns. Later row also true: `public`."""
    fake.add_stream("pb-restr", playbackPolicy={"type": "public", "allowedOrigins": ORIGINS})
    h = make()
    verdict = codes(h.check("pb-restr", "playback"), "playback.origin_restricted")
    assert verdict["status"] == "warn" and verdict["evidence"]["allowed_origins"] == ORIGINS
    codes(viewer(h, "pb-restr", origin="https://app.example.com"), "playback.public")


def test_playback_jwt_key_disabled(make, fake):
    """access-control.ts, /gate, case "jwt": `signingKey.disabled || signingKey.deleted` ->
    403 "The public key is disabled or deleted"; signing-key.ts lists the project's keys with
    `disabled`. Later row also true: the token itself verifies (`jwt_valid`'s condition)."""
    private, pub = es256_key()
    key = fake.add_signing_key(pub, disabled=True)
    stream = fake.add_stream("pb-keyoff", playbackPolicy={"type": "jwt"})
    jwt = token(private, pub, stream["playbackId"])
    verdict = codes(viewer(make(), "pb-keyoff", jwt=jwt), "playback.jwt_key_disabled")
    assert verdict["evidence"]["key_id"] == key["id"]
    assert verdict["evidence"]["token_last4"] == jwt[-4:]


def test_playback_jwt_unknown_key_is_only_a_warning(make, fake):
    """access-control.ts, /gate: the key is found by its public key across the whole account
    (`db.signingKey.find`), and must share the content's owner; signing-key.ts GET / lists only
    the API key's project's keys and omits deleted ones (`deleted IS NULL`). A key of another
    project may be fine, so: warn. Later row also true: the token verifies (`jwt_valid`)."""
    private, pub = es256_key()
    fake.add_signing_key(es256_key()[1])  # the project's only key is another one
    stream = fake.add_stream("pb-keyunk", playbackPolicy={"type": "jwt"})
    verdict = viewer(make(), "pb-keyunk", jwt=token(private, pub, stream["playbackId"]))
    verdict = codes(verdict, "playback.jwt_unknown_key")
    assert verdict["status"] == "warn" and "another project" in verdict["cause"]


def test_playback_access_key_missing(make, fake):
    """access-control.ts, /gate, case "webhook": `!req.body.accessKey || req.body.type !==
    "accessKey"` -> 403 "requires an access key", before `db.webhook.get`. Later row also true:
    the access-control webhook does not exist (`webhook_missing`)."""
    fake.add_stream("pb-ak", playbackPolicy={"type": "webhook", "webhookId": "wh-that-is-gone"})
    h = make()
    url = "https://livepeercdn.studio/hls/pb-ak/index.m3u8"
    verdict = codes(viewer(h, "pb-ak", url=url), "playback.access_key_missing")
    assert verdict["evidence"]["viewer_url_path"] == "/hls/pb-ak/index.m3u8"
    codes(viewer(h, "pb-ak", url=url + "?accessKey=ak-123"), "playback.webhook_missing")


def test_what_the_viewer_sent_is_never_stored_logged_or_echoed(
    make, fake, redis_url, key_prefix, caplog
):
    """access-control.ts reads the token and the access key from the viewer's request; the
    contract: none is stored, logged or echoed (evidence names a token by its key and last 4
    characters only). The log, every answer and every Redis value are searched."""
    caplog.set_level(logging.DEBUG)
    private, pub = es256_key()
    fake.add_signing_key(pub)
    stream = fake.add_stream(
        "pb-secret", playbackPolicy={"type": "jwt", "allowedOrigins": ["https://ok.example"]}
    )
    jwt = token(private, pub, stream["playbackId"])
    access_key = "ak-never-shown-5f2e91"
    h = make()
    h.deliver("stream.started", "pb-secret")
    answers = [
        viewer(h, "pb-secret", url=f"https://x/hls/p/index.m3u8?jwt={jwt}&accessKey={access_key}"),
        viewer(h, "pb-secret", jwt=jwt, access_key=access_key, origin="https://ok.example"),
        h.check("pb-secret", "playback", **{"Livepeer-Jwt": jwt}),
    ]
    assert [a["code"] for a in answers] == ["playback.jwt_valid"] * 3
    client = redis.Redis.from_url(redis_url)
    stored = [
        json.dumps([str(k), str(client.dump(k))]) for k in client.scan_iter(f"{key_prefix}:*")
    ]
    client.close()
    for text in (json.dumps(answers), caplog.text, "".join(stored)):
        assert jwt not in text and jwt.split(".")[2] not in text and access_key not in text


# recording ----------------------------------------------------------------------------------


def test_recording_not_enabled_is_decided_per_session(make, fake):
    """stream.ts: a session copies the stream's `record` when it begins (the session row's
    `record`); getRecordingFields returns no recording fields when `!session.record`, and
    triggerSessionRecordingProcessing skips it. The stream's flag is on again now. Later row
    also true: the session went idle long ago without a recording (`overdue`)."""
    fake.add_stream("rec-off", record=True)
    fake.add_session("rec-off", "ses-off", record=False, sourceSegments=300)
    h = make()
    h.deliver("stream.started", "rec-off", created_at=now_ms() - 2 * HOUR)
    h.deliver("stream.idle", "rec-off", created_at=now_ms() - HOUR)
    verdict = codes(h.check("rec-off", "recording"), "recording.not_enabled")
    assert verdict["evidence"]["record"] is False and verdict["evidence"]["stream_record"] is True


def test_recording_not_idle_when_the_api_says_active_without_media(make, fake):
    """stream.ts: ACTIVE_TIMEOUT (90 s) and shouldCleanUpIsActive: a stream whose lastSeen is
    older stays `isActive` until the clean-up job closes it, and recordings start after that.
    Later row also true: an idle of an earlier session is past the timeout (`overdue`)."""
    fake.add_stream("rec-stuck", record=True, isActive=True, lastSeen=now_ms() - 600_000)
    fake.add_session("rec-stuck", "ses-stuck", record=True, sourceSegments=50)
    h = make()
    h.deliver("stream.idle", "rec-stuck", created_at=now_ms() - 2 * HOUR)
    verdict = codes(h.check("rec-stuck", "recording"), "recording.not_idle")
    assert verdict["evidence"]["api_last_seen_seconds_ago"] >= 600
    codes(h.check("rec-stuck", "hls"), "hls.stream_idle")  # not live, in every check


def test_recording_skipped_for_a_stale_session(make, fake):
    """stream.ts: isStreamStale (lastSeen older than STALE_SESSION_TIMEOUT, 3 h) and
    triggerSessionRecordingProcessing ("Skipping recording for stale session"); getRecordingFields
    reports `none` for such a session without an asset. The stream.idle came 4 h after media
    stopped. Later row also true: idle, no recording yet (`processing`)."""
    fake.add_stream("rec-stale", record=True)
    fake.add_session(
        "rec-stale",
        "ses-stale",
        record=True,
        recordingStatus="none",
        sourceSegments=10,
        lastSeen=now_ms() - 4 * HOUR,
    )
    h = make()
    h.deliver("stream.started", "rec-stale", created_at=now_ms() - 5 * HOUR)
    h.deliver("stream.idle", "rec-stale", created_at=now_ms() - 60_000)
    codes(h.check("rec-stale", "recording"), "recording.skipped")


def test_recording_deleted_beats_ready(make, fake):
    """stream.ts, getRecordingFields: an asset in phase deleting/deleted gives recordingStatus
    "deleted"; cannon.ts sends asset.deleted with `payload.asset` (the recording's asset id is
    the session id). Later row also true: recording.ready arrived with its URLs (`ready`)."""
    h = make(api=False)
    session = {"id": "ses-del", "parentId": "rec-del", "recordingStatus": "ready"}
    urls = {"recordingUrl": "https://cdn/rec/index.m3u8", "mp4Url": "https://cdn/rec/o.mp4"}
    h.deliver("stream.started", "rec-del", created_at=now_ms() - HOUR)
    h.deliver("stream.idle", "rec-del", created_at=now_ms() - 50 * 60_000)
    h.deliver("recording.ready", "rec-del", payload={"session": session, **urls})
    codes(h.check("rec-del", "recording"), "recording.ready")
    h.deliver("asset.deleted", None, payload={"asset": {"id": "ses-del", "snapshot": {}}})
    verdict = codes(h.check("rec-del", "recording"), "recording.deleted")
    assert verdict["evidence"]["deleted_by"] == "asset.deleted"


# webhooks -----------------------------------------------------------------------------------


def test_webhooks_account_suspended(make, fake):
    """cannon.ts, processWebhookEvent: `user.suspended` throws before any webhook is fired;
    middleware/auth.ts answers the API 403 "user is suspended". Later row also true: nothing
    was ever accepted (`silent`)."""
    fake.account_suspended = True
    verdict = codes(make(public_url=PUBLIC_URL).webhooks(), "webhooks.account_suspended")
    assert verdict["evidence"]["last_accepted_at"] is None


def test_webhooks_not_registered(make, fake):
    """cannon.ts, processWebhookEvent: `db.webhook.listSubscribed(userId, event, projectId,
    ...)` sends a stream's events only to its own project's webhooks. Later row also true:
    recent deliveries failed the signature check (`signature_mismatch`)."""
    fake.add_webhook("https://elsewhere.example/hooks")
    h = make(public_url=PUBLIC_URL)
    for n in range(3):
        raw, headers = signed(delivery(stream_id=f"s{n}"), "someone-elses-secret")
        assert h.client.post("/webhooks/livepeer", data=raw, headers=headers).status_code == 401
    verdict = codes(h.webhooks(), "webhooks.not_registered")
    assert verdict["evidence"]["rejections_last_hour"]["signature_mismatch"] == 3


def test_webhooks_redirected_by_the_log(make, fake):
    """cannon.ts fires with fetchWithTimeout (node-fetch v2): a 301/302/303 becomes a bodyless
    GET that the receiver answers 405, and storeResponse records `response.redirected`; a 4xx
    is never retried. Later row also true: the latest deliveries failed (`delivery_failing`)."""
    hook = fake.add_webhook(PUBLIC_URL)
    for at in (now_ms() - 60_000, now_ms() - 30_000):
        row = fake.add_log(hook["id"], {"id": f"ev-{at}", "event": "stream.idle"}, status=405)
        row["response"]["redirected"] = True
    verdict = codes(make(public_url=PUBLIC_URL).webhooks(), "webhooks.redirected")
    assert verdict["evidence"]["redirected_statuses"] == [405, 405]


def test_webhooks_redirected_by_a_signed_get(make, fake):
    """The same redirect seen from this side: Livepeer's GET, still carrying its
    Livepeer-Signature header (node-fetch keeps headers on a 303), reached the ingest route and
    got 405. Later row also true: the webhook is not subscribed to recording.ready."""
    fake.add_webhook(PUBLIC_URL, events=["stream.started", "stream.idle"])
    h = make(public_url=PUBLIC_URL)
    got = h.client.get("/webhooks/livepeer", headers={"Livepeer-Signature": "t=1,v1=" + "0" * 64})
    assert got.status_code == 405
    verdict = codes(h.webhooks(), "webhooks.redirected")
    assert "GET" in verdict["cause"] or "GET" in verdict["evidence"]["redirect_finding"]


def test_webhooks_an_http_registration_is_ours_and_redirected(make, fake):
    """DESIGN.md, under the table: a webhook that differs only in http vs https is ours, and
    while the log shows no 2xx it answers `redirected` (an https redirect turns the POST into a
    GET). Later row also true: its events lack recording.ready (`not_subscribed`)."""
    hook = fake.add_webhook(PUBLIC_URL.replace("https", "http"), events=["stream.started"])
    fake.add_log(hook["id"], {"id": "ev-1", "event": "stream.started"}, status=405)
    verdict = codes(make(public_url=PUBLIC_URL).webhooks(), "webhooks.redirected")
    assert verdict["evidence"]["webhook_id"] == hook["id"]
