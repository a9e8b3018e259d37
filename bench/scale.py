"""Scale: fill Redis with 1k, 10k, 100k streams and price a stream read, a list page and an ingest.

Streams are written by the service's own code: each delivery goes through
`events.parse_delivery` and `stream_update.build_update` into `Store.apply`, whose EVALSHAs are
collected into one large pipeline per batch (`_BatchingClient`) so 100k streams take seconds,
not a round trip each. Should the store stop calling its scripts that way, population falls back
to plain `Store.apply` calls (slower, same result); the index is counted afterwards either way.

Each request kind is then timed sequentially on one keep-alive connection (latency = the cost
of one request, no queueing), with the server's and Redis's CPU per request alongside.
"""

from __future__ import annotations

import http.client
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis

from webhook_service.config import DEFAULT_KEY_PREFIX
from webhook_service.ingest.events import parse_delivery
from webhook_service.ingest.samples import build_delivery, encode
from webhook_service.ingest.stream_update import build_update
from webhook_service.store import Store

from .deliveries import INGEST_PATH, now_ms
from .loadgen import percentile

BATCH = 500


class _BatchingClient:
    """Stands in for redis.Redis under Store: queues its EVALSHAs on one pipeline, which
    flush() sends in one go. Store reads nothing back on this path but the duplicate flag."""

    def __init__(self, real: redis.Redis) -> None:
        self._real = real
        self.pipe = real.pipeline(transaction=False)
        self.scripts: list[Any] = []

    def register_script(self, script: str) -> Any:
        registered = self._real.register_script(script)
        self.scripts.append(registered)
        return registered

    def evalsha(self, *args: Any) -> list[Any]:
        self.pipe.evalsha(*args)
        # A placeholder answer of the stream script: not a duplicate, version 1.
        return [0, 1, "idle", "0"]

    def load_scripts(self) -> None:
        for script in self.scripts:
            self._real.script_load(script.script)

    def flush(self) -> None:
        errors = [r for r in self.pipe.execute(raise_on_error=False) if isinstance(r, Exception)]
        if errors:
            raise errors[0]


def _population_update(stream_id: str, n: int, at_ms: int) -> Any:
    event = "stream.started" if n % 2 == 0 else "stream.idle"
    body = build_delivery(event, stream_id, created_at_ms=at_ms + n, timestamp_ms=at_ms + n)
    return build_update(parse_delivery(encode(body)), received_at_ms=at_ms + n)


def populate(
    client: redis.Redis,
    stream_ids: list[str],
    start_n: int = 0,
    prefix: str = DEFAULT_KEY_PREFIX,
) -> dict[str, Any]:
    """Apply one realistic event (started or idle, alternating) to each stream."""
    started = time.perf_counter()
    at = now_ms() - 86_400_000
    batching = _BatchingClient(client)
    mode = "batched pipelines"
    try:
        store = Store(batching, prefix)  # type: ignore[arg-type]
        batching.load_scripts()
        for i, sid in enumerate(stream_ids):
            store.apply(_population_update(sid, start_n + i, at))
            if (i + 1) % BATCH == 0:
                batching.flush()
        batching.flush()
    except (AttributeError, TypeError):
        # The store no longer matches the recorder: apply one by one (same writes, slower).
        mode = "Store.apply per event"
        store = Store(client, prefix)
        for i, sid in enumerate(stream_ids):
            store.apply(_population_update(sid, start_n + i, at))
    return {"mode": mode, "seconds": round(time.perf_counter() - started, 2)}


def stream_count(client: redis.Redis, prefix: str = DEFAULT_KEY_PREFIX) -> int:
    return int(client.zcard(f"{prefix}:{{~global}}:streams"))


class Client:
    """One keep-alive connection; each call returns (status, seconds)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> int:
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
        except (http.client.HTTPException, OSError):
            # The server closed the idle keep-alive connection: reconnect once.
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
        response.read()
        return response.status

    def close(self) -> None:
        self.conn.close()


Request = tuple[str, str, bytes | None, dict[str, str]]


@dataclass
class Target:
    """A server to time and the streams it has stored."""

    name: str
    port: int
    stream_ids: list[str]
    cpu: Callable[[], float]


def measure_kinds(
    targets: list[Target],
    token: str,
    sign: Callable[[dict[str, Any]], tuple[bytes, dict[str, str]]],
    per_kind: int,
    rounds: int,
) -> dict[str, dict[str, dict[str, float]]]:
    """Per target, median/p90 latency and CPU per request of each request kind.

    Blocks of each kind go to each target in turn, `rounds` times, so drift of a shared
    machine hits every target and kind alike.
    """
    rng = random.Random(42)
    auth = {"Authorization": f"Bearer {token}"}
    run = uuid.uuid4().hex[:8]
    counter = iter(range(10**9))

    def get_stream(ids: list[str]) -> Request:
        return "GET", f"/api/streams/{rng.choice(ids)}", None, auth

    def list_page(ids: list[str]) -> Request:
        return "GET", "/api/streams?limit=50", None, auth

    def ingest(ids: list[str]) -> Request:
        n = next(counter)
        stamp = now_ms()
        event = "stream.started" if n % 2 else "stream.idle"
        body = build_delivery(event, rng.choice(ids), stamp - 1000, stamp, event_id=f"sc-{run}-{n}")
        raw, headers = sign(body)
        return "POST", INGEST_PATH, raw, headers

    kinds: dict[str, Callable[[list[str]], Request]] = {
        "get_stream": get_stream,
        "list_page_50": list_page,
        "ingest": ingest,
    }
    clients = {t.name: Client(t.port) for t in targets}
    latencies = {t.name: {k: [] for k in kinds} for t in targets}
    cpu_used = {t.name: dict.fromkeys(kinds, 0.0) for t in targets}
    errors = {t.name: dict.fromkeys(kinds, 0) for t in targets}
    block = max(1, per_kind // rounds)
    try:
        for target in targets:  # warm up each route (imports, pools, caches)
            for make in kinds.values():
                for _ in range(50):
                    clients[target.name].call(*make(target.stream_ids))
        for _ in range(rounds):
            for kind, make in kinds.items():
                for target in targets:
                    client = clients[target.name]
                    # Requests are built before the clock starts (signing is the sender's cost).
                    prepared = [make(target.stream_ids) for _ in range(block)]
                    cpu_before = target.cpu()
                    for request in prepared:
                        started = time.perf_counter()
                        status = client.call(*request)
                        latencies[target.name][kind].append(time.perf_counter() - started)
                        if status != 200:
                            errors[target.name][kind] += 1
                    cpu_used[target.name][kind] += target.cpu() - cpu_before
    finally:
        for client in clients.values():
            client.close()
    out: dict[str, dict[str, dict[str, float]]] = {}
    for target in targets:
        out[target.name] = {}
        for kind, values in latencies[target.name].items():
            ms = [v * 1000 for v in values]
            out[target.name][kind] = {
                "requests": len(ms),
                "p50_ms": round(percentile(ms, 50), 3),
                "p90_ms": round(percentile(ms, 90), 3),
                "cpu_us_per_request": round(1e6 * cpu_used[target.name][kind] / max(len(ms), 1), 1),
                "errors": errors[target.name][kind],
            }
    return out
