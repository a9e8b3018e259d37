"""GET /api/deliveries (DESIGN.md, operator API): every request answered on the ingest route,
rejected ones included, newest first, filtered and paged, bounded in count and age; never a
body, a header value or a secret. Issue 17, point 1."""

from __future__ import annotations

import json
import logging

import pytest
from helpers import (
    SECRET,
    assert_problem,
    auth,
    delivery,
    make_settings,
    now_ms,
    post_delivery,
    signed,
)
from redisproc import RedisNode
from services import service

from webhook_service.ingest.delivery_log import DeliveryEntry
from webhook_service.store import Store
from webhook_service.store.deliveries import (
    DELIVERY_LOG_MAX_AGE_MS,
    SCAN_BUDGET,
    UNVERIFIED_LOG_MAX,
    VERIFIED_LOG_MAX,
)

URL = "/webhooks/livepeer"
MARKER = "Zq7MarkerValue"  # a value that must never be shown or stored in the log


def listed(client, query: str = "") -> list[dict]:
    answer = client.get(f"/api/deliveries{query}", headers=auth())
    assert answer.status_code == 200, answer.get_data()
    return answer.get_json()["deliveries"]


def everything(client, query: str = "", limit: int = 3) -> list[dict]:
    """All entries, page by page along next_cursor."""
    rows: list[dict] = []
    cursor = ""
    sep = "&" if query else "?"
    for _ in range(1000):
        answer = client.get(f"/api/deliveries{query}{sep}limit={limit}{cursor}", headers=auth())
        page = answer.get_json()
        rows += page["deliveries"]
        if page["next_cursor"] is None:
            return rows
        cursor = f"&cursor={page['next_cursor']}"
    raise AssertionError("the cursor never ended")


def test_every_outcome_is_listed_newest_first_with_why(client):
    """Accepted, duplicate, each refusal and a wrong method, newest first; a refusal says
    which check failed and why, the event only once the signature verified."""
    body = delivery(stream_id="s-listed")
    ok = post_delivery(client, body)
    dup = post_delivery(client, {**body, "timestamp": now_ms()})
    raw, headers = signed(delivery(stream_id="s-listed"), secret="not-the-secret")
    forged = client.post(URL, data=raw, headers=headers)
    stale_body = delivery(stream_id="s-listed", timestamp=now_ms() - 900_000)
    stale = post_delivery(client, stale_body)
    raw, headers = signed({**delivery(stream_id="s-listed"), "createdAt": MARKER})
    malformed = client.post(URL, data=raw, headers=headers)
    big = client.post(URL, data=b"x" * (2 * 1024 * 1024), headers={"Content-Type": "x"})
    put = client.put(URL, data=b"{}")
    redirected = client.get(URL, headers={"Livepeer-Signature": f"t={now_ms()},v1=" + "0" * 64})
    answers = [ok, dup, forged, stale, malformed, big, put, redirected]
    assert [a.status_code for a in answers] == [200, 200, 401, 401, 400, 413, 405, 405]

    rows = listed(client)
    assert [r["outcome"] for r in rows] == [
        "wrong_method",
        "wrong_method",
        "too_large",
        "malformed",
        "stale",
        "bad_signature",
        "duplicate",
        "accepted",
    ]
    assert [r["request_id"] for r in rows] == [a.headers["X-Request-ID"] for a in answers][::-1]
    assert all(r["remote_addr"] == "127.0.0.1" for r in rows)
    assert [r["at"] for r in rows] == sorted((r["at"] for r in rows), reverse=True)
    by = {r["request_id"]: r for r in rows}
    accepted = by[ok.headers["X-Request-ID"]]
    assert accepted | {"at": None, "request_id": None} == {
        "at": None,
        "outcome": "accepted",
        "reason": None,
        "detail": None,
        "event_id": body["id"],
        "event": "stream.started",
        "stream_id": "s-listed",
        "request_id": None,
        "remote_addr": "127.0.0.1",
    }
    assert by[dup.headers["X-Request-ID"]]["event_id"] == body["id"]
    forged_row = by[forged.headers["X-Request-ID"]]
    assert (forged_row["reason"], forged_row["event_id"]) == ("signature_mismatch", None)
    assert forged_row["stream_id"] is None  # an unverified sender's words are not shown
    stale_row = by[stale.headers["X-Request-ID"]]
    assert (stale_row["reason"], stale_row["event_id"]) == ("stale", stale_body["id"])
    bad = by[malformed.headers["X-Request-ID"]]
    assert bad["reason"] == "malformed" and bad["detail"].startswith("createdAt: ")
    assert MARKER not in json.dumps(rows)
    assert by[big.headers["X-Request-ID"]]["reason"] == "too_large"
    assert by[put.headers["X-Request-ID"]]["reason"] == "wrong_method"
    assert "PUT" in by[put.headers["X-Request-ID"]]["detail"]
    assert by[redirected.headers["X-Request-ID"]]["reason"] == "redirected_get"


def test_malformed_detail_is_in_the_log_line(client, caplog):
    """The request log line of a malformed delivery names the field and the rule, not the value."""
    caplog.set_level(logging.INFO, logger="webhook_service.request")
    raw, headers = signed({**delivery(), "createdAt": MARKER})
    client.post(URL, data=raw, headers=headers)
    [line] = [r for r in caplog.records if r.name == "webhook_service.request"]
    assert line.outcome == "malformed" and line.reject_detail.startswith("createdAt: ")
    assert MARKER not in line.reject_detail


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?outcome=accepted", ["accepted", "accepted"]),
        ("?outcome=bad_signature", ["bad_signature"]),
        ("?outcome=wrong_method", ["wrong_method"]),
        ("?outcome=storage_error", []),
        ("?stream_id=s-a", ["accepted"]),
        ("?stream_id=s-a&outcome=duplicate", []),
        ("?stream_id=s-b&outcome=accepted", ["accepted"]),
        ("?outcome=", ["wrong_method", "bad_signature", "accepted", "accepted"]),
    ],
)
def test_filters(client, query, expected):
    """`outcome` and `stream_id` narrow the listing; both logs are searched as needed."""
    assert post_delivery(client, delivery(stream_id="s-a")).status_code == 200
    assert post_delivery(client, delivery(stream_id="s-b")).status_code == 200
    assert post_delivery(client, delivery(stream_id="s-a"), secret="wrong").status_code == 401
    assert client.delete(URL).status_code == 405
    assert [r["outcome"] for r in listed(client, query)] == expected


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("?outcome=refused", "outcome must be one of"),
        ("?outcome=ACCEPTED", "outcome must be one of"),
        ("?stream_id=a%20b", "stream_id must be"),
        ("?stream_id=" + "x" * 129, "stream_id must be"),
        ("?limit=0", "limit"),
        ("?limit=ten", "limit"),
        ("?cursor=abc", "cursor"),
        ("?cursor=1-0.x", "cursor"),
        ("?cursor=1-0", "cursor"),
        ("?cursor=" + "9" * 17 + "-0.v", "cursor"),
    ],
)
def test_a_bad_filter_is_400(client, query, words):
    answer = client.get(f"/api/deliveries{query}", headers=auth())
    assert_problem(answer, 400)
    assert words in answer.get_json()["detail"]


def test_the_listing_needs_the_ops_token(client):
    assert_problem(client.get("/api/deliveries"), 401)


def test_pages_cover_both_logs_once_in_order(client, redis_client, key_prefix):
    """Verified and unverified entries interleaved, some at the same stream entry id: paging
    with every page size lists each entry once, in the one-page order."""
    for n in range(5):
        assert post_delivery(client, delivery(stream_id=f"s-{n}")).status_code == 200
        assert client.patch(URL).status_code == 405
    # Same ids in both logs: the verified entry comes first, and a page may end between them.
    for entry_id in ("9999999999990-0", "9999999999990-1"):
        for log in ("deliveries", "deliveries:unverified"):
            redis_client.xadd(f"{key_prefix}:{{~global}}:{log}", {"o": "malformed"}, id=entry_id)
    one_page = listed(client, "?limit=200")
    assert len(one_page) == 14
    for size in (1, 2, 3, 5, 13):
        assert everything(client, limit=size) == one_page
    assert everything(client, "?outcome=wrong_method", limit=2) == [
        r for r in one_page if r["outcome"] == "wrong_method"
    ]


def test_entries_older_than_seven_days_are_not_listed(client, redis_client, key_prefix):
    old = now_ms() - DELIVERY_LOG_MAX_AGE_MS - 60_000
    redis_client.xadd(f"{key_prefix}:{{~global}}:deliveries", {"o": "accepted"}, id=f"{old}-0")
    assert post_delivery(client, delivery()).status_code == 200
    assert [r["outcome"] for r in listed(client)] == ["accepted"]
    assert len(everything(client, limit=1)) == 1


def test_junk_cannot_push_verified_deliveries_out(app, client, redis_client, key_prefix):
    """More unverified junk than its cap: the verified log keeps every delivery, the junk log
    stays near its cap (XADD trims in whole nodes of 100 entries)."""
    for n in range(3):
        assert post_delivery(client, delivery(stream_id=f"kept-{n}")).status_code == 200
    store = service(app, Store)
    junk = DeliveryEntry(
        "bad_signature", "r", "203.0.113.9", "signature_mismatch", "x", verified=False
    )
    for _ in range(UNVERIFIED_LOG_MAX + 500):
        store.record_rejection(junk, now_ms(), counted=False)
    assert post_delivery(client, delivery(), secret="junk").status_code == 401
    unverified = redis_client.xlen(f"{key_prefix}:{{~global}}:deliveries:unverified")
    assert UNVERIFIED_LOG_MAX <= unverified <= UNVERIFIED_LOG_MAX + 200
    kept = listed(client, "?outcome=accepted")
    assert sorted(r["stream_id"] for r in kept) == ["kept-0", "kept-1", "kept-2"]
    assert VERIFIED_LOG_MAX >= 10_000


def test_a_filter_matching_little_answers_a_short_page_with_a_cursor(app, client):
    """The scan budget bounds one request's work; the cursor carries on where it stopped."""
    store = service(app, Store)
    store.record_rejection(DeliveryEntry("malformed", verified=False), now_ms(), False)
    for _ in range(SCAN_BUDGET + 10):
        store.record_rejection(DeliveryEntry("too_large", verified=False), now_ms(), False)
    first = client.get("/api/deliveries?outcome=malformed", headers=auth()).get_json()
    # The malformed entry is older than SCAN_BUDGET junk entries: not found in the first scan.
    assert first["deliveries"] == [] and first["next_cursor"]
    query = f"?outcome=malformed&cursor={first['next_cursor']}"
    assert [r["outcome"] for r in listed(client, query)] == ["malformed"]


def test_no_body_header_value_or_secret_is_stored_or_shown(client, redis_client, key_prefix):
    """Deliveries carrying a secret-looking marker everywhere a sender controls: the log and
    its answer hold none of it (the request id is the edge's own when it is not a plain id)."""
    body = delivery(stream_id="s-secret")
    body["stream"]["streamKey"] = MARKER
    body["payload"] = {"note": MARKER}
    extra = {"X-Request-ID": f"{MARKER} x", "User-Agent": MARKER, "Authorization": MARKER}
    assert post_delivery(client, body, headers=extra).status_code == 200
    assert post_delivery(client, delivery(), secret=MARKER, headers=extra).status_code == 401
    raw, headers = signed({**delivery(), "id": f"{MARKER} {MARKER}"})
    assert client.post(URL, data=raw, headers={**headers, **extra}).status_code == 400
    assert client.get(URL, headers={**extra, "Livepeer-Signature": MARKER}).status_code == 405
    shown = json.dumps(everything(client))
    stored = [
        redis_client.xrange(f"{key_prefix}:{{~global}}:{log}")
        for log in ("deliveries", "deliveries:unverified")
    ]
    assert MARKER not in shown and MARKER not in repr(stored) and SECRET not in shown


def test_accepting_a_delivery_is_still_one_round_trip(tmp_path, make_app, key_prefix):
    """On a Redis of its own (its stats count every client): each accepted delivery is one
    top-level command (the EVALSHA) and one socket read, its log entry written inside it."""
    node = RedisNode(tmp_path, ["--save", "", "--appendonly", "no"]).start()
    checker = node.client()
    try:
        client = make_app(make_settings(node.url, key_prefix)).test_client()
        assert post_delivery(client, delivery()).status_code == 200  # loads the script
        before = checker.info("stats")["total_reads_processed"]
        evalsha = checker.info("commandstats")["cmdstat_evalsha"]["calls"]
        for n in range(20):
            assert post_delivery(client, delivery(stream_id=f"rt-{n}")).status_code == 200
        # A socket read is a round trip; the checker's own INFOs are two more of them.
        reads = checker.info("stats")["total_reads_processed"] - before - 2
        stats = checker.info("commandstats")
        assert (reads, stats["cmdstat_evalsha"]["calls"] - evalsha) == (20, 20)
        assert stats["cmdstat_xadd"]["calls"] == 21  # inside the script
        assert len(listed(client, "?outcome=accepted&limit=200")) == 21
    finally:
        checker.close()
        node.stop()


def test_stream_events_cursor_pages_the_timeline(client):
    """GET /api/streams/<id>/events honours its cursor: pages in order, each event once."""
    base = now_ms() - 10_000
    ids = []
    for n in range(5):
        body = delivery(stream_id="paged", created_at=base + n)
        ids.append(body["id"])
        assert post_delivery(client, body).status_code == 200
    seen, cursor = [], ""
    while True:
        page = client.get(f"/api/streams/paged/events?limit=2{cursor}", headers=auth()).get_json()
        seen += [e["id"] for e in page["events"]]
        if not page["next_cursor"]:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert seen == ids[::-1]


@pytest.mark.parametrize(
    ("event", "session", "shown"),
    [
        ("recording.waiting", {"recordingStatus": "ready"}, "waiting"),
        ("recording.waiting", {}, "waiting"),
        ("recording.ready", {"recordingStatus": "ready"}, "waiting"),
        (
            "recording.ready",
            {"recordingStatus": "ready", "recordingUrl": "https://c/r.m3u8"},
            "ready",
        ),
        ("recording.ready", {"mp4Url": "https://c/r.mp4"}, "ready"),
        ("recording.waiting", {"recordingStatus": "failed"}, "failed"),
        ("recording.waiting", {"recordingStatus": "something-new"}, None),
    ],
)
def test_session_recording_status_follows_the_diagnosis_rule(client, event, session, shown):
    """ "ready" only with a URL (DESIGN.md, Stream): a recording.waiting reads "waiting"."""
    body = delivery(event=event, stream_id="rec")
    body["payload"] = {"session": {"id": "ses-1", "parentId": "rec", **session}}
    assert post_delivery(client, body).status_code == 200
    stream = client.get("/api/streams/rec", headers=auth()).get_json()
    assert stream["sessions"][0]["recording_status"] == shown
