"""Load generators: wrk (closed loop, for throughput) and an open-loop Python generator (latency).

Throughput uses wrk replaying pre-signed requests: C connections each send the next request as
soon as the previous answer arrives, so it finds the server's maximum rate. wrk's own CPU is
measured and printed, to show it is not the bottleneck.

Latency at a given load needs an open loop: requests leave on a fixed schedule whatever the
server does, and each latency is counted from its *scheduled* time, so a stalled server shows
up as queueing instead of silently slowing the generator (coordinated omission, which a
closed-loop tool like wrk has). wrk2 would do this but is not in Debian; the generator below
is asyncio on raw keep-alive sockets, one process, and reports how late it dispatched, so a
run where the generator itself lagged is visible.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .deliveries import write_replay_file
from .procs import cpu_seconds

LUA_SCRIPT = Path(__file__).resolve().parent / "wrk_replay.lua"
GENERATOR_NICE = -10
BALANCE_ATTEMPTS = 8


def ensure_wrk(install: bool) -> str:
    """The wrk binary; installed with apt-get (Debian package `wrk`) when missing and allowed."""
    found = shutil.which("wrk")
    if found:
        return found
    if install and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        # Without root, apt-get fails and the message below explains what to do.
        cmd = "apt-get install -y -qq wrk || (apt-get update -qq && apt-get install -y -qq wrk)"
        subprocess.run(["sh", "-c", cmd], env=env, check=False, capture_output=True)
        found = shutil.which("wrk")
        if found:
            return found
    raise RuntimeError("wrk is required: apt-get install wrk (or run with --install-wrk as root)")


@dataclass
class WrkResult:
    requests: int
    seconds: float
    rps: float
    errors: int
    wraps: int
    available: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    wrk_cpu_s: float
    detail: dict[str, int] = field(default_factory=dict)


def run_wrk(
    wrk: str,
    port: int,
    requests: list[bytes],
    seconds: float,
    connections: int,
    threads: int = 1,
    timeout_s: int = 10,
) -> WrkResult:
    """Replay `requests` against 127.0.0.1:port for `seconds` with wrk; parse its BENCH_JSON."""
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as tmp:
        path = write_replay_file(Path(tmp) / "requests.bin", requests)
        argv = [
            wrk,
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            f"--timeout={timeout_s}s",
            "-s",
            str(LUA_SCRIPT),
            f"http://127.0.0.1:{port}",
            "--",
            str(path),
            str(threads),
        ]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        with generator_priority():  # wrk inherits it
            done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    data = json.loads(line.removeprefix("BENCH_JSON "))
    secs = data["duration_us"] / 1e6
    errors = sum(
        data[k]
        for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts")
    )
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return WrkResult(
        requests=data["requests"],
        seconds=secs,
        rps=data["requests"] / secs if secs else 0.0,
        errors=errors,
        wraps=data["wraps"],
        available=data["available"],
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        wrk_cpu_s=cpu,
        detail={k: v for k, v in data.items() if k.endswith(("errors", "timeouts"))},
    )


@dataclass
class EvenRun:
    result: WrkResult
    worker_cpu_split: list[float]
    attempts: int
    balanced: bool
    # meter() after minus before, around the last attempt only
    metered: list[float]


def run_wrk_even(
    wrk: str,
    port: int,
    requests: list[bytes] | Callable[[], list[bytes]],
    seconds: float,
    connections: int,
    worker_pids: list[int],
    meter: Callable[[], list[float]] = list,
    attempts: int = 3,
) -> EvenRun:
    """run_wrk, repeated while one worker did most of the work.

    gunicorn workers race to accept wrk's keep-alive connections and one can take nearly all
    of them, halving throughput: a run whose busiest worker used over twice the CPU of the
    idlest is run again (fresh connections, fresh requests when `requests` is a maker).
    """
    attempt = 0
    while True:
        attempt += 1
        batch = requests() if callable(requests) else requests
        before = [cpu_seconds([pid]) for pid in worker_pids]
        metered = meter()
        result = run_wrk(wrk, port, batch, seconds, connections)
        metered = [after - b for after, b in zip(meter(), metered, strict=True)]
        split = [cpu_seconds([pid]) - b for pid, b in zip(worker_pids, before, strict=True)]
        even = not split or max(split) <= 0 or min(split) >= 0.5 * max(split)
        if even or attempt >= attempts:
            return EvenRun(result, [round(x, 2) for x in split], attempt, even, metered)


@dataclass
class OpenLoopResult:
    target_rps: float
    sent: int
    completed: int
    errors: int
    seconds: float
    achieved_rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    # How late the generator put requests on the wire (its own lag, not the server's).
    dispatch_lag_p99_ms: float
    statuses: dict[str, int] = field(default_factory=dict)
    # every latency (ms), for pooling runs; left out of as_dict() (the JSON stays small)
    samples: list[float] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data.pop("samples")
        return data


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of unsorted values; 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
            break
    if length:
        await reader.readexactly(length)
    return status


async def _open_loop(
    port: int,
    requests: list[bytes],
    rate: float,
    connections: int,
    balanced: Callable[[], bool] | None,
) -> OpenLoopResult:
    queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()
    latencies: list[float] = []
    lags: list[float] = []
    statuses: dict[str, int] = {}
    errors = 0

    async def open_all() -> list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
        """Open the keep-alive connections; gunicorn workers race to accept them, and one can
        take nearly all, so re-open until every worker holds a fair share (if asked to)."""
        for _ in range(BALANCE_ATTEMPTS):
            opened = []
            for _ in range(connections):
                opened.append(await asyncio.open_connection("127.0.0.1", port))
                await asyncio.sleep(0.002)
            await asyncio.sleep(0.1)
            if balanced is None or balanced():
                return opened
            for _, writer in opened:
                writer.close()
            await asyncio.sleep(0.2)
        return opened

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal errors
        try:
            while (item := await queue.get()) is not None:
                scheduled, raw = item
                try:
                    writer.write(raw)
                    status = await _read_response(reader)
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    errors += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    continue
                latencies.append(time.perf_counter() - scheduled)
                statuses[str(status)] = statuses.get(str(status), 0) + 1
                if status != 200:
                    errors += 1
        finally:
            writer.close()

    workers = [asyncio.create_task(connection(r, w)) for r, w in await open_all()]
    interval = 1.0 / rate
    start = time.perf_counter()
    for i, raw in enumerate(requests):
        scheduled = start + i * interval
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        lags.append(time.perf_counter() - scheduled)
        queue.put_nowait((scheduled, raw))
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers, return_exceptions=True)
    elapsed = time.perf_counter() - start
    ms = [x * 1000 for x in latencies]
    return OpenLoopResult(
        target_rps=rate,
        sent=len(requests),
        completed=len(latencies),
        errors=errors,
        seconds=elapsed,
        achieved_rps=len(latencies) / elapsed if elapsed else 0.0,
        p50_ms=percentile(ms, 50),
        p90_ms=percentile(ms, 90),
        p99_ms=percentile(ms, 99),
        p999_ms=percentile(ms, 99.9),
        max_ms=max(ms, default=0.0),
        dispatch_lag_p99_ms=percentile([x * 1000 for x in lags], 99),
        statuses=statuses,
        samples=ms,
    )


def open_loop(
    port: int,
    requests: list[bytes],
    rate: float,
    connections: int = 64,
    balanced: Callable[[], bool] | None = None,
) -> OpenLoopResult:
    """Send `requests` at a fixed `rate` (req/s); latency counted from each scheduled time.

    `balanced` is asked once the connections are open; while it says no they are re-opened.
    """
    with generator_priority():
        return asyncio.run(_open_loop(port, requests, rate, connections, balanced))


@contextmanager
def generator_priority() -> Iterator[None]:
    """Run the generator at nice -10 when allowed (root), so a saturated 2-core machine does
    not delay its schedule; it needs a few percent of a core, so the server loses little."""
    previous = os.getpriority(os.PRIO_PROCESS, 0)
    try:
        os.setpriority(os.PRIO_PROCESS, 0, GENERATOR_NICE)
    except OSError:
        pass  # not permitted: the printed dispatch lag shows whether it mattered
    try:
        yield
    finally:
        try:
            os.setpriority(os.PRIO_PROCESS, 0, previous)
        except OSError:
            pass
