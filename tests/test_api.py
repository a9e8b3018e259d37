"""The operator API: bearer auth, stream listing and pagination, timelines, 404/400/503."""

from __future__ import annotations

import pytest
from helpers import (
    SECOND_TOKEN,
    assert_problem,
    auth,
    dead_redis_url,
    delivery,
    make_settings,
    now_ms,
    post_delivery,
)


def seed(client, stream_id, event="stream.started", created=None, **extra):
    body = delivery(event=event, stream_id=stream_id, created_at=created, **extra)
    assert post_delivery(client, body).status_code == 200
    return body


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic b3BzOnRva2Vu"},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": "Bearer ops-token-test-6c2"},
        {"Authorization": "Bearer ops-token-test-6c2e-and-more"},
        {"Authorization": "Bearer ÿþ"},
    ],
    ids=["none", "bare-scheme", "empty", "basic", "wrong", "prefix", "longer", "latin1"],
)
@pytest.mark.parametrize(
    "path", ["/api/streams", "/api/streams/x", "/api/streams/x/events", "/api/events"]
)
def test_api_requires_a_valid_bearer_token(client, headers, path):
    """Every /api route answers 401 problem+json without one of the configured tokens."""
    response = client.get(path, headers=headers)
    body = assert_problem(response, 401)
    assert "ops-token-test" not in body["detail"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_token_in_query_string_is_not_accepted(client):
    """A token in the query string would be logged: it is never accepted."""
    assert_problem(client.get("/api/streams?access_token=ops-token-test-6c2e"), 401)


def test_every_configured_token_works(client):
    """Several tokens may be configured (rotation); each is accepted."""
    assert client.get("/api/streams", headers=auth()).status_code == 200
    assert client.get("/api/streams", headers=auth(SECOND_TOKEN)).status_code == 200


def test_stream_shape(client):
    """GET /api/streams/<id> gives the contract fields with ISO-8601 UTC times."""
    created = now_ms() - 1000
    seed(client, "s-shape", created=created)
    stream = client.get("/api/streams/s-shape", headers=auth()).get_json()
    for field in (
        "id",
        "name",
        "playback_id",
        "state",
        "last_event",
        "last_event_at",
        "record",
        "playback_policy",
        "sessions",
    ):
        assert field in stream
    assert stream["state"] == "active" and stream["record"] is True
    assert (
        stream["last_event_at"].endswith("Z")
        and stream["last_event_at"][:4] == "20" + str(created)[:0] + stream["last_event_at"][2:4]
    )


def test_sessions_appear_with_recording_urls(client):
    """recording.ready payloads give the stream a session with its URLs."""
    seed(client, "s-rec", event="stream.idle")
    seed(
        client,
        "s-rec",
        event="recording.ready",
        payload={
            "recordingUrl": "https://cdn/x/index.m3u8",
            "mp4Url": "https://cdn/x.mp4",
            "session": {"id": "ses-9", "parentId": "s-rec", "recordingStatus": "ready"},
        },
    )
    stream = client.get("/api/streams/s-rec", headers=auth()).get_json()
    assert stream["state"] == "idle"
    assert stream["sessions"][0] | {"created_at": None, "updated_at": None} == {
        "id": "ses-9",
        "recording_status": "ready",
        "recording_url": "https://cdn/x/index.m3u8",
        "mp4_url": "https://cdn/x.mp4",
        "created_at": None,
        "updated_at": None,
    }


def test_unknown_stream_is_404(client):
    """A stream that never sent an event is 404, for the stream and its events."""
    assert_problem(client.get("/api/streams/never-seen", headers=auth()), 404)
    assert_problem(client.get("/api/streams/never-seen/events", headers=auth()), 404)
    assert_problem(client.get("/api/streams/bad%20id", headers=auth()), 404)


def test_stream_events_newest_first_one_per_id(client):
    """A stream's events come newest createdAt first, duplicates not repeated."""
    base = now_ms() - 10_000
    first = seed(client, "s-ev", created=base)
    seed(client, "s-ev", event="stream.idle", created=base + 2000)
    post_delivery(client, first)  # a duplicate
    events = client.get("/api/streams/s-ev/events", headers=auth()).get_json()["events"]
    assert [e["event"] for e in events] == ["stream.idle", "stream.started"]
    assert {"id", "event", "created_at", "received_at", "stream_id", "session_id"} <= set(events[0])


def test_list_pages_and_filters(client):
    """Cursor pages list each stream once, newest first; state filters by active/idle."""
    base = now_ms() - 60_000
    for i in range(7):
        seed(client, f"p{i}", event="stream.idle" if i % 2 else "stream.started", created=base + i)
    ids, cursor = [], None
    while True:
        url = "/api/streams?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=auth()).get_json()
        assert len(page["streams"]) <= 3
        ids += [s["id"] for s in page["streams"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert ids == [f"p{i}" for i in range(6, -1, -1)]
    active = client.get("/api/streams?state=active", headers=auth()).get_json()["streams"]
    assert [s["id"] for s in active] == ["p6", "p4", "p2", "p0"]
    assert all(s["state"] == "active" for s in active)


def test_global_events_include_assets(client):
    """GET /api/events lists stream and non-stream events together."""
    seed(client, "s-g")
    seed(client, None, event="asset.ready", payload={"asset": {"id": "asset-1"}})
    events = client.get("/api/events?limit=10", headers=auth()).get_json()
    assert {e["event"] for e in events["events"]} == {"stream.started", "asset.ready"}
    assert events["next_cursor"] is None


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=-1",
        "limit=abc",
        "limit=1.5",
        "limit=99999999999",
        "cursor=%%%",
        "cursor=bm9wZQ",
        "state=live",
        "state=ACTIVE",
    ],
)
def test_bad_query_values_are_400(client, query):
    """A bad limit, cursor or state is a 400 problem naming the parameter."""
    body = assert_problem(client.get(f"/api/streams?{query}", headers=auth()), 400)
    assert query.split("=")[0] in body["detail"]


def test_limit_above_200_is_clamped(client):
    """limit=1000 is served as 200, not refused."""
    assert client.get("/api/streams?limit=1000", headers=auth()).status_code == 200
    assert client.get("/api/events?limit=1000", headers=auth()).status_code == 200


def test_api_answers_503_when_redis_is_down(make_app, key_prefix):
    """Routes that need Redis answer 503 problem+json while it is unreachable."""
    client = make_app(make_settings(dead_redis_url(), key_prefix)).test_client()
    for path in ("/api/streams", "/api/streams/x", "/api/events"):
        assert_problem(client.get(path, headers=auth()), 503)


def test_unknown_route_is_404_problem(client):
    """Unknown paths are problem+json too."""
    assert_problem(client.get("/nope"), 404)
