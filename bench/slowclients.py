"""Slow clients against ingest (issue 16): signed deliveries' latency while N slow connections
are held open, without a proxy in front.

A swarm of unauthenticated connections, a third of each kind: one that dribbles its headers
(one byte a second of a header that never ends), one that sends complete headers announcing a
100,000-byte body and then one byte every 3 s, one that sends nothing. Each connection the
server closes is opened again at the next tick (an attacker keeps the pressure up), so the
count held stays N. After a 2 s head start, signed deliveries go out open loop (each on a
new connection at its scheduled time, whatever happened to the previous ones, so a stalled
server shows as latency instead of slowing the sender); a delivery not answered within
`timeout` counts as an error with the timeout as its latency.

  python -m bench.slowclients --variant gevent=/tmp/cand/gevent --variant gthread=/tmp/cand/gthread
      [--slow 64,500] [--rate 20 --seconds 10]

runs each variant (`label[=PYTHONPATH][;NAME=VALUE...]`, as bench.compare takes them) as its
own `livepeer-webhooks serve` and prints p50/p99/max per slow-connection count. `make bench`
runs the same measurement against the tree as its part 7.
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import socket
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import loadgen, procs
from .deliveries import DeliveryFactory

KINDS = ("headers", "body", "nothing")
HEAD_START_SECONDS = 2.0
TARGET_P99_MS = 1000.0
DEFAULT_RATE = 20.0
# Between two measurements: the server lets go of the last swarm's connections.
SETTLE_SECONDS = 6.0


@dataclass
class _Slow:
    kind: str
    sock: socket.socket


@dataclass
class Swarm:
    """`count` slow connections to 127.0.0.1:`port`, held (re-opened when closed) until stop()."""

    port: int
    count: int
    opened: int = 0
    reopened: int = 0
    failed_opens: int = 0
    conns: list[_Slow | None] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _open(self, kind: str) -> _Slow | None:
        try:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=2)
        except OSError:
            self.failed_opens += 1
            return None
        sock.setblocking(False)
        self.opened += 1
        head = b""
        if kind == "headers":
            head = b"POST /webhooks/livepeer HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
        elif kind == "body":
            head = (
                b"POST /webhooks/livepeer HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"
            )
        if head:
            try:
                sock.send(head)
            except OSError:
                pass
        return _Slow(kind, sock)

    @staticmethod
    def _let_go(conn: _Slow) -> bool:
        """The server answered or closed the connection (peeked: nothing is consumed)."""
        try:
            conn.sock.recv(1, socket.MSG_PEEK)  # a byte of an answer, or b"" at EOF
        except BlockingIOError:
            return False
        except OSError:
            pass
        return True

    def start(self) -> Swarm:
        self.conns = [self._open(KINDS[i % len(KINDS)]) for i in range(self.count)]
        self._thread = threading.Thread(target=self._run, name="slow-swarm", daemon=True)
        self._thread.start()
        return self

    def _tick(self, tick: int) -> None:
        for i, conn in enumerate(self.conns):
            kind = conn.kind if conn is not None else KINDS[i % len(KINDS)]
            alive = conn is not None and not self._let_go(conn)
            try:
                if alive and conn is not None and kind == "headers":
                    conn.sock.send(b"a")
                elif alive and conn is not None and kind == "body" and tick % 3 == 0:
                    conn.sock.send(b" ")
            except OSError:
                alive = False
            if not alive:
                if conn is not None:
                    conn.sock.close()
                    self.reopened += 1
                self.conns[i] = self._open(kind)

    def _run(self) -> None:
        tick = 0
        while not self._stop.wait(1.0):
            tick += 1
            self._tick(tick)

    def held(self) -> int:
        return sum(1 for c in self.conns if c is not None)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        for conn in self.conns:
            if conn is not None:
                conn.sock.close()


def _deliver(port: int, raw: bytes, timeout: float) -> tuple[int, float]:
    started = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(raw)
            response = http.client.HTTPResponse(sock)
            sock.settimeout(max(0.01, timeout - (time.monotonic() - started)))
            response.begin()
            response.read()
            status = response.status
    except OSError:
        return 0, timeout
    return status, min(time.monotonic() - started, timeout)


def deliveries(
    port: int, requests: list[bytes], rate: float, timeout: float
) -> list[tuple[int, float]]:
    """Send `requests` open loop at `rate`/s, each on its own connection and thread."""
    answers: list[tuple[int, float]] = []
    lock = threading.Lock()

    def send(raw: bytes) -> None:
        answer = _deliver(port, raw, timeout)
        with lock:
            answers.append(answer)

    started = time.monotonic()
    threads = []
    for n, raw in enumerate(requests):
        time.sleep(max(0.0, started + n / rate - time.monotonic()))
        thread = threading.Thread(target=send, args=(raw,), daemon=True)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join(timeout + 5)
    return answers


def measure(
    port: int,
    factory: DeliveryFactory,
    count: int,
    rate: float = DEFAULT_RATE,
    seconds: float = 10.0,
    timeout: float = 10.0,
) -> dict[str, Any]:
    """Deliveries' latency with `count` slow connections held (0: none, for reference)."""
    swarm = Swarm(port, count).start()
    try:
        time.sleep(HEAD_START_SECONDS)
        requests = factory.requests(port, int(rate * seconds))
        answers = deliveries(port, requests, rate, timeout)
        held = swarm.held()
    finally:
        swarm.stop()
    latencies = [1000 * s for _, s in answers]
    return {
        "slow_connections": count,
        "held_at_end": held,
        "slow_opened": swarm.opened,
        "slow_reopened": swarm.reopened,
        "slow_failed_opens": swarm.failed_opens,
        "deliveries": len(answers),
        "rate": rate,
        "timeout_s": timeout,
        "p50_ms": round(loadgen.percentile(latencies, 50), 1),
        "p99_ms": round(loadgen.percentile(latencies, 99), 1),
        "max_ms": round(max(latencies, default=0.0), 1),
        "not_200": sum(1 for status, _ in answers if status != 200),
        "target_p99_ms": TARGET_P99_MS,
    }


def render_row(label: str, row: dict[str, Any]) -> str:
    return (
        f"   {label:<10} {row['slow_connections']:>4} slow (held {row['held_at_end']}, "
        f"re-opened {row['slow_reopened']:>5}): {row['deliveries']} deliveries, p50 "
        f"{row['p50_ms']:8.1f}  p99 {row['p99_ms']:8.1f}  max {row['max_ms']:8.1f} ms, "
        f"not 200: {row['not_200']}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.slowclients",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--variant", action="append", default=[])
    parser.add_argument("--slow", default="64,500", help="slow-connection counts (0 = none)")
    parser.add_argument("--rate", type=float, default=DEFAULT_RATE, help="deliveries per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)
    from .compare import parse_variant

    variants = [parse_variant(v) for v in args.variant or ["tree"]]
    counts = [int(x) for x in args.slow.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="livepeer-slow-"))
    redis = procs.Redis(workdir).start()
    factory = DeliveryFactory(procs.SECRET, [str(uuid.uuid4()) for _ in range(1000)])
    results: dict[str, list[dict[str, Any]]] = {}
    try:
        for label, path, env in variants:
            server = procs.start_service(
                label, workdir, redis.url, "http://127.0.0.1:9", pythonpath=path, **env
            )
            try:
                procs.wait_workers(server, int(env.get("WEB_CONCURRENCY", "2")))
                results[label] = []
                for count in counts:
                    row = measure(
                        server.port, factory, count, args.rate, args.seconds, args.timeout
                    )
                    results[label].append(row)
                    sys.stdout.write(render_row(label, row) + "\n")
                    sys.stdout.flush()
                    time.sleep(SETTLE_SECONDS)
            finally:
                server.stop()
    finally:
        redis.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    if args.output:
        args.output.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
