"""Fault tolerance end to end: Redis crashes under load, a stuck Redis, killed gunicorn workers.

The real server (`livepeer-webhooks serve`, 2 gthread workers) runs against a redis-server the
test owns, with AOF `appendfsync always`, so a write Redis acknowledged survives SIGKILL. A
thread pool plays Livepeer: every delivery is a unique, signed event, and every answer is
recorded. Afterwards each event answered 200 must be in Redis; everything else is retried as
Livepeer would (same id, new timestamp, re-signed) until it is answered 200; then Redis must hold
every event exactly once. The `soak` variants (`make soak`) do the same with 20,000 deliveries
and several faults, and print their figures.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest
import redis
from helpers import delivery, signed
from redis.backoff import NoBackoff
from redis.retry import Retry
from redisproc import RedisNode, persistent_fixture
from test_server import SECRET, Server, request, server_env

from webhook_service.store import GLOBAL_EVENTS_MAX, TIMELINE_MAX

pytestmark = pytest.mark.e2e

CLIENT_THREADS = 8
EVENTS_PER_STREAM = 50
REDIS_TIMEOUT_SECONDS = 1.0
# Answers, as `deliver` classifies them; anything else is a failure of the test.
ACCEPTED, DUPLICATE, UNAVAILABLE, CONNECTION = "accepted", "duplicate", "503", "connection"
ACKNOWLEDGED = {ACCEPTED, DUPLICATE}


@dataclass(frozen=True)
class Planned:
    """One event Livepeer will deliver: its id never changes between retries."""

    event_id: str
    stream_id: str
    event: str
    created_at: int


@dataclass
class Figures:
    """What a run sent and what Redis holds afterwards."""

    sent: int = 0  # unique events, each delivered at least once
    acknowledged: int = 0  # answered 200 on their first delivery
    unavailable: int = 0  # first delivery answered 503 with Retry-After
    connection_errors: int = 0  # first delivery got no HTTP answer
    retried: int = 0  # delivered again until answered 200
    applied_before_ack: int = 0  # retries answered duplicate: an unanswered delivery had stored it
    found: int = 0  # in Redis afterwards, exactly once
    lost: int = 0
    load_seconds: float = 0.0  # how long the first pass took


@pytest.fixture
def persistent_redis(tmp_path: Path) -> Iterator[RedisNode]:
    """A redis-server of this test's own with AOF `appendfsync always`."""
    yield from persistent_fixture(tmp_path / "redis")


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[[str], Server]]:
    """Start `livepeer-webhooks serve` against a Redis URL; stopped when the test ends."""
    started: list[Server] = []

    def start(redis_url: str) -> Server:
        workdir = tmp_path / f"server{len(started)}"
        workdir.mkdir()
        env = server_env(
            redis_url,
            "lpf",
            WEB_CONCURRENCY="2",
            REDIS_TIMEOUT_SECONDS=str(REDIS_TIMEOUT_SECONDS),
        )
        server = Server(env, workdir)
        started.append(server)
        server.start()
        wait_for_workers(server, 2)
        return server

    yield start
    for server in started:
        server.kill()


def plan(count: int) -> list[Planned]:
    """`count` unique events over count / 50 streams, createdAt one ms apart."""
    run = uuid.uuid4().hex[:8]
    streams = max(1, count // EVENTS_PER_STREAM)
    base = time.time_ns() // 1_000_000 - 3_600_000
    return [
        Planned(
            event_id=f"ev-{run}-{i:06d}",
            stream_id=f"st-{run}-{i % streams:04d}",
            event="stream.started" if i % 2 == 0 else "stream.idle",
            created_at=base + i,
        )
        for i in range(count)
    ]


def deliver(port: int, planned: Planned, timeout: float = 10.0) -> str:
    """Deliver `planned` once with a fresh timestamp; the answer classified (see ACCEPTED...)."""
    body = delivery(
        planned.event, planned.stream_id, created_at=planned.created_at, event_id=planned.event_id
    )
    raw, headers = signed(body, SECRET)
    try:
        status, answer_headers, data = request(
            port, "POST", "/webhooks/livepeer", raw, headers, timeout
        )
    except (OSError, http.client.HTTPException):
        return CONNECTION
    if status == 200:
        return DUPLICATE if json.loads(data)["duplicate"] else ACCEPTED
    if status == 503 and answer_headers.get("retry-after"):
        return UNAVAILABLE
    return f"status {status}: {data[:300]!r}"


def run_load(
    port: int, events: list[Planned], rate: float, faults: list[tuple[float, Callable[[], None]]]
) -> list[str]:
    """Deliver every event once, about `rate` a second from a thread pool, while this thread
    runs each fault at its offset in seconds from the start; the answers in plan order."""
    answers = [""] * len(events)
    start = time.monotonic()

    def send(i: int) -> None:
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        answers[i] = deliver(port, events[i])

    with ThreadPoolExecutor(CLIENT_THREADS) as pool:
        futures = [pool.submit(send, i) for i in range(len(events))]
        for offset, fault in sorted(faults, key=lambda f: f[0]):
            time.sleep(max(0.0, start + offset - time.monotonic()))
            fault()
        for future in futures:
            future.result()
    return answers


def deliver_until_acknowledged(port: int, planned: Planned, attempts: int = 100) -> str:
    """Retry like Livepeer (faster): until a 200; its answer."""
    for _ in range(attempts):
        answer = deliver(port, planned)
        if answer in ACKNOWLEDGED:
            return answer
        time.sleep(0.1)
    raise AssertionError(f"{planned.event_id} was never acknowledged: last answer {answer}")


def missing_from_redis(client: redis.Redis, prefix: str, events: list[Planned]) -> list[str]:
    """Ids of `events` that are not in their stream's timeline and events hash."""
    pipe = client.pipeline(transaction=False)
    for p in events:
        pipe.zscore(f"{prefix}:{{{p.stream_id}}}:timeline", p.event_id)
        pipe.hexists(f"{prefix}:{{{p.stream_id}}}:events", p.event_id)
    found = pipe.execute()
    return [
        p.event_id
        for i, p in enumerate(events)
        if found[2 * i] != p.created_at or not found[2 * i + 1]
    ]


def assert_stored_exactly_once(client: redis.Redis, prefix: str, events: list[Planned]) -> int:
    """Every event is in Redis once: per stream, the version (one increment per applied event),
    the timeline and the events hash all count the stream's events; the global timeline holds
    exactly the newest GLOBAL_EVENTS_MAX of them. The number of events found."""
    assert not missing_from_redis(client, prefix, events)
    per_stream: dict[str, int] = {}
    for p in events:
        per_stream[p.stream_id] = per_stream.get(p.stream_id, 0) + 1
    assert max(per_stream.values()) <= TIMELINE_MAX  # else trimming would hide events
    pipe = client.pipeline(transaction=False)
    for sid in per_stream:
        pipe.hget(f"{prefix}:{{{sid}}}:stream", "version")
        pipe.zcard(f"{prefix}:{{{sid}}}:timeline")
        pipe.hlen(f"{prefix}:{{{sid}}}:events")
        pipe.zscore(f"{prefix}:{{~global}}:streams", sid)
    rows = pipe.execute()
    for i, (sid, count) in enumerate(per_stream.items()):
        version, timeline, hashed, indexed = rows[4 * i : 4 * i + 4]
        assert (int(version), timeline, hashed) == (count, count, count), sid
        assert indexed is not None, f"{sid} is missing from the stream index"
    newest = sorted(events, key=lambda p: p.created_at)[-GLOBAL_EVENTS_MAX:]
    members = {m.decode() for m in client.zrange(f"{prefix}:{{~global}}:events", 0, -1)}
    assert members == {p.event_id for p in newest}
    assert client.hlen(f"{prefix}:{{~global}}:event-data") == len(newest)
    return len(events) - len(missing_from_redis(client, prefix, events))


def settle(
    server: Server, node: RedisNode, events: list[Planned], answers: list[str], elapsed: float
) -> Figures:
    """Check the first pass, retry what was not acknowledged, check Redis holds every event
    exactly once, and check that acknowledged events delivered again are duplicates."""
    unexpected = [a for a in answers if a not in ACKNOWLEDGED | {UNAVAILABLE, CONNECTION}]
    assert not unexpected, unexpected[:5]
    acknowledged = [p for p, a in zip(events, answers, strict=True) if a in ACKNOWLEDGED]
    client = node.client()
    try:
        assert missing_from_redis(client, "lpf", acknowledged) == [], "acknowledged but lost"
        pending = [p for p, a in zip(events, answers, strict=True) if a not in ACKNOWLEDGED]
        with ThreadPoolExecutor(CLIENT_THREADS) as pool:
            retried = list(pool.map(lambda p: deliver_until_acknowledged(server.port, p), pending))
            # Every acknowledged event delivered again (every 10th of them) is a duplicate.
            again = list(pool.map(lambda p: deliver(server.port, p), acknowledged[::10]))
        assert set(again) <= {DUPLICATE}, again
        found = assert_stored_exactly_once(client, "lpf", events)
    finally:
        client.close()
    return Figures(
        sent=len(events),
        acknowledged=len(acknowledged),
        unavailable=answers.count(UNAVAILABLE),
        connection_errors=answers.count(CONNECTION),
        retried=len(pending),
        applied_before_ack=retried.count(DUPLICATE),
        found=found,
        lost=len(events) - found,
        load_seconds=round(elapsed, 1),
    )


def report(request: pytest.FixtureRequest, name: str, figures: Figures, **extra: object) -> None:
    """Show the figures on the terminal (without xdist) and attach them to the test report."""
    line = f"{name}: " + ", ".join(f"{k}={v}" for k, v in {**asdict(figures), **extra}.items())
    request.node.user_properties.append((name, line))
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line(line)


def worker_pids(server: Server) -> set[int]:
    """Pids of the live (not zombie) children of the gunicorn master: its workers."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state, ppid = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:2]
        except (OSError, ValueError):
            continue  # gone meanwhile
        if int(ppid) == server.pid and state != "Z":
            pids.add(int(entry.name))
    return pids


def wait_for_workers(server: Server, count: int, timeout: float = 15.0) -> set[int]:
    """Wait until the master has `count` workers and every one of them answers /readyz."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = worker_pids(server)
        booted = {
            int(r["message"].rsplit(":", 1)[1])
            for r in server.records()
            if r.get("message", "").startswith("Booting worker with pid:")
        }
        if len(pids) == count and pids <= booted:
            return pids
        time.sleep(0.05)
    raise AssertionError(f"expected {count} workers, have {worker_pids(server)}")


def wait_ready(server: Server, timeout: float = 10.0) -> None:
    """Wait until /readyz answers 200 on several connections (so every worker had its say)."""
    deadline = time.monotonic() + timeout
    streak = 0
    while streak < 6:
        assert time.monotonic() < deadline, "/readyz did not recover"
        status = request(server.port, "GET", "/readyz", timeout=5)[0]
        streak = streak + 1 if status == 200 else 0
        time.sleep(0.02 if status == 200 else 0.2)


# Redis crashes under load -------------------------------------------------------------------------
def run_outages(
    serve: Callable[[str], Server], node: RedisNode, count: int, rate: float, outages: int
) -> tuple[Figures, list[int]]:
    """`count` deliveries while Redis is SIGKILLed `outages` times and restarted on the same
    port 1 s later; the figures and the /readyz statuses seen while Redis was down."""
    server = serve(node.url)
    workers = worker_pids(server)
    events = plan(count)
    ready_while_down: list[int] = []

    def outage() -> None:
        node.kill(signal.SIGKILL)
        down = time.monotonic()
        ready_while_down.append(request(server.port, "GET", "/readyz", timeout=5)[0])
        time.sleep(max(0.0, down + 1.0 - time.monotonic()))
        node.start(attempts=1)

    duration = count / rate
    faults = [(duration * (k + 1) / (outages + 1), outage) for k in range(outages)]
    started = time.monotonic()
    answers = run_load(server.port, events, rate, faults)
    elapsed = time.monotonic() - started
    wait_ready(server)
    figures = settle(server, node, events, answers, elapsed)
    # Recovered without a restart: the same master and the same workers serve.
    assert server.process is not None and server.process.poll() is None
    assert worker_pids(server) == workers
    return figures, ready_while_down


def test_redis_crash_under_load_loses_no_acknowledged_event(
    serve: Callable[[str], Server], persistent_redis: RedisNode, request: pytest.FixtureRequest
) -> None:
    """Redis SIGKILLed and restarted mid-load: 200s are stored, the rest 503 and apply on retry."""
    figures, ready = run_outages(serve, persistent_redis, count=1200, rate=400, outages=1)
    report(request, "redis outage", figures)
    assert ready == [503]
    assert figures.lost == 0 and figures.found == figures.sent == 1200
    assert figures.unavailable > 0, "the outage happened after the load: nothing was tested"
    assert figures.acknowledged > 0


@pytest.mark.soak
def test_soak_redis_crashes(
    serve: Callable[[str], Server], persistent_redis: RedisNode, request: pytest.FixtureRequest
) -> None:
    """Soak: 20,000 deliveries through 4 Redis crashes; nothing acknowledged is lost."""
    figures, ready = run_outages(serve, persistent_redis, count=20_000, rate=500, outages=4)
    report(request, "soak redis outages (4)", figures)
    assert ready == [503] * 4
    assert figures.lost == 0 and figures.found == figures.sent == 20_000
    assert figures.unavailable > 0


# A stuck Redis ----------------------------------------------------------------------------------
def wait_until_stuck(probe: redis.Redis, timeout: float = 5.0) -> None:
    """Wait until PING on `probe` (connected before, socket timeout 0.2 s) times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            probe.ping()
        except redis.TimeoutError:
            return
        time.sleep(0.02)
    raise AssertionError("Redis never got stuck")


def test_stuck_redis_answers_503_within_the_timeout(
    serve: Callable[[str], Server], persistent_redis: RedisNode
) -> None:
    """While Redis runs DEBUG SLEEP, ingest answers 503 within the timeout, then recovers."""
    server = serve(persistent_redis.url)
    events = plan(2)
    assert deliver(server.port, events[0]) == ACCEPTED

    sleeper = persistent_redis.client(socket_timeout=30)
    probe = persistent_redis.client(socket_timeout=0.2, retry=Retry(NoBackoff(), 0))
    assert probe.ping()
    stuck = threading.Thread(target=sleeper.execute_command, args=("DEBUG", "SLEEP", "6"))
    stuck.start()
    try:
        wait_until_stuck(probe)

        def timed(call: Callable[[], object]) -> tuple[object, float]:
            started = time.monotonic()
            return call(), time.monotonic() - started

        with ThreadPoolExecutor(2) as pool:
            ingest = pool.submit(timed, lambda: deliver(server.port, events[1], timeout=30))
            ready = pool.submit(timed, lambda: request(server.port, "GET", "/readyz")[0])
            (answer, elapsed), (status, ready_elapsed) = ingest.result(), ready.result()
    finally:
        stuck.join(30)
        sleeper.close()
        probe.close()
    # Without the timeout both answers would wait for the sleep to end, 5 s or more later.
    assert (answer, status) == (UNAVAILABLE, 503)
    assert max(elapsed, ready_elapsed) < REDIS_TIMEOUT_SECONDS + 2.5, (elapsed, ready_elapsed)

    assert deliver_until_acknowledged(server.port, events[1]) in ACKNOWLEDGED
    client = persistent_redis.client()
    try:
        assert assert_stored_exactly_once(client, "lpf", events) == 2
    finally:
        client.close()


# Killed workers --------------------------------------------------------------------------------
def run_worker_kills(
    serve: Callable[[str], Server], node: RedisNode, count: int, rate: float, kills: int
) -> Figures:
    """`count` deliveries while a gunicorn worker is SIGKILLed `kills` times."""
    server = serve(node.url)
    events = plan(count)
    killed: list[int] = []

    def kill_a_worker() -> None:
        victim = min(wait_for_workers(server, 2))
        os.kill(victim, signal.SIGKILL)
        killed.append(victim)

    duration = count / rate
    faults = [(duration * (k + 1) / (kills + 1), kill_a_worker) for k in range(kills)]
    started = time.monotonic()
    answers = run_load(server.port, events, rate, faults)
    elapsed = time.monotonic() - started
    workers = wait_for_workers(server, 2)
    assert not workers & set(killed), "gunicorn did not replace the killed workers"
    figures = settle(server, node, events, answers, elapsed)
    assert server.process is not None and server.process.poll() is None
    return figures


def test_worker_killed_under_load_loses_no_acknowledged_event(
    serve: Callable[[str], Server], persistent_redis: RedisNode, request: pytest.FixtureRequest
) -> None:
    """A worker SIGKILLed mid-load: every 200 is stored, retries apply once (duplicate: true)."""
    figures = run_worker_kills(serve, persistent_redis, count=1200, rate=400, kills=1)
    report(request, "worker killed", figures)
    assert figures.lost == 0 and figures.found == figures.sent == 1200
    assert figures.acknowledged > 0


@pytest.mark.soak
def test_soak_worker_kills(
    serve: Callable[[str], Server], persistent_redis: RedisNode, request: pytest.FixtureRequest
) -> None:
    """Soak: 20,000 deliveries while 4 workers are SIGKILLed; nothing acknowledged is lost."""
    figures = run_worker_kills(serve, persistent_redis, count=20_000, rate=500, kills=4)
    report(request, "soak worker kills (4)", figures)
    assert figures.lost == 0 and figures.found == figures.sent == 20_000
