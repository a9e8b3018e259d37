"""Redis Cluster end to end: `livepeer-webhooks serve` (the Procfile's command) with
REDIS_CLUSTER=true against a local 3-master cluster, and what a dead master means for ingest.

(The store's own tests run on the cluster too: see test_store.py.)
"""

from __future__ import annotations

import json
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import SECRET
from redis.cluster import RedisCluster
from redisproc import Cluster, cluster_fixture
from test_faults import (
    ACCEPTED,
    ACKNOWLEDGED,
    DUPLICATE,
    UNAVAILABLE,
    Planned,
    deliver,
    deliver_until_acknowledged,
)
from test_server import TOKEN, Server, bearer, request, server_env

from webhook_service.cli import main

pytestmark = pytest.mark.e2e


@pytest.fixture
def serve_on(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Start `livepeer-webhooks serve` on a cluster under a key prefix; stopped afterwards."""
    started: list[Server] = []

    def start(cluster: Cluster, prefix: str, **extra: str) -> Server:
        env = server_env(
            cluster.url, prefix, REDIS_CLUSTER="true", REDIS_TIMEOUT_SECONDS="1", **extra
        )
        server = Server(env, tmp_path)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.kill()


@pytest.fixture
def own_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A cluster of this test's own whose nodes keep an AOF, for tests that kill them."""
    yield from cluster_fixture(tmp_path_factory.mktemp("own-cluster"), persistent=True)


def delete_prefix(client: RedisCluster, prefix: str) -> None:
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)


def get_json(server: Server, path: str) -> dict:
    status, _, body = request(server.port, "GET", path, headers=bearer(TOKEN))
    assert status == 200, body
    return json.loads(body)


def started_event(stream_id: str, created_at: int, event: str = "stream.started") -> Planned:
    return Planned(f"ev-{uuid.uuid4().hex[:12]}", stream_id, event, created_at)


def test_serve_on_a_cluster_stores_and_lists_deliveries(
    redis_cluster: Cluster, serve_on: Callable[..., Server]
) -> None:
    """With REDIS_CLUSTER=true, deliveries spread over 3 masters are applied once and listed."""
    prefix = f"lpt-{uuid.uuid4().hex[:10]}"
    server = serve_on(redis_cluster, prefix)
    client = redis_cluster.client()
    try:
        now = time.time_ns() // 1_000_000
        streams = [f"cl-{i}-{uuid.uuid4().hex[:8]}" for i in range(12)]
        started = [started_event(sid, now - 10_000 + i) for i, sid in enumerate(streams)]
        idled = [
            started_event(sid, now - 5_000 + i, "stream.idle") for i, sid in enumerate(streams[:4])
        ]
        assert [deliver(server.port, e) for e in started + idled] == [ACCEPTED] * 16
        assert deliver(server.port, started[0]) == DUPLICATE  # a retry, new timestamp

        # The streams really live on different masters; the global keys in one slot.
        owners = {client.get_node_from_key(f"{prefix}:{{{s}}}:stream").port for s in streams}
        assert len(owners) >= 2, owners
        assert client.exists(f"{prefix}:{{~global}}:streams") == 1

        listed = get_json(server, "/api/streams?limit=200")["streams"]
        assert {s["id"]: s["state"] for s in listed} == {
            **{sid: "active" for sid in streams[4:]},
            **{sid: "idle" for sid in streams[:4]},
        }
        active = get_json(server, "/api/streams?state=active&limit=200")["streams"]
        assert sorted(s["id"] for s in active) == sorted(streams[4:])
        timeline = get_json(server, f"/api/streams/{streams[0]}/events")["events"]
        assert [e["id"] for e in timeline] == [idled[0].event_id, started[0].event_id]
        events = get_json(server, "/api/events?limit=200")["events"]
        assert sorted(e["id"] for e in events) == sorted(e.event_id for e in started + idled)
        # The delivery log, written by the index step in the global slot: every answer listed.
        logged = get_json(server, "/api/deliveries?limit=200")["deliveries"]
        assert [d["outcome"] for d in logged] == ["duplicate"] + ["accepted"] * 16
        assert logged[0]["event_id"] == started[0].event_id
        assert {d["stream_id"] for d in logged} == set(streams)
        assert request(server.port, "GET", "/readyz")[0] == 200
        metrics = request(server.port, "GET", "/metrics")[2].decode()
        assert "livepeer_streams_active 8.0" in metrics.splitlines()
    finally:
        delete_prefix(client, prefix)
        client.close()


def test_dead_cluster_master_means_503_then_retries_heal(
    own_cluster: Cluster, serve_on: Callable[..., Server]
) -> None:
    """A dead master (or all of them) makes ingest 503, not 500; after restarts, retries apply."""
    server = serve_on(own_cluster, "lpc", WEB_CONCURRENCY="1")
    client = own_cluster.client()
    global_node = client.get_node_from_key("lpc:{~global}:streams").port
    node = next(n for n in own_cluster.nodes if n.port == global_node)
    other = next(n for n in own_cluster.nodes if n.port != global_node)
    # A stream whose keys live on another master than the global indexes.
    stream = next(
        f"cd-{i}"
        for i in range(1000)
        if client.get_node_from_key(f"lpc:{{cd-{i}}}:stream").port == other.port
    )
    client.close()
    now = time.time_ns() // 1_000_000
    events = [started_event(stream, now - 1000 + i) for i in range(3)]
    assert deliver(server.port, events[0]) == ACCEPTED

    # The stream's master applies the event, the global step fails: 503, so Livepeer retries.
    node.kill(signal.SIGKILL)
    assert deliver(server.port, events[1]) == UNAVAILABLE
    for n in own_cluster.nodes:  # nothing answers: RedisClusterException, still a 503
        n.kill(signal.SIGKILL)
    assert deliver(server.port, events[2]) == UNAVAILABLE
    assert request(server.port, "GET", "/readyz")[0] == 503

    for n in own_cluster.nodes:
        n.start(attempts=1)
    own_cluster.wait_ok()
    answers = [deliver_until_acknowledged(server.port, e) for e in events[1:]]
    assert set(answers) <= ACKNOWLEDGED
    assert deliver(server.port, events[0]) == DUPLICATE
    timeline = get_json(server, f"/api/streams/{stream}/events")["events"]
    assert sorted(e["id"] for e in timeline) == sorted(e.event_id for e in events)
    listed = get_json(server, "/api/events?limit=200")["events"]
    assert sorted(e["id"] for e in listed) == sorted(e.event_id for e in events)


def test_workers_boot_while_no_cluster_node_answers(
    own_cluster: Cluster, serve_on: Callable[..., Server]
) -> None:
    """With every master down, `serve` still starts both workers (no slot map to load yet):
    /healthz answers, /readyz and ingest are 503; once the nodes are back, deliveries apply."""
    for node in own_cluster.nodes:
        node.kill(signal.SIGKILL)
    server = serve_on(own_cluster, "lpboot", WEB_CONCURRENCY="2")
    assert request(server.port, "GET", "/healthz")[0] == 200
    assert request(server.port, "GET", "/readyz")[0] == 503
    now = time.time_ns() // 1_000_000
    event = started_event("boot-1", now)
    started = time.monotonic()
    assert deliver(server.port, event) == UNAVAILABLE
    assert time.monotonic() - started < 5

    for node in own_cluster.nodes:
        node.start(attempts=1)
    own_cluster.wait_ok()
    assert deliver_until_acknowledged(server.port, event) in ACKNOWLEDGED
    assert get_json(server, "/api/streams/boot-1")["state"] == "active"
    client = own_cluster.client()
    delete_prefix(client, "lpboot")
    client.close()


def test_check_config_names_the_cluster_and_its_oldest_redis(redis_cluster: Cluster):
    """check-config on a cluster: PING answered, the oldest node's version, exit 0."""
    env = {
        "LIVEPEER_WEBHOOK_SECRET": SECRET,
        "OPS_API_TOKEN": TOKEN,
        "REDIS_URL": redis_cluster.url,
        "REDIS_CLUSTER": "true",
        "LIVEPEER_API_KEY": "",
    }
    result = CliRunner().invoke(main, ["check-config"], env=env)
    client = redis_cluster.client()
    try:
        nodes = client.info("server", target_nodes=RedisCluster.ALL_NODES)
    finally:
        client.close()
    oldest = min(str(info["redis_version"]) for info in nodes.values())
    assert len(nodes) >= 3
    assert result.exit_code == 0, result.output
    assert f"ok   redis: PING answered, Redis {oldest} (cluster)" in result.output
