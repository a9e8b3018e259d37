"""The Redis store against a real Redis: atomic apply, dedupe, ordering, bounds, indexes.

Every test that uses the `store` fixture runs twice: on the single Redis of the suite and on
a local 3-master Redis Cluster (REDIS_CLUSTER=true), where a stream's keys and the global keys
live on different nodes.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis
from helpers import dead_redis_url, make_settings, now_ms
from redis.cluster import RedisCluster

from webhook_service.ingest.delivery_log import DeliveryEntry, Origin
from webhook_service.ingest.events import parse_delivery
from webhook_service.ingest.stream_update import build_update
from webhook_service.store import (
    GLOBAL_EVENTS_MAX,
    SESSIONS_MAX,
    TIMELINE_MAX,
    StorageError,
    Store,
    connect,
)
from webhook_service.store.cursor import Cursor

T0 = 1_764_086_400_000


@dataclass(frozen=True)
class Backend:
    """Where a store test runs: the suite's single Redis, or the test cluster."""

    url: str
    cluster: bool

    def store(self, prefix: str) -> Store:
        return Store(connect(make_settings(self.url, redis_cluster=self.cluster)), prefix)


@pytest.fixture(params=["single", "cluster"])
def backend(request, redis_url) -> Backend:
    if request.param == "cluster":
        return Backend(request.getfixturevalue("redis_cluster").url, cluster=True)
    return Backend(redis_url, cluster=False)


@pytest.fixture
def redis_client(backend, key_prefix) -> Iterator[redis.Redis | RedisCluster]:
    """A raw client of the backend (a cluster client scans every node); overrides conftest's."""
    if not backend.cluster:
        client = redis.Redis.from_url(backend.url)
        yield client
        client.close()
        return
    client = RedisCluster.from_url(backend.url)
    yield client
    keys = list(client.scan_iter(match=f"{key_prefix}:*", count=1000))
    if keys:  # conftest's key_prefix cleans up the single Redis only
        client.delete(*keys)
    client.close()


@pytest.fixture
def store(backend, key_prefix, redis_client):
    made = backend.store(key_prefix)
    yield made
    made.close()  # its sockets, else a ResourceWarning when they are collected


def update(event="stream.started", stream_id="s1", created=T0, event_id=None, **extra):
    body = {
        "id": event_id or f"{event}-{stream_id}-{created}".replace(".", "_"),
        "event": event,
        "timestamp": created + 100,
        "createdAt": created,
    }
    if stream_id:
        body["stream"] = {"id": stream_id, "name": f"n-{stream_id}", "playbackId": "pb"}
    body.update(extra)
    return build_update(parse_delivery(json.dumps(body).encode()), received_at_ms=created + 200)


def test_key_layout_is_pinned(store, redis_client, key_prefix):
    """One stream's keys share a hash tag; global keys live under {~global}."""
    store.apply(update(event_id="e1"))
    keys = {k.decode() for k in redis_client.scan_iter(match=f"{key_prefix}:*")}
    assert keys == {
        f"{key_prefix}:{{s1}}:stream",
        f"{key_prefix}:{{s1}}:timeline",
        f"{key_prefix}:{{s1}}:events",
        f"{key_prefix}:{{s1}}:seen:e1",
        f"{key_prefix}:{{~global}}:streams",
        f"{key_prefix}:{{~global}}:streams:active",
        f"{key_prefix}:{{~global}}:versions",
        f"{key_prefix}:{{~global}}:events",
        f"{key_prefix}:{{~global}}:event-data",
        f"{key_prefix}:{{~global}}:delivery-times",
        f"{key_prefix}:{{~global}}:deliveries",
    }
    ttl = redis_client.ttl(f"{key_prefix}:{{s1}}:seen:e1")
    assert 24 * 3600 < ttl <= 3 * 24 * 3600


def test_apply_then_read(store):
    """An applied started event shows as an active stream with its attributes."""
    assert store.apply(update()).duplicate is False
    stream = store.get_stream("s1")
    assert stream["state"] == "active"
    assert (stream["name"], stream["playback_id"]) == ("n-s1", "pb")
    assert (stream["last_event"], stream["last_event_at"]) == ("stream.started", T0)
    assert [e["id"] for e in store.stream_events("s1", 10)] == ["stream_started-s1-1764086400000"]


def test_duplicate_is_not_reapplied(store, redis_client, key_prefix):
    """The same event id again is a duplicate; state, version and timeline do not change."""
    store.apply(update(event_id="dup"))
    version = redis_client.hget(f"{key_prefix}:{{s1}}:stream", "version")
    assert store.apply(update(event_id="dup", created=T0 + 5)).duplicate is True
    assert redis_client.hget(f"{key_prefix}:{{s1}}:stream", "version") == version
    assert len(store.stream_events("s1", 10)) == 1
    assert store.get_stream("s1")["last_event_at"] == T0


def test_twenty_concurrent_deliveries_apply_once(backend, key_prefix, redis_client):
    """20 threads, each with its own connection, deliver one event: exactly one applies it."""
    results = []
    barrier = threading.Barrier(20)

    def deliver():
        own = backend.store(key_prefix)
        barrier.wait()
        results.append(own.apply(update(event_id="same")).duplicate)

    threads = [threading.Thread(target=deliver) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] + [True] * 19
    store = backend.store(key_prefix)
    assert len(store.stream_events("s1", 50)) == 1
    events, _ = store.list_events(50, None)
    assert [e["id"] for e in events] == ["same"]


def test_late_older_event_never_moves_state_backwards(store):
    """idle (newer) then a late started (older): the stream stays idle; both are in the timeline."""
    store.apply(update("stream.idle", created=T0 + 60_000))
    store.apply(update("stream.started", created=T0))
    stream = store.get_stream("s1")
    assert (stream["state"], stream["last_event"]) == ("idle", "stream.idle")
    assert stream["last_started_at"] == T0 and stream["last_idle_at"] == T0 + 60_000
    assert [e["event"] for e in store.stream_events("s1", 10)] == ["stream.idle", "stream.started"]


@pytest.mark.parametrize(
    "order", [("stream.started", "stream.idle"), ("stream.idle", "stream.started")]
)
def test_idle_wins_a_tie(store, order):
    """With equal createdAt the stream is idle whatever the arrival order."""
    for event in order:
        store.apply(update(event, created=T0))
    assert store.get_stream("s1")["state"] == "idle"


def test_region_move_restart_keeps_stream_active(store):
    """A second stream.started with a new id (region move) is applied and the stream stays live."""
    store.apply(update("stream.started", created=T0, event_id="a"))
    store.apply(update("stream.started", created=T0 + 30_000, event_id="b"))
    stream = store.get_stream("s1")
    assert stream["state"] == "active" and stream["last_started_at"] == T0 + 30_000
    assert len(store.stream_events("s1", 10)) == 2


def test_attributes_follow_the_newest_event(store):
    """A late, older event does not overwrite the stream's name with a stale one."""
    store.apply(update(created=T0 + 10, stream={"id": "s1", "name": "new name"}, event_id="x"))
    store.apply(update(created=T0, stream={"id": "s1", "name": "old name"}, event_id="y"))
    assert store.get_stream("s1")["name"] == "new name"


def test_timeline_is_bounded(store, redis_client, key_prefix):
    """More events than TIMELINE_MAX keep only the newest; the events hash shrinks with it."""
    for i in range(TIMELINE_MAX + 15):
        store.apply(update("stream.detection", created=T0 + i, event_id=f"d{i}"))
    events = store.stream_events("s1", 200)
    assert len(events) == TIMELINE_MAX
    assert events[0]["id"] == f"d{TIMELINE_MAX + 14}" and events[-1]["id"] == "d15"
    assert redis_client.hlen(f"{key_prefix}:{{s1}}:events") == TIMELINE_MAX


def session_update(
    session_id, created, status="ready", urls=True, event="recording.ready", eid=None
):
    session = {"id": session_id, "parentId": "s1", "createdAt": created, "recordingStatus": status}
    payload = {"session": session}
    if urls:
        payload.update(
            recordingUrl=f"https://cdn/{session_id}.m3u8", mp4Url=f"https://cdn/{session_id}.mp4"
        )
    return update(event, created=created + 1000, payload=payload, event_id=eid)


def test_sessions_merge_newest_first(store):
    """A late recording.waiting (older) does not erase the URLs recording.ready brought."""
    store.apply(session_update("ses", T0, eid="ready"))
    store.apply(
        session_update(
            "ses", T0 - 500, status="waiting", urls=False, event="recording.waiting", eid="w"
        )
    )
    [session] = store.get_stream("s1")["sessions"]
    assert session["recording_status"] == "ready"
    assert session["recording_url"] == "https://cdn/ses.m3u8"


def test_sessions_are_bounded_oldest_dropped(store):
    """Past SESSIONS_MAX sessions the oldest (by session createdAt) is dropped."""
    for i in range(SESSIONS_MAX + 3):
        store.apply(session_update(f"ses{i}", T0 + i * 10_000, eid=f"r{i}"))
    sessions = store.get_stream("s1")["sessions"]
    assert len(sessions) == SESSIONS_MAX
    assert sessions[0]["id"] == f"ses{SESSIONS_MAX + 2}" and sessions[-1]["id"] == "ses3"


def test_event_without_stream_goes_to_global_timeline_once(store):
    """asset.* events are kept in the global timeline and deduplicated there."""
    asset = update("asset.failed", stream_id=None, payload={"asset": {"id": "ses"}}, event_id="a1")
    assert store.apply(asset).duplicate is False
    assert store.apply(asset).duplicate is True
    events, _ = store.list_events(10, None)
    assert [(e["id"], e["asset_id"]) for e in events] == [("a1", "ses")]


def test_list_streams_newest_first_with_state_filter(store):
    """The index orders by last_event_at, newest first, and filters by state."""
    store.apply(update("stream.started", "a", T0))
    store.apply(update("stream.started", "b", T0 + 10))
    store.apply(update("stream.idle", "c", T0 + 20))
    streams, cursor = store.list_streams(None, 10, None)
    assert [s["id"] for s in streams] == ["c", "b", "a"] and cursor is None
    assert [s["id"] for s in store.list_streams("active", 10, None)[0]] == ["b", "a"]
    assert [s["id"] for s in store.list_streams("idle", 10, None)[0]] == ["c"]
    store.apply(update("stream.idle", "a", T0 + 30))
    assert [s["id"] for s in store.list_streams("active", 10, None)[0]] == ["b"]
    assert [s["id"] for s in store.list_streams(None, 10, None)[0]] == ["a", "c", "b"]


def test_pagination_visits_every_stream_once_despite_ties(store):
    """Cursor pages cover all streams exactly once, including many with the same timestamp."""
    ids = [f"st{i:02d}" for i in range(23)]
    for i, sid in enumerate(ids):
        store.apply(update("stream.started", sid, T0 + (0 if i < 12 else i)))
    seen, cursor = [], None
    while True:
        page, cursor = store.list_streams(None, 5, cursor)
        seen.extend(s["id"] for s in page)
        if cursor is None:
            break
    assert sorted(seen) == ids and len(seen) == len(ids)
    times = [store.get_stream(s)["last_event_at"] for s in seen]
    assert times == sorted(times, reverse=True)


def test_index_heals_when_the_second_step_was_lost(store, redis_client, key_prefix):
    """If the global step never ran (crash), Livepeer's retry (a duplicate) rebuilds it."""
    store.apply(update(event_id="e1"))
    for part in ("streams", "streams:active", "versions", "events", "event-data"):
        redis_client.delete(f"{key_prefix}:{{~global}}:{part}")
    assert store.list_streams(None, 10, None)[0] == []
    assert store.apply(update(event_id="e1")).duplicate is True
    assert [s["id"] for s in store.list_streams("active", 10, None)[0]] == ["s1"]
    assert [e["id"] for e in store.list_events(10, None)[0]] == ["e1"]


def test_index_ignores_an_older_stream_version(store, redis_client, key_prefix):
    """A delayed index step with an older version cannot overwrite a newer state (cluster path)."""
    store.apply(update("stream.started", created=T0, event_id="a"))
    store.apply(update("stream.idle", created=T0 + 1, event_id="b"))
    stale = update("stream.started", created=T0, event_id="a")
    store._index_stream(
        keys=list(store.keys.index), args=store._index_args(stale, 1, "active", T0, 0)
    )
    assert [s["id"] for s in store.list_streams("idle", 10, None)[0]] == ["s1"]
    assert store.list_streams("active", 10, None)[0] == []


def test_cluster_apply_path_gives_the_same_result(store):
    """The two-round-trip path used on a cluster leaves the same state and indexes."""
    store._apply_cluster(update("stream.started", created=T0, event_id="a"))
    store._apply_cluster(update("stream.idle", created=T0 + 5, event_id="b"))
    assert store._apply_cluster(update("stream.idle", created=T0 + 5, event_id="b")).duplicate
    assert store.get_stream("s1")["state"] == "idle"
    assert [s["id"] for s in store.list_streams("idle", 10, None)[0]] == ["s1"]


def test_global_events_page_and_bound(store):
    """The global timeline pages newest first and is bounded."""
    for i in range(7):
        store.apply(update("stream.detection", created=T0 + i, event_id=f"g{i}"))
    first, cursor = store.list_events(4, None)
    second, end = store.list_events(4, cursor)
    assert [e["id"] for e in first + second] == [f"g{i}" for i in range(6, -1, -1)]
    assert end is None
    assert GLOBAL_EVENTS_MAX >= 1000


def test_scripts_are_reloaded_after_script_flush(store, redis_client):
    """If Redis loses its script cache (restart, failover), the next apply loads them again."""
    store.apply(update(event_id="before"))
    redis_client.script_flush()
    assert store.apply(update(event_id="after", created=T0 + 1)).duplicate is False
    assert len(store.stream_events("s1", 10)) == 2


def test_memory_per_stream_is_bounded(store, redis_client, key_prefix):
    """A stream with a full timeline and full sessions stays under 256 KiB of Redis memory."""
    for i in range(TIMELINE_MAX + 50):
        store.apply(session_update(f"ses{i % (SESSIONS_MAX + 5)}", T0 + i * 1000, eid=f"m{i}"))
    used = sum(
        redis_client.memory_usage(k) or 0
        for k in redis_client.scan_iter(match=f"{key_prefix}:{{s1}}:*")
        if b":seen:" not in k
    )
    assert used < 256 * 1024, used


def test_unreachable_redis_is_a_fast_storage_error(key_prefix):
    """With nothing listening, apply and ping raise StorageError within the timeout."""
    dead = Store(connect(make_settings(dead_redis_url())), key_prefix)
    started = time.monotonic()
    with pytest.raises(StorageError):
        dead.apply(update())
    with pytest.raises(StorageError):
        dead.ping()
    assert time.monotonic() - started < 5


def test_storage_error_message_does_not_leak_the_url_password(key_prefix):
    """A Redis URL's password never reaches an error message."""
    url = dead_redis_url().replace("redis://", "redis://:pw-s3cr3t@")
    with pytest.raises(StorageError) as caught:
        Store(connect(make_settings(url)), key_prefix).ping()
    assert "pw-s3cr3t" not in str(caught.value)


def test_cursor_round_trip():
    """Cursors decode to what was encoded."""
    assert Cursor.decode(Cursor(T0, "abc-_1").encode()) == Cursor(T0, "abc-_1")


def test_redis_client_errors_are_wrapped():
    """A redis-py error surfaces as StorageError (the HTTP layer maps it to 503)."""
    assert issubclass(StorageError, Exception) and not issubclass(StorageError, redis.RedisError)


def test_rejections_are_counted_by_reason_over_the_last_hour(store, redis_client, key_prefix):
    """Rejections land in minute buckets that expire; stats cover the last 60 minutes only."""
    now = T0 + 30_000
    stale = DeliveryEntry("stale", reason="stale")
    mismatch = DeliveryEntry("bad_signature", reason="signature_mismatch", verified=False)
    store.record_rejection(stale, now - 61 * 60_000)
    for offset in (120_000, 1000, 0):
        store.record_rejection(mismatch, now - offset)
    store.record_rejection(stale, now)
    store.apply(update(created=now - 5000, event_id="ok"))
    counts, last, accepted = store.delivery_stats(now)
    assert counts == {"signature_mismatch": 3, "stale": 1}
    assert last == {"signature_mismatch": now, "stale": now}
    assert accepted == now - 5000 + 200
    bucket = f"{key_prefix}:{{~global}}:rejections:{now // 60_000}"
    assert 60 * 60 < redis_client.ttl(bucket) <= 65 * 60


def test_count_active_reads_the_index(store):
    """The active-stream gauge is the size of the active index."""
    store.apply(update("stream.started", "a", T0))
    store.apply(update("stream.started", "b", T0))
    store.apply(update("stream.idle", "b", T0 + 1))
    assert store.count_active() == 1


def test_asset_failures_are_remembered_by_asset_id(store):
    """asset.failed and task.failed mark the asset (a recording's id is its session id)."""
    store.apply(update("asset.failed", stream_id=None, payload={"asset": {"id": "ses-a"}}))
    task = {"task": {"id": "t1", "snapshot": {"outputAssetId": "ses-b"}}}
    store.apply(update("task.failed", stream_id=None, payload=task))
    store.apply(update("asset.ready", stream_id=None, payload={"asset": {"id": "ses-c"}}))
    assert store.asset_outcomes(["ses-a", "ses-b", "ses-c", "nope"]) == {
        "ses-a": "asset.failed",
        "ses-b": "task.failed",
    }


def test_applying_logs_the_delivery_with_its_origin(store):
    """The apply script (both steps on a Cluster) writes the entry: accepted, then duplicate;
    an event without a stream (asset.*) too."""
    origin = Origin("req-1", "198.51.100.7")
    started = update(event_id="logged")
    store.apply(build_update_with(started, origin))
    store.apply(build_update_with(started, Origin("req-2", None)))
    asset = update("asset.ready", event_id="asset-ev")
    store.apply(build_update_with(asset, Origin("req-3", "::1"), stream_id=None))
    found, after = store.deliveries(now_ms(), 10)
    entries = [logged.entry for logged in found]
    assert [(e.outcome, e.event_id, e.request_id, e.remote_addr) for e in entries] == [
        ("accepted", "asset-ev", "req-3", "::1"),
        ("duplicate", "logged", "req-2", None),
        ("accepted", "logged", "req-1", "198.51.100.7"),
    ]
    assert entries[2].stream_id == "s1" and entries[0].stream_id is None
    assert after is None


def build_update_with(base, origin, **changes):
    return dataclasses.replace(base, origin=origin, **changes)
