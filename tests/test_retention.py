"""Retention and reconcile's Redis side: forgetting stale streams in bounded steps, the sweep
after ingest, memory over months of streams coming and going, and `applied_event_ids`.

Store tests run on the suite's single Redis and on a local 3-master Redis Cluster.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator

import pytest
import redis
from helpers import LiveApp, auth, delivery, make_settings, now_ms, post_delivery, signed
from prometheus_client import REGISTRY
from redis.cluster import RedisCluster
from services import service

from webhook_service.ingest.events import parse_delivery
from webhook_service.ingest.stream_update import build_update
from webhook_service.store import Store, connect
from webhook_service.store.retention import DAY_MS, Sweeper

T0 = 1_764_086_400_000
PARTS = ("stream", "timeline", "events", "sessions")


@pytest.fixture(params=["single", "cluster"])
def url_and_cluster(request, redis_url) -> tuple[str, bool]:
    if request.param == "cluster":
        return request.getfixturevalue("redis_cluster").url, True
    return redis_url, False


@pytest.fixture
def raw(url_and_cluster, key_prefix) -> Iterator[redis.Redis | RedisCluster]:
    """A raw client of the backend; on the cluster it also deletes the test's keys."""
    url, cluster = url_and_cluster
    client = RedisCluster.from_url(url) if cluster else redis.Redis.from_url(url)
    yield client
    if cluster:  # conftest's key_prefix cleans up the single Redis only
        keys = list(client.scan_iter(match=f"{key_prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
    client.close()


@pytest.fixture
def store(url_and_cluster, key_prefix, raw) -> Store:
    url, cluster = url_and_cluster
    return Store(connect(make_settings(url, redis_cluster=cluster)), key_prefix)


def apply(store, stream_id, created, event="stream.started", event_id=None, **extra):
    body = {
        "id": event_id or f"{event}-{stream_id}-{created}".replace(".", "_"),
        "event": event,
        "timestamp": created + 100,
        "createdAt": created,
        **extra,
    }
    if stream_id:
        body["stream"] = {"id": stream_id, "name": f"n-{stream_id}"}
    update = build_update(parse_delivery(json.dumps(body).encode()), received_at_ms=created + 200)
    store.apply(update)
    return body["id"]


def stream_keys(raw, prefix) -> set[str]:
    """Every stream's own keys (claims excluded: they expire on their own)."""
    return {
        key.decode()
        for key in raw.scan_iter(match=f"{prefix}:{{*}}:*", count=1000)
        if b"{~global}" not in key and b":seen:" not in key
    }


def index(raw, prefix, name) -> set[str]:
    key = f"{prefix}:{{~global}}:{name}"
    if name == "versions":
        return {m.decode() for m in raw.hkeys(key)}
    return {m.decode() for m in raw.zrange(key, 0, -1)}


# -- forget_stale_streams ----------------------------------------------------------------------


def test_stale_streams_lose_their_keys_and_index_entries(store, raw, key_prefix):
    """A stream past the cutoff goes from Redis and every index; a fresher one stays whole."""
    apply(store, "old", T0)
    apply(store, "old", T0 + 1, "stream.idle")
    apply(store, "new", T0 + DAY_MS)
    assert store.forget_stale_streams(T0 + 1, limit=10) == 1
    assert stream_keys(raw, key_prefix) == {f"{key_prefix}:{{new}}:{p}" for p in PARTS[:3]}
    for name in ("streams", "streams:active", "streams:idle", "versions"):
        assert "old" not in index(raw, key_prefix, name)
    assert index(raw, key_prefix, "streams") == {"new"}
    assert store.get_stream("old") is None and store.get_stream("new")["state"] == "active"


def test_the_cutoff_is_inclusive_and_later_streams_stay(store):
    """last_event_at equal to the cutoff is stale; one ms later is not."""
    apply(store, "at", T0)
    apply(store, "after", T0 + 1)
    assert store.forget_stale_streams(T0, limit=10) == 1
    assert store.get_stream("at") is None and store.get_stream("after") is not None


def test_work_per_call_is_bounded_by_the_limit(store):
    """Ten stale streams and a limit of 3: three go per call, oldest first."""
    for i in range(10):
        apply(store, f"s{i}", T0 + i)
    assert store.forget_stale_streams(T0 + DAY_MS, limit=3) == 3
    assert [store.get_stream(f"s{i}") is None for i in range(4)] == [True, True, True, False]
    assert store.forget_stale_streams(T0 + DAY_MS, limit=100) == 7


def test_a_stream_with_a_newer_event_than_its_index_is_kept(store, raw, key_prefix):
    """An index entry that lags its stream (a lost index step) is caught up, not deleted."""
    apply(store, "lag", T0 + DAY_MS)
    raw.zadd(f"{key_prefix}:{{~global}}:streams", {"lag": T0})
    assert store.forget_stale_streams(T0 + 1, limit=10) == 0
    assert store.get_stream("lag") is not None
    assert raw.zscore(f"{key_prefix}:{{~global}}:streams", "lag") == T0 + DAY_MS


def test_index_entries_of_already_deleted_keys_are_removed(store, raw, key_prefix):
    """A crash between the two steps leaves index entries only: the next sweep removes them."""
    apply(store, "half", T0)
    raw.delete(*(f"{key_prefix}:{{half}}:{p}" for p in PARTS))
    assert store.forget_stale_streams(T0, limit=10) == 1
    assert index(raw, key_prefix, "streams") == set()


def test_a_forgotten_stream_that_comes_back_is_listed_again(store):
    """Its version starts again at 1, so the versions entry must have gone with it."""
    for i in range(5):
        apply(store, "back", T0 + i, event_id=f"e{i}")
    store.forget_stale_streams(T0 + 10, limit=10)
    apply(store, "back", T0 + DAY_MS, "stream.idle")
    streams, _ = store.list_streams(None, 10, None)
    assert [(s["id"], s["state"]) for s in streams] == [("back", "idle")]
    idle, _ = store.list_streams("idle", 10, None)
    assert [s["id"] for s in idle] == ["back"]


def test_memory_stays_bounded_over_months(redis_url, redis_client, key_prefix):
    """Five simulated months, 4 new streams a day (each started and idle) plus two that live
    throughout, swept daily with a 30-day retention: the number of streams and keys stops growing
    after the first month, and their memory once the two long-lived streams' timelines are full
    (TIMELINE_MAX events, day 100). Claims expire in real time; the global timeline has its own
    bound, GLOBAL_EVENTS_MAX."""
    store = Store(connect(make_settings(redis_url)), key_prefix)
    retention, per_day = 30, 4
    sweeper = Sweeper(store, retention, batch=3)
    samples = {}
    for day in range(150):
        today = T0 + day * DAY_MS
        for n in range(per_day):
            sid = f"d{day:03d}-{n}"  # fixed width: memory compares like with like
            apply(store, sid, today + n)
            apply(store, sid, today + n + 60_000, "stream.idle")
        for sid in ("forever-a", "forever-b"):
            apply(store, sid, today + 30, "stream.detection")
        while sweeper.sweep(today + 3_600_000):  # bounded sweeps, as the day's minutes pass
            pass
        if day in (45, 100, 125, 149):
            samples[day] = _footprint(redis_client, key_prefix)
    ceiling = (retention + 1) * per_day + 2
    for keys, streams, _ in samples.values():
        assert streams <= ceiling and keys <= 4 * ceiling
    assert samples[149][:2] == samples[125][:2] == samples[100][:2] == samples[45][:2]
    assert samples[149][2] <= samples[100][2] * 1.05 and samples[125][2] <= samples[100][2] * 1.05
    assert store.get_stream("forever-a") is not None and store.get_stream("d000-0") is None


def _footprint(raw, prefix) -> tuple[int, int, int]:
    """(stream keys, streams indexed, bytes of both), every element measured (SAMPLES 0)."""
    keys = stream_keys(raw, prefix)
    names = ("streams", "streams:active", "streams:idle", "versions")
    measured = [*keys, *(f"{prefix}:{{~global}}:{name}" for name in names)]
    memory = sum(raw.memory_usage(key, samples=0) or 0 for key in measured)
    return len(keys), raw.zcard(f"{prefix}:{{~global}}:streams"), memory


# -- the sweep: throttled, after ingest, counted -----------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_maybe_sweep_runs_once_per_interval_across_workers(store, raw, key_prefix):
    """One process tries at most once a minute; a second worker finds the Redis lock taken."""
    for i in range(3):
        apply(store, f"s{i}", T0 + i)
    clock = Clock()
    first = Sweeper(store, 30, batch=1, clock=clock)
    other = Sweeper(store, 30, batch=1, clock=clock)
    later = T0 + 31 * DAY_MS
    assert (first.maybe_sweep(later), first.maybe_sweep(later), other.maybe_sweep(later)) == (
        1,
        0,
        0,
    )
    clock.now += 61
    raw.delete(f"{key_prefix}:{{~global}}:lock:retention")  # as if its 60 s had passed
    assert first.maybe_sweep(later) == 1


def forgotten_total() -> float:
    return REGISTRY.get_sample_value("livepeer_streams_forgotten_total") or 0.0


def test_an_accepted_delivery_triggers_a_sweep_after_its_answer(make_app, redis_url, key_prefix):
    """Over real HTTP: once a delivery is answered, streams past retention are forgotten and
    counted in livepeer_streams_forgotten_total; the delivered stream stays."""
    app = make_app(make_settings(redis_url, key_prefix, stream_retention_days=30))
    store = service(app, Store)
    apply(store, "stale", now_ms() - 31 * DAY_MS)
    before = forgotten_total()
    live = LiveApp(app)
    try:
        client = app.test_client()
        raw, headers = signed(delivery("stream.started", "fresh"))
        request = urllib.request.Request(f"{live.url}/webhooks/livepeer", raw, headers)
        # Polled with the connection still open: werkzeug's server (not gunicorn) skips the
        # close() of the answer when the client's socket is gone before its final read.
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200
            deadline = time.monotonic() + 5
            while store.get_stream("stale") is not None and time.monotonic() < deadline:
                time.sleep(0.02)
        assert store.get_stream("stale") is None and store.get_stream("fresh") is not None
        assert forgotten_total() == before + 1
        metrics = client.get("/metrics").get_data(as_text=True)
        assert "livepeer_streams_forgotten_total" in metrics
    finally:
        live.stop()


def test_a_rejected_delivery_does_not_sweep(client, app):
    """Only accepted deliveries pay for the sweep: junk from scanners triggers nothing."""
    store = service(app, Store)
    apply(store, "stale", now_ms() - 400 * DAY_MS)
    response = client.post("/webhooks/livepeer", data=b"{}", headers={"Livepeer-Signature": "x"})
    assert response.status_code == 401
    response.close()
    assert store.get_stream("stale") is not None
    ok = post_delivery(client, delivery("stream.started", "fresh"))
    ok.close()
    assert store.get_stream("stale") is None


# -- applied_event_ids -------------------------------------------------------------------------


def test_applied_event_ids_checks_claims_and_timelines(store, raw, key_prefix):
    """Applied: a live claim, or a record in the stream's or the global timeline; per stream
    only when the stream is known."""
    in_stream = apply(store, "s1", T0, event_id="in-stream")
    asset = apply(
        store, None, T0, "asset.ready", event_id="asset-1", payload={"asset": {"id": "a"}}
    )
    trimmed = apply(store, "s1", T0 + 1, "stream.idle", event_id="trimmed")
    # As if the global timeline had trimmed it and its claim had expired: only s1 knows it.
    raw.hdel(f"{key_prefix}:{{~global}}:event-data", trimmed)
    raw.delete(f"{key_prefix}:{{s1}}:seen:{trimmed}")
    pairs = [
        (in_stream, "s1"),
        (asset, None),
        (trimmed, "s1"),
        ("never", "s1"),
        ("never-2", None),
    ]
    assert store.applied_event_ids(pairs) == {in_stream, asset, trimmed}
    assert store.applied_event_ids([(trimmed, None)]) == set()
    assert store.applied_event_ids([]) == set()


def test_applied_event_ids_in_large_batches(store):
    """More candidates than one pipeline batch are all answered."""
    ids = [apply(store, f"b{i % 7}", T0 + i, event_id=f"ev{i}") for i in range(30)]
    pairs = [(eid, f"b{i % 7}") for i, eid in enumerate(ids)] + [("x", None)] * 1200
    assert store.applied_event_ids(pairs) == set(ids)


def test_streams_endpoint_after_forgetting(client, app):
    """GET /api/streams no longer lists a forgotten stream."""
    store = service(app, Store)
    apply(store, "gone", T0)
    store.forget_stale_streams(T0, 10)
    assert client.get("/api/streams", headers=auth()).get_json()["streams"] == []
