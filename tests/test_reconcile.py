"""Reconcile: which failed log rows to resend (pure), and recovering an outage end to end.

The fake Livepeer's resend posts the re-signed delivery to the app over real HTTP, so every
recovered event goes through the ingest route, the signature check and Redis. As Livepeer's
(cannon.ts resendWebhook), it goes to the row's request.url, signed with the row's secret.
"""

from __future__ import annotations

import time
import urllib.request
from datetime import UTC, datetime, timedelta, timezone

import pytest
from fake_livepeer import FAKE_API_KEY
from helpers import SECRET, assert_problem, auth, dead_redis_url, make_settings, now_ms
from reconcile_harness import HOOK, MINUTE, PUBLIC_URL, FakeClock, Outage

from webhook_service.config import Secret
from webhook_service.http.schemas import iso_from_ms
from webhook_service.livepeer.facts import WebhookLogEntry
from webhook_service.reconcile.failures import elsewhere, refusal, resend_failure
from webhook_service.reconcile.plan import Candidate, failed_candidates, parse_since, plan, since_ms
from webhook_service.reconcile.runner import Limits

NOW = 1_764_086_400_000


def row(log_id, event_id, at, success=False, status=503, stream_id="s1"):
    return WebhookLogEntry(log_id, "stream.started", at, success, status, event_id, stream_id)


def answer(found, already_applied, resent, old_secret=0, old_url=0, other=0):
    """The reconcile answer: the four counts and `failed` by kind."""
    failures = {"old_secret": old_secret, "old_url": old_url, "other": other}
    return {
        "found": found,
        "already_applied": already_applied,
        "resent": resent,
        "failed": sum(failures.values()),
        "failures": failures,
    }


# -- pure: which rows, which order -------------------------------------------------------------


def test_candidates_keep_failed_rows_in_the_window_one_per_event_oldest_first():
    """Failed rows since `since` (inclusive), deduplicated to the newest row per event id."""
    entries = [
        row("l5", "e2", NOW + 50),  # the newest failed attempt of e2 is the one resent
        row("l4", "e1", NOW + 40, success=True, status=200),  # a success is never resent
        row("l3", "e2", NOW + 30),
        row("l2", "e1", NOW + 20),
        row("l1", "e3", NOW),  # exactly at `since`
        row("l0", "e4", NOW - 1),  # before the window
    ]
    got = failed_candidates(entries, since_ms=NOW)
    assert [(c.log_id, c.event_id) for c in got] == [("l1", "e3"), ("l2", "e1"), ("l5", "e2")]


@pytest.mark.parametrize(
    ("entry", "kept"),
    [
        (row("l", "e", NOW, success=None, status=None), True),  # timeout: no response
        (row("l", "e", NOW, success=None, status=500), True),
        (row("l", "e", NOW, success=None, status=204), False),
        (row("l", "e", NOW, success=False, status=200), True),  # Livepeer's flag wins
        (row("l", None, NOW), False),  # body unreadable: nothing to check or resend
        (row("l", "e/../x", NOW), False),  # not an id ingest would accept
        (row("l", "e" * 129, NOW), False),
        (row("l", "e", None), False),  # no time: cannot tell it is in the window
    ],
)
def test_candidate_rows_table(entry, kept):
    """Which rows count as failed deliveries worth resending."""
    assert bool(failed_candidates([entry], since_ms=0)) is kept


@pytest.mark.parametrize(
    ("stream_id", "expected"), [("s-1", "s-1"), (None, None), ("{x}", None), ("a" * 129, None)]
)
def test_candidate_stream_id_is_a_plain_token_or_none(stream_id, expected):
    """A stream id that could break a Redis key (hash tags) is dropped, not used."""
    [candidate] = failed_candidates([row("l", "e", NOW, stream_id=stream_id)], since_ms=0)
    assert candidate.stream_id == expected


def test_plan_counts_applied_and_earlier_resends():
    """Applied ids are skipped; ids an interrupted run resent count as resent, not redone."""
    candidates = [Candidate(f"l{i}", f"e{i}", None, None, NOW + i) for i in range(5)]
    todo, elsewhere, summary = plan(candidates, applied={"e0", "e3"}, resent_before={"e1", "e3"})
    assert [c.event_id for c in todo] == ["e2", "e4"] and elsewhere == []
    assert summary.as_dict() == answer(5, 2, 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-11-25T15:00:00Z", NOW - 3_600_000),
        ("2025-11-25T16:00:00.000+01:00", NOW - 3_600_000),
        ("2025-11-25T16:00:00+00:00", NOW),
        (" 90m ", NOW - 90 * MINUTE),
        ("24h", NOW - 86_400_000),
        ("3d", NOW - 3 * 86_400_000),
        ("0m", NOW),
    ],
)
def test_parse_since_accepts(text, expected):
    """ISO-8601 with a zone, or a duration back from now."""
    assert parse_since(text, NOW) == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("2025-11-25T16:00:00", "time zone"),
        ("2025-11-25", "time zone"),
        ("yesterday", "ISO-8601"),
        ("", "ISO-8601"),
        ("10x", "ISO-8601"),
        ("-3d", "ISO-8601"),
        ("2025-11-25T16:00:00.001Z", "future"),
    ],
)
def test_parse_since_refuses(text, says):
    """Ambiguous, unknown or future times are refused with a reason."""
    with pytest.raises(ValueError, match=says):
        parse_since(text, NOW)


def test_since_out_of_range_is_a_value_error():
    """A time datetime cannot move to UTC is refused, not a crash."""
    far = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14)))
    with pytest.raises(ValueError, match="range"):
        since_ms(far, NOW)


# -- pure: why a delivery was not recovered ---------------------------------------------------

BAD_SIGNATURE = (
    '{"type":"urn:livepeer-webhooks:problem:bad-signature","title":"Bad signature",'
    '"status":401,"detail":"no v1 signature matches a configured secret"}'
)


def resent_row(status, body=None):
    """The new log row a resend answers with: its response status and (decoded) body."""
    return WebhookLogEntry("new", "stream.started", NOW, False, status, response_body=body)


@pytest.mark.parametrize(
    ("row", "kind", "says"),
    [
        (resent_row(401, BAD_SIGNATURE), "old_secret", "bad_signature"),
        (resent_row(401, BAD_SIGNATURE[:60]), "old_secret", "bad_signature"),  # cut at 1 KiB
        (resent_row(401, '{"type":"urn:livepeer-webhooks:problem:stale"}'), "other", "(stale)"),
        (resent_row(401, "Unauthorized"), "other", "HTTP 401"),
        (resent_row(401, None), "other", "HTTP 401"),
        (resent_row(403, BAD_SIGNATURE), "other", "HTTP 403 (bad-signature)"),
        (resent_row(400, '{"type":"urn:x:malformed"}'), "other", "HTTP 400 (malformed)"),
        (resent_row(503, "[1, 2]"), "other", "HTTP 503"),
        (resent_row(None), "other", "no answer"),
        (None, "other", "did not answer 2xx"),
    ],
)
def test_a_refused_resend_is_old_secret_only_for_our_bad_signature(row, kind, says):
    """old_secret = the new row says this receiver answered 401 with type ...:bad-signature."""
    assert resend_failure(row) == kind
    assert says in refusal(row)


@pytest.mark.parametrize(
    ("request_url", "public_url", "elsewhere"),
    [
        (PUBLIC_URL, PUBLIC_URL, False),
        ("HTTPS://93.184.216.34:443/webhooks/livepeer/", PUBLIC_URL, False),  # same, by same_url
        ("https://old.example.com/webhooks/livepeer", PUBLIC_URL, True),
        ("https://93.184.216.34/webhooks/other", PUBLIC_URL, True),
        ("http://93.184.216.34/webhooks/livepeer", PUBLIC_URL, True),  # a resend would redirect
        ("not a url", PUBLIC_URL, True),
        (None, PUBLIC_URL, False),  # no request.url: nothing tells, so it is resent
        ("https://old.example.com/webhooks/livepeer", None, False),  # no PUBLIC_URL
    ],
)
def test_old_url_is_judged_on_the_row_that_would_be_resent(request_url, public_url, elsewhere):
    """A row whose request.url is not PUBLIC_URL (urls.same_url) is old_url and not resent."""
    candidate = Candidate("l1", "e1", None, None, NOW, request_url)
    todo, away, summary = plan([candidate], set(), set(), public_url)
    assert (away == [candidate], todo == [candidate]) == (elsewhere, not elsewhere)
    assert summary.failures == {"old_secret": 0, "old_url": int(elsewhere), "other": 0}
    assert summary.failed == int(elsewhere)


def test_an_applied_or_earlier_resent_event_is_not_old_url():
    """Applied here, or resent by an earlier run, comes before the URL question."""
    away = "https://old.example.com/webhooks/livepeer"
    candidates = [Candidate(f"l{i}", f"e{i}", None, None, NOW + i, away) for i in range(3)]
    todo, elsewhere, summary = plan(candidates, {"e0"}, {"e1"}, PUBLIC_URL)
    assert todo == [] and [c.event_id for c in elsewhere] == ["e2"]
    assert summary.as_dict() == answer(3, 1, 1, old_url=1)


def test_the_old_url_line_never_shows_credentials():
    """The URL a row went to is shown without userinfo or query (either may hold a secret)."""
    said = elsewhere("https://user:pw@old.example.com/hook?token=abc")
    assert "https://old.example.com/hook" in said and "pw" not in said and "abc" not in said


# -- end to end --------------------------------------------------------------------------------


@pytest.fixture
def outage(redis_url, key_prefix, fake):
    scene = Outage(redis_url, key_prefix, fake)
    yield scene
    scene.stop()


def test_reconcile_recovers_missed_events_through_ingest(outage):
    """Failed, never-applied deliveries are resent once each, oldest first, signed, and applied;
    a second run finds them all applied and resends nothing."""
    started = outage.missed("stream.started", "s1", minutes_ago=10, attempts=3)
    idle = outage.missed("stream.idle", "s1", minutes_ago=8, status=None)
    asset = outage.missed("asset.ready", None, minutes_ago=7, payload={"asset": {"id": "a1"}})
    session = {"id": "ses1", "parentId": "s1", "recordingUrl": "https://cdn.example/r.m3u8"}
    ready = outage.missed("recording.ready", None, minutes_ago=6, payload={"session": session})
    outage.recovered_by_retry("s2", minutes_ago=20)
    outage.missed("stream.started", "old", minutes_ago=120)  # before `since`
    outage.fake.add_log(HOOK, {"id": "fine", "event": "stream.idle"}, status=200)

    status, summary = outage.reconcile()
    assert status == 200, summary
    assert summary == answer(5, 1, 4)
    assert outage.resent_log_ids() == [started["id"], idle["id"], asset["id"], ready["id"]]
    stream = outage.stream("s1")
    assert stream["state"] == "idle" and stream["sessions"][0]["recording_status"] == "ready"
    assert outage.stream("old") is None

    status, again = outage.reconcile()
    assert again == answer(5, 5, 0)
    assert len(outage.resent_log_ids()) == 4


def test_dry_run_counts_and_resends_nothing(outage):
    """dry_run reports what is missing without asking Livepeer for anything."""
    outage.missed("stream.started", "s1")
    outage.recovered_by_retry("s2")
    status, summary = outage.reconcile(dry_run=True)
    assert (status, summary) == (200, answer(2, 1, 0))
    assert outage.fake.resends == [] and outage.stream("s1") is None


def test_log_pages_are_followed_until_since(outage):
    """Link pages are read newest first until one reaches back past `since`; not further."""
    for i in range(8):  # the fake lists rows in the order added, newest last: add oldest first
        outage.missed("stream.detection", f"gone{i}", minutes_ago=300 - i)
    rows = [outage.missed("stream.detection", f"p{i}", minutes_ago=30 - i) for i in range(7)]
    for i in range(6):
        outage.fake.add_log(HOOK, {"id": f"ok{i}", "event": "stream.idle"}, status=200)
    summary = outage.reconciler().run(
        HOOK, now_ms() - 60 * MINUTE, limits=Limits(page_size=4, rate=1000)
    )
    assert summary.as_dict() == answer(7, 0, 7)
    assert outage.resent_log_ids() == [r["id"] for r in rows]
    reads = [r.path for r in outage.fake.requests if r.path.startswith("/api/webhook/wh-ours/log?")]
    assert len(reads) == 4  # 13 rows in the window, then older ones: 4 of the 6 pages
    assert "filters=" in reads[0]  # failures are asked for; rows are still checked here


def test_resend_failures_are_counted_and_retried_next_run(outage):
    """A resend the API refuses is `failed`; the next run resends only that one."""
    rows = [outage.missed("stream.detection", f"f{i}", minutes_ago=9 - i) for i in range(3)]
    outage.fake.fail(f"/webhook/{HOOK}/log/{rows[1]['id']}/resend", 500)
    status, summary = outage.reconcile()
    assert summary == answer(3, 0, 2, other=1)
    assert status == 200 and outage.resent_log_ids() == [rows[0]["id"], rows[2]["id"]]

    outage.fake.clear_faults()
    status, summary = outage.reconcile()
    assert summary == answer(3, 2, 1)
    assert outage.resent_log_ids()[-1] == rows[1]["id"]


OLD_SECRET = "whsec-before-rotation-5e0c"
OLD_URL = "https://old-host.example.com/webhooks/livepeer"


def test_a_rotation_that_dropped_the_old_secret_is_old_secret(redis_url, key_prefix, fake):
    """cannon.ts resendWebhook signs a resend with the row's sharedSecret (storeResponse wrote
    the webhook's secret of the first delivery) and controllers/webhook-log.ts `POST
    /:requestId/resend` answers with the new row: refused here as bad_signature, the event is
    old_secret; with the old secret listed again, the same reconcile recovers it."""
    since = iso_from_ms(now_ms() - 60 * MINUTE)
    rotated = Outage(redis_url, key_prefix, fake, webhook_secrets=(Secret(SECRET),))
    try:
        rotated.missed("stream.started", "rot1", minutes_ago=50, secret=OLD_SECRET)
        rotated.missed("stream.idle", "rot1", minutes_ago=45, secret=OLD_SECRET, status=None)
        rotated.missed("stream.started", "rot2", minutes_ago=30)  # signed with the new secret
        status, summary = rotated.reconcile(since=since)
        assert (status, summary) == (200, answer(3, 0, 1, old_secret=2))
        assert rotated.stream("rot1") is None and rotated.stream("rot2")["state"] == "active"
        refused = [r for r in fake.webhook_logs[HOOK] if r.get("response", {}).get("status") == 401]
        assert len(refused) == 2 and {r["request"]["url"] for r in refused} == {PUBLIC_URL}
        assert rotated.reconcile(since=since)[1] == answer(3, 1, 0, old_secret=2)  # still
    finally:
        rotated.stop()

    both = Outage(redis_url, key_prefix, fake, webhook_secrets=(Secret(SECRET), Secret(OLD_SECRET)))
    try:
        status, summary = both.reconcile(since=since)
        assert (status, summary) == (200, answer(3, 1, 2))
        assert both.stream("rot1")["state"] == "idle"
    finally:
        both.stop()


def test_deliveries_to_an_old_url_are_old_url_and_never_resent(outage):
    """cannon.ts resendWebhook sends a resend to the row's request.url (storeResponse wrote the
    webhook's url of that delivery), not to the webhook's current url: rows that went to
    another URL than PUBLIC_URL are old_url and not resent; rows that went here are resent."""
    before = outage.missed("stream.started", "url1", minutes_ago=50, url=OLD_URL, attempts=3)
    outage.missed("stream.idle", "url1", minutes_ago=45, url=OLD_URL)
    spelled = outage.missed(
        "stream.started", "url2", minutes_ago=30, url="HTTPS://93.184.216.34:443/webhooks/livepeer/"
    )
    after = outage.missed("stream.started", "url3", minutes_ago=20)
    status, summary = outage.reconcile()
    assert (status, summary) == (200, answer(4, 0, 2, old_url=2))
    assert outage.resent_log_ids() == [spelled["id"], after["id"]] and outage.elsewhere == []
    assert before["request"]["url"] == OLD_URL and outage.stream("url1") is None

    assert outage.reconcile(dry_run=True)[1] == answer(4, 2, 0, old_url=2)  # every run says so


def test_other_failures_are_other(outage):
    """A resend the API fails (controllers/webhook-log.ts `POST /:requestId/resend`), or that
    this receiver refuses for another reason than the signature (the new row's response,
    cannon.ts resendWebhook -> storeResponse), is other; the rest are recovered."""
    malformed = {"id": "evt-no-created-at", "event": "stream.started", "stream": {"id": "oth1"}}
    outage.fake.add_log(HOOK, malformed, status=500, created_at=now_ms() - 40 * MINUTE)
    broken = outage.missed("stream.started", "oth2", minutes_ago=30)
    outage.missed("stream.started", "oth3", minutes_ago=20)
    outage.fake.fail(f"/webhook/{HOOK}/log/{broken['id']}/resend", 500)
    status, summary = outage.reconcile()
    assert (status, summary) == (200, answer(3, 0, 1, other=2))
    assert outage.stream("oth3") and outage.stream("oth1") is None


def test_the_resent_row_answer_is_decoded(outage):
    """response.body is base64 of the answer's first 1024 characters (cannon.ts storeResponse);
    request.url is parsed too; a body that is not base64 is kept as it is."""
    outage.fake.add_log(HOOK, {"id": "b1"}, status=401, response_body=BAD_SIGNATURE)
    raw = outage.fake.add_log(HOOK, {"id": "b2"}, status=500)
    raw["response"]["body"] = '{"error": "raw"}'
    page = outage.api().webhook_log(HOOK, deadline=time.monotonic() + 5)
    got = {e.event_id: (e.response_body, e.request_url) for e in page.value.entries}
    assert got == {"b1": (BAD_SIGNATURE, PUBLIC_URL), "b2": ('{"error": "raw"}', PUBLIC_URL)}
    request = urllib.request.Request(
        f"{outage.fake.url}/webhook/{HOOK}/log", headers={"Authorization": f"Bearer {FAKE_API_KEY}"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        served = response.read().decode()
    assert SECRET not in served and "sharedSecret" not in served  # write-only, as Livepeer's


def test_an_interrupted_run_resumes_without_resending_twice(outage):
    """Ctrl-C in the middle: the next run resends only the rest; each row exactly once."""
    rows = [outage.missed("stream.detection", f"i{i}", minutes_ago=20 - i) for i in range(5)]
    clock = FakeClock(interrupt_on_sleep=2)
    with pytest.raises(KeyboardInterrupt):
        outage.reconciler(clock).run(HOOK, now_ms() - 60 * MINUTE)
    assert outage.resent_log_ids() == [rows[0]["id"], rows[1]["id"]]

    summary = outage.reconciler().run(HOOK, now_ms() - 60 * MINUTE, limits=Limits(rate=1000))
    assert summary.as_dict() == answer(5, 2, 3)
    assert outage.resent_log_ids() == [r["id"] for r in rows]
    assert all(outage.stream(f"i{i}") for i in range(5))


def test_the_checkpoint_skips_resends_that_landed_elsewhere(outage, redis_client, key_prefix):
    """Resends Livepeer delivered but that are not in Redis (yet) are not asked for twice."""
    outage.missed("stream.started", "c1", minutes_ago=5)
    outage.missed("stream.started", "c2", minutes_ago=4)
    outage.fake.on_resend = lambda hook, body, headers: 200  # delivered, not to this service
    assert outage.reconcile()[1] == answer(2, 0, 2)
    assert outage.reconcile()[1] == answer(2, 0, 2)
    assert len(outage.fake.resends) == 2
    key = f"{key_prefix}:{{~global}}:reconcile:{HOOK}"
    assert redis_client.hlen(key) == 2 and 0 < redis_client.ttl(key) <= 7 * 86_400


def test_resends_are_rate_limited(outage):
    """At most `rate` resends a second: 5 resends at 4/s wait about 1 s in all."""
    for i in range(5):
        outage.missed("stream.detection", f"r{i}", minutes_ago=9 - i)
    clock = FakeClock()
    summary = outage.reconciler(clock).run(HOOK, now_ms() - 60 * MINUTE, limits=Limits(rate=4))
    assert summary.resent == 5
    assert len(clock.sleeps) == 4 and all(0.1 < s <= 0.25 for s in clock.sleeps)


def test_max_resends_caps_a_run_and_the_next_goes_on(outage):
    """A capped run leaves found above the other counts; the next run continues."""
    for i in range(3):
        outage.missed("stream.detection", f"m{i}", minutes_ago=9 - i)
    run = outage.reconciler().run
    since = now_ms() - 60 * MINUTE
    first = run(HOOK, since, limits=Limits(rate=1000, max_resends=2))
    assert first.as_dict() == answer(3, 0, 2)
    second = run(HOOK, since, limits=Limits(rate=1000, max_resends=2))
    assert second.as_dict() == answer(3, 2, 1)


def test_the_cap_counts_this_run_only(outage):
    """Resends of an earlier run (checkpointed) do not use up this run's max_resends."""
    for i in range(3):
        outage.missed("stream.detection", f"k{i}", minutes_ago=9 - i)
    outage.fake.on_resend = lambda hook, body, headers: 200  # delivered, not to this service
    since, limits = now_ms() - 60 * MINUTE, Limits(rate=1000, max_resends=1)
    assert outage.reconciler().run(HOOK, since, limits=limits).resent == 1
    assert outage.reconciler().run(HOOK, since, limits=limits).resent == 2
    assert len(outage.fake.resends) == 2


@pytest.mark.parametrize("status", [401, 403, 429])
def test_a_refused_key_or_rate_limit_stops_the_run(outage, status):
    """Every further resend would fail the same way: one failure, then the run stops."""
    for i in range(3):
        outage.missed("stream.detection", f"q{i}", minutes_ago=9 - i)
    outage.fake.fail(f"/webhook/{HOOK}/log/", status)  # the resend calls, not the listing
    status_code, summary = outage.reconcile()
    assert summary == answer(3, 0, 0, other=1)
    assert outage.fake.hits(f"/api/webhook/{HOOK}/log/") == 1


def test_webhook_id_picks_another_webhook(outage):
    """An explicit webhook_id is used instead of the PUBLIC_URL match."""
    outage.fake.add_webhook("https://elsewhere.example/hook", "wh-other")
    outage.fake.add_log("wh-other", {"id": "x1", "event": "stream.idle"}, status=500)
    status, summary = outage.reconcile(webhook_id="wh-other", dry_run=True)
    assert (status, summary["found"]) == (200, 1)


# -- the route's errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({}, "since"),
        ({"since": "2025-11-25T16:00:00"}, "time zone"),
        ({"since": 1764086400}, "since"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2999-01-01T00:00:00Z"}, "future"),
        ({"since": "0001-01-01T00:00:00+14:00"}, "range"),
        ({"since": "2025-11-25T16:00:00Z", "dry_run": "yes"}, "dry_run"),
        ({"since": "2025-11-25T16:00:00Z", "webhook_id": "../x"}, "webhook_id"),
        ({"since": "2025-11-25T16:00:00Z", "limit": 5}, "limit"),
    ],
)
def test_bad_requests_are_400(outage, body, says):
    """Malformed bodies are 400 problem+json naming the field."""
    response = outage.client.post("/api/reconcile", json=body, headers=auth())
    assert response.status_code == 400 and response.mimetype == "application/problem+json"
    assert says in response.get_json()["detail"]


def test_not_json_is_400(outage):
    """A body that is not JSON is a 400, never a 500."""
    response = outage.client.post("/api/reconcile", data=b"{nope", headers=auth())
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("overrides", "body", "status", "says"),
    [
        ({"livepeer_api_key": None}, {}, 400, "LIVEPEER_API_KEY"),
        ({"public_url": None}, {}, 400, "PUBLIC_URL"),
        ({"public_url": "https://not-registered.example/hook"}, {}, 404, "PUBLIC_URL"),
        ({}, {"webhook_id": "wh-unknown"}, 404, "wh-unknown"),
    ],
)
def test_configuration_problems(redis_url, key_prefix, fake, overrides, body, status, says):
    """Without an API key, or without a way to find our webhook, the answer says what to set."""
    scene = Outage(redis_url, key_prefix, fake, **overrides)
    try:
        got, problem = scene.reconcile(**body)
    finally:
        scene.stop()
    assert got == status and says in problem["detail"]


def test_livepeer_api_failure_is_502(outage):
    """The API failing while the log is read is a 502 problem, and nothing is resent."""
    outage.missed()
    outage.fake.fail(f"/webhook/{HOOK}/log", 503)
    status, problem = outage.reconcile()
    assert status == 502 and "HTTP 503" in problem["detail"]
    assert problem["type"].endswith(":livepeer-api") and outage.fake.resends == []


def test_needs_the_ops_token(outage):
    """No bearer token: 401 before anything else."""
    response = outage.client.post("/api/reconcile", json={"since": "2025-11-25T16:00:00Z"})
    assert response.status_code == 401


def test_redis_down_is_503(make_app, fake, key_prefix):
    """The applied-ids lookup failing on Redis is a 503 with Retry-After."""
    fake.add_webhook("https://93.184.216.34/webhooks/livepeer", HOOK)
    fake.add_log(HOOK, {"id": "e1", "event": "stream.idle", "createdAt": 1}, status=500)
    settings = make_settings(
        dead_redis_url(),
        key_prefix,
        livepeer_api_key=Secret("fake-livepeer-api-key-7f3a"),
        livepeer_api_url=fake.url,
        public_url="https://93.184.216.34/webhooks/livepeer",
    )
    client = make_app(settings).test_client()
    since = iso_from_ms(now_ms() - 60 * MINUTE)
    response = client.post("/api/reconcile", json={"since": since}, headers=auth())
    assert response.status_code == 503 and response.headers["Retry-After"]


def test_openapi_documents_the_route_and_its_cap(outage):
    """/openapi.json has the request and summary shapes, with the per-call cap explained."""
    spec = outage.client.get("/openapi.json").get_json()
    operation = spec["paths"]["/api/reconcile"]["post"]
    assert {"400", "401", "404", "502", "503"} <= set(operation["responses"])
    schemas = spec["components"]["schemas"]
    summary = schemas["ReconcileSummary"]
    assert set(summary["properties"]) == {
        "found",
        "already_applied",
        "resent",
        "failed",
        "failures",
    }
    assert set(summary["required"]) == set(summary["properties"])
    assert "call again" in summary["description"]
    failures = schemas["ReconcileFailures"]["properties"]
    assert set(failures) == {"old_secret", "old_url", "other"}
    assert "LIVEPEER_WEBHOOK_SECRET" in failures["old_secret"]["description"]
    assert "PUBLIC_URL" in failures["old_url"]["description"]
    since = schemas["ReconcileRequest"]["properties"]["since"]["description"]
    assert "ISO-8601" in since and "24h" in since
    assert set(spec["components"]["schemas"]["ReconcileRequest"]["properties"]) == {
        "since",
        "webhook_id",
        "dry_run",
    }


def test_since_in_the_request_may_carry_any_zone(outage):
    """An offset other than Z names the same instant."""
    outage.missed("stream.started", "z1", minutes_ago=30)
    zone = timezone(timedelta(hours=-5))
    since = (datetime.now(UTC) - timedelta(hours=1)).astimezone(zone).isoformat()
    assert outage.reconcile(since=since, dry_run=True)[1]["found"] == 1


def test_since_takes_a_duration_as_the_cli_does(outage):
    """`since` may be a duration back from now, parsed as the CLI parses --since (90m, 24h,
    7d); each widens the window."""
    for stream_id, minutes in (("d1", 30), ("d2", 3 * 60), ("d3", 2 * 24 * 60)):
        outage.missed("stream.started", stream_id, minutes_ago=minutes)
    found = {s: outage.reconcile(since=s, dry_run=True)[1]["found"] for s in ("90m", "24h", "7d")}
    assert found == {"90m": 1, "24h": 2, "7d": 3}


@pytest.mark.parametrize(
    ("since", "says"),
    [
        ("90x", "is not an ISO-8601 time (2026-11-25T18:00:00Z) or a duration (90m, 24h, 3d)"),
        ("-3d", "is not an ISO-8601 time"),
        ("1.5h", "is not an ISO-8601 time"),
        ("24 h", "is not an ISO-8601 time"),
        ("24H", "is not an ISO-8601 time"),
        ("PT24H", "is not an ISO-8601 time"),  # an ISO-8601 duration: not taken, said so
        ("2w", "is not an ISO-8601 time"),
        ("1234567d", "is not an ISO-8601 time"),
        ("", "is not an ISO-8601 time"),
        ("   ", "is not an ISO-8601 time"),
        ("h", "is not an ISO-8601 time"),
        ("2026-11-25 18:00", "give the time zone"),
        ("9" * 65, "since"),
    ],
)
def test_bad_since_forms_are_400_with_what_is_accepted(outage, since, says):
    """A `since` that is neither form is a 400 naming the field and both accepted forms."""
    response = outage.client.post("/api/reconcile", json={"since": since}, headers=auth())
    problem = assert_problem(response, 400)
    assert problem["detail"].startswith("since") and says in problem["detail"]
    assert outage.fake.requests == []  # refused before Livepeer is asked anything


@pytest.mark.parametrize(
    ("body", "stream_id"),
    [
        ({"id": "e1", "stream": {"id": "s-a"}}, "s-a"),
        ({"id": "e1", "payload": {"session": {"id": "x", "parentId": "s-b"}}}, "s-b"),
        ({"id": "e1", "stream": {"id": "s-c"}, "payload": {"session": {"parentId": "s-d"}}}, "s-c"),
        ({"id": "e1", "payload": {"asset": {"id": "a"}}}, None),
        ({"id": "e1", "stream": "s-e"}, None),
    ],
)
def test_log_rows_name_the_stream_as_ingest_would(outage, body, stream_id):
    """The stream of a logged delivery: stream.id, else payload.session.parentId, else none."""
    outage.fake.add_log(HOOK, body, status=500)
    page = outage.api().webhook_log(HOOK, deadline=time.monotonic() + 5)
    assert [(e.event_id, e.stream_id) for e in page.value.entries] == [("e1", stream_id)]
