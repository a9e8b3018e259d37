"""`python -m bench`: every part of issue 6 in one run, a summary table, a JSON result file.

Parts (README.md explains each): 1 throughput against the bare-Flask baseline, 2 latency at
moderate load, 3 Redis work per event, 4 scale to 100k streams and memory per stream,
5 isolation from slow diagnoses, 7 deliveries' latency while slow clients hold connections,
plus the price of the request log line and (--profile) a py-spy profile of ingest.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from importlib.metadata import version
from pathlib import Path
from typing import Any

import redis

from webhook_service.cli.server import gunicorn_options
from webhook_service.config import DEFAULT_KEY_PREFIX, Settings
from webhook_service.ingest.samples import build_delivery, signed_request

from . import loadgen, memory, procs, profile, redis_work, report, scale, slowclients
from .deliveries import DeliveryFactory, now_ms, raw_request

RESULTS_DIR = Path(__file__).resolve().parent / "results"
TARGET_RATIO = 0.8
TARGET_P99_MS = 10.0
TARGET_SCALE_RATIO = 1.2
TARGET_ISOLATION = 1.5
# Floors measured beside the baseline (bench/baseline_app.py): no framework; and one Redis PING.
# "naive" is not a floor but what a user would write instead (bench/baseline_app.py): it runs
# beside the floors, under the same gunicorn options, on the floors' Redis.
FLOORS = ("wsgi", "redis", "naive")
# Ingest against the naive receiver: at least this (issue 16), and the stretch goal.
TARGET_NAIVE_RATIO = 1.0
STRETCH_NAIVE_RATIO = 1.2
# Ingest against the one-PING floor: at least this.
TARGET_PING_FLOOR_RATIO = 0.6
REFERENCE_PREFIX = "ref"


def say(text: str = "") -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="short runs for iteration (~1 min)")
    parser.add_argument("--rounds", type=int, help="throughput rounds per app (3; quick 1)")
    parser.add_argument("--duration", type=float, help="seconds per throughput round (8; quick 4)")
    parser.add_argument("--latency-seconds", type=float, help="open-loop run length (10; quick 5)")
    parser.add_argument("--connections", type=int, help="wrk connections (2 x workers x threads)")
    parser.add_argument("--sizes", help="stream counts for the scale part (1000,10000,100000)")
    parser.add_argument(
        "--skip",
        default="",
        help="comma-separated parts to skip: throughput,latency,isolation,slow_clients,logging,"
        "scale,memory",
    )
    parser.add_argument(
        "--slow-clients",
        default="0,64,500",
        help="slow-connection counts of part 7 (0: the reference without any)",
    )
    parser.add_argument("--profile", action="store_true", help="also profile ingest with py-spy")
    parser.add_argument(
        "--rate", type=float, help="moderate ingest load in req/s (default: half the baseline's)"
    )
    parser.add_argument("--isolation-rounds", type=int, help="rounds of part 5 (5; quick 1)")
    parser.add_argument(
        "--code-path",
        help="PYTHONPATH for the service and baseline processes: measure a modified copy of\n"
        "webhook_service (e.g. /tmp/copy containing webhook_service/) against this tree",
    )
    parser.add_argument(
        "--no-install-wrk", action="store_true", help="fail instead of apt-get install wrk"
    )
    parser.add_argument("--keep-logs", action="store_true", help="keep server logs in results/")
    parser.add_argument("--output", type=Path, help="JSON result path (bench/results/...)")
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.duration = args.duration or (4.0 if args.quick else 8.0)
    args.latency_seconds = args.latency_seconds or (5.0 if args.quick else 10.0)
    args.isolation_rounds = args.isolation_rounds or (1 if args.quick else 5)
    default_sizes = "1000,5000" if args.quick else "1000,10000,100000"
    args.sizes = [int(x) for x in (args.sizes or default_sizes).split(",")]
    args.skip = {x.strip() for x in args.skip.split(",") if x.strip()}
    args.slow_clients = [int(x) for x in args.slow_clients.split(",") if x.strip()]
    return args


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    sizing = Settings.from_env(
        {**procs.clean_env(), "LIVEPEER_WEBHOOK_SECRET": "x", "OPS_API_TOKEN": "x"}
    )
    worker = gunicorn_options(sizing, "127.0.0.1", "json")["worker_class"]
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "gunicorn": version("gunicorn"),
        "flask": version("flask"),
        "werkzeug": version("werkzeug"),
        "pydantic": version("pydantic"),
        "redis_py": version("redis"),
        "hiredis": _has_hiredis(),
        "kernel": platform.release(),
        "load_avg_start": [round(x, 2) for x in os.getloadavg()],
        "workers": sizing.web_concurrency,
        "threads": sizing.threads,
        "worker": getattr(worker, "__name__", str(worker)),
    }


def _has_hiredis() -> bool:
    try:
        import hiredis  # noqa: F401
    except ImportError:
        return False
    return True


def accepted_events(port: int) -> dict[str, int]:
    """Ingest outcomes summed over events, from the service's /metrics."""
    status, body = procs.http_get(port, "/metrics")
    if status != 200:
        raise RuntimeError(f"/metrics answered {status}")
    totals: dict[str, int] = {}
    for match in re.finditer(
        r'^livepeer_webhooks_total\{[^}]*outcome="([a-z_]+)"[^}]*\} ([0-9.e+]+)$',
        body.decode(),
        re.MULTILINE,
    ):
        totals[match.group(1)] = totals.get(match.group(1), 0) + int(float(match.group(2)))
    return totals


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.workdir = Path(tempfile.mkdtemp(prefix="livepeer-bench-"))
        self.result: dict[str, Any] = {"machine": machine(), "parts": {}}
        self.running: list[Any] = []
        self.factory = DeliveryFactory(procs.SECRET, [str(uuid.uuid4()) for _ in range(1000)])

    # Processes -------------------------------------------------------------------------
    def start(self) -> None:
        say(f"work dir {self.workdir}")
        self.wrk = loadgen.ensure_wrk(install=not self.args.no_install_wrk)
        self.redis = procs.Redis(self.workdir).start()
        self.running.append(self.redis)
        self.result["machine"]["redis"] = self.redis.version
        cdn_port = procs.free_port()
        self.cdn = procs.Proc(
            "slow-cdn",
            [sys.executable, "-m", "bench.operators", "slow-cdn", "--port", str(cdn_port)],
            procs.clean_env(PYTHONPATH=str(procs.REPO_ROOT)),
            self.workdir / "slow-cdn.log",
        ).start()
        self.running.append(self.cdn)
        self.cdn_url = f"http://127.0.0.1:{cdn_port}"
        code = self.args.code_path
        self.service = procs.start_service(
            "service", self.workdir, self.redis.url, self.cdn_url, pythonpath=code
        )
        self.running.append(self.service)
        self.baseline = procs.start_baseline(self.workdir, code)
        self.running.append(self.baseline)
        # The PING floor has a Redis of its own: its PINGs must not count as the service's work.
        self.floor_redis = procs.Redis(self.workdir, "redis-floor").start()
        self.running.append(self.floor_redis)
        self.floors = {
            floor: procs.start_baseline(self.workdir, code, floor, self.floor_redis.url)
            for floor in FLOORS
        }
        self.running.extend(self.floors.values())
        workers = self.result["machine"]["workers"]
        threads = self.result["machine"]["threads"]
        for proc in (self.service, self.baseline, *self.floors.values()):
            procs.wait_workers(proc, workers)
        self.connections = self.args.connections or 2 * workers * threads
        say(f"service :{self.service.port}, baseline :{self.baseline.port}, redis {self.redis.url}")

    def stop(self) -> None:
        for proc in reversed(self.running):
            proc.stop()
        if self.args.keep_logs:
            say(f"logs kept in {self.workdir}")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # 1. Throughput ----------------------------------------------------------------------
    def _wrk(
        self,
        proc: procs.Proc,
        requests: list[bytes] | Callable[[], list[bytes]],
        seconds: float,
        balance: bool = True,
    ) -> dict[str, Any]:
        """One wrk run (repeated when one worker took most connections: loadgen.run_wrk_even);
        `requests` is a list (may be replayed: the baseline) or a maker of fresh ones."""
        run = loadgen.run_wrk_even(
            self.wrk,
            proc.port,
            requests,
            seconds,
            self.connections,
            procs.worker_pids(proc),
            meter=lambda: [
                proc.cpu(),
                (self.floor_redis if proc.name.startswith("floor") else self.redis).cpu(),
            ],
            attempts=3 if balance else 1,
        )
        result = run.result
        server_cpu, redis_cpu = run.metered
        if run.attempts > 1:
            say(f"   ({proc.name}: one worker took most connections; ran {run.attempts} times)")
        n = max(result.requests, 1)
        return {
            **asdict(result),
            "server_cpu_us_per_req": round(1e6 * server_cpu / n, 1),
            "redis_cpu_us_per_req": round(1e6 * redis_cpu / n, 1),
            "server_cores": round(server_cpu / result.seconds, 2) if result.seconds else 0,
            "wrk_cores": round(result.wrk_cpu_s / result.seconds, 3) if result.seconds else 0,
            "worker_cpu_split": run.worker_cpu_split,
            "attempts": run.attempts,
            "balanced": run.balanced,
        }

    def _service_requests(self, rate: float, seconds: float) -> Callable[[], list[bytes]]:
        """A maker of enough fresh deliveries for `seconds` at up to 1.5 x `rate`."""
        return self._fresh_requests(self.service, rate, seconds)

    def _fresh_requests(
        self, proc: procs.Proc, rate: float, seconds: float
    ) -> Callable[[], list[bytes]]:
        """A maker of enough fresh deliveries to `proc` for `seconds` at up to 1.5 x `rate`."""
        count = int(rate * seconds * 1.5) + 2000
        return lambda: self.factory.requests(proc.port, count)

    def throughput(self) -> None:
        args = self.args
        say(f"1. throughput: {args.rounds} round(s) x {args.duration:.0f} s per app, wrk")
        base_requests = self.factory.requests(self.baseline.port, 20_000)  # may repeat: no dedupe
        self._wrk(self.baseline, base_requests, 2, balance=False)  # warm-up
        self._wrk(self.service, self._service_requests(3000, 2), 2, balance=False)
        # The naive receiver verifies timestamps: it gets fresh deliveries, as the service does.
        floor_requests: dict[str, list[bytes] | Callable[[], list[bytes]]] = {
            name: self.factory.requests(proc.port, 20_000) for name, proc in self.floors.items()
        }
        if naive := self.floors.get("naive"):
            floor_requests["naive"] = self._fresh_requests(naive, 3000, args.duration)
        for name, proc in self.floors.items():
            self._wrk(proc, floor_requests[name], 2, balance=False)  # warm-up
        rounds: dict[str, list[dict[str, Any]]] = {"baseline": [], "service": []}
        rounds |= {f"floor_{name}": [] for name in self.floors}
        before_outcomes = accepted_events(self.service.port)
        client = self.redis.client()
        redis_work.reset(client)
        before = redis_work.snapshot(client)
        estimate = 0.0
        for i in range(args.rounds):
            b = self._wrk(self.baseline, base_requests, args.duration)
            rounds["baseline"].append(b)
            estimate = max(estimate, b["rps"])
            s = self._wrk(
                self.service, self._service_requests(estimate, args.duration), args.duration
            )
            rounds["service"].append(s)
            for name, proc in self.floors.items():
                rounds[f"floor_{name}"].append(self._wrk(proc, floor_requests[name], args.duration))
            say(
                f"   round {i + 1}: "
                + ", ".join(f"{k} {v[-1]['rps']:.0f} req/s" for k, v in rounds.items())
            )
        time.sleep(1.0)  # requests still in flight when wrk stopped finish their writes
        after = redis_work.snapshot(client)
        outcomes = accepted_events(self.service.port)
        delta = {k: outcomes.get(k, 0) - before_outcomes.get(k, 0) for k in outcomes}
        accepted = delta.get("accepted", 0)
        part: dict[str, Any] = {"connections": self.connections, "rounds": rounds}
        for name, runs in rounds.items():
            part[name] = {
                key: statistics.median(r[key] for r in runs)
                for key in (
                    "rps",
                    "p50_ms",
                    "p99_ms",
                    "server_cpu_us_per_req",
                    "redis_cpu_us_per_req",
                    "wrk_cores",
                    "server_cores",
                )
            }
            part[name]["errors"] = sum(r["errors"] for r in runs)
            part[name]["requests"] = sum(r["requests"] for r in runs)
        part["service"]["wraps"] = sum(r["wraps"] for r in rounds["service"])
        part["service"]["outcomes"] = delta
        # A replayed (wrapped) or otherwise non-accepted delivery is an error of the run.
        part["service"]["errors"] += part["service"]["wraps"] + sum(
            v for k, v in delta.items() if k != "accepted"
        )
        part["ratio"] = round(part["service"]["rps"] / part["baseline"]["rps"], 3)
        part["cpu_ratio"] = round(
            part["baseline"]["server_cpu_us_per_req"]
            / (part["service"]["server_cpu_us_per_req"] + part["service"]["redis_cpu_us_per_req"]),
            3,
        )
        part["floor_ratios"] = {
            name: round(part[f"floor_{name}"]["rps"] / part["baseline"]["rps"], 3)
            for name in self.floors
        }
        part["target_ratio"] = TARGET_RATIO
        if "floor_naive" in part:
            part["naive_ratio"] = round(part["service"]["rps"] / part["floor_naive"]["rps"], 3)
            part["target_naive_ratio"] = TARGET_NAIVE_RATIO
            part["stretch_naive_ratio"] = STRETCH_NAIVE_RATIO
        if "floor_redis" in part:
            part["ping_floor_ratio"] = round(part["service"]["rps"] / part["floor_redis"]["rps"], 3)
            part["target_ping_floor_ratio"] = TARGET_PING_FLOOR_RATIO
        self.result["parts"]["throughput"] = part
        self.result["parts"]["redis_work"] = redis_work.per_event(before, after, accepted)

    # 2. Latency at moderate load --------------------------------------------------------
    def _open_loop(
        self, proc: procs.Proc, rate: float, seconds: float, keep: list[float] | None = None
    ) -> dict[str, Any]:
        """One open-loop run; its latencies are appended to `keep` when given (pooling)."""
        requests = self.factory.requests(proc.port, int(rate * seconds))
        server_cpu = proc.cpu()
        run = loadgen.open_loop(
            proc.port, requests, rate, balanced=lambda: self._even_connections(proc)
        )
        if keep is not None:
            keep.extend(run.samples)
        result = run.as_dict()
        result["server_cores"] = round((proc.cpu() - server_cpu) / result["seconds"], 2)
        return result

    def _even_connections(self, proc: procs.Proc) -> bool:
        """Every worker holds at least half its fair share of the client connections."""
        counts = list(procs.connections_per_worker(proc).values())
        fair = sum(counts) / max(len(counts), 1)
        return bool(counts) and min(counts) >= 0.5 * fair

    def moderate_rate(self) -> tuple[float, float | None]:
        """Half the baseline's rate, and half the service's when it cannot sustain the former."""
        tp = self.result["parts"].get("throughput")
        if self.args.rate:
            return self.args.rate, None
        if tp is None:
            return 400.0, None
        rate = 0.5 * tp["baseline"]["rps"]
        own = 0.5 * tp["service"]["rps"]
        return rate, (own if rate > 0.8 * tp["service"]["rps"] else None)

    def latency(self) -> None:
        rate, fallback = self.moderate_rate()
        seconds = self.args.latency_seconds
        say(f"2. latency: open loop at {rate:.0f} req/s (half the baseline) for {seconds:.0f} s")
        part: dict[str, Any] = {"rate": round(rate, 1), "target_p99_ms": TARGET_P99_MS}
        part["baseline"] = self._open_loop(self.baseline, rate, seconds)
        part["service"] = self._open_loop(self.service, rate, seconds)
        if fallback is not None:
            say(f"   the service cannot sustain that; also at {fallback:.0f} req/s (half its own)")
            part["service_at_half_own_max"] = self._open_loop(self.service, fallback, seconds)
            part["service_at_half_own_max"]["rate"] = round(fallback, 1)
        self.result["parts"]["latency"] = part

    # 5. Isolation -----------------------------------------------------------------------
    def isolation(self) -> None:
        rate, fallback = self.moderate_rate()
        rate = fallback or rate
        seconds = max(4.0, 0.8 * self.args.latency_seconds)
        rounds = self.args.isolation_rounds
        stream_id = str(uuid.uuid4())
        stamp = now_ms()
        raw, headers = signed_request(
            build_delivery("stream.started", stream_id, stamp - 1000, stamp), procs.SECRET
        )
        conn_req = raw_request(self.service.port, "/webhooks/livepeer", raw, headers)
        result = loadgen.open_loop(self.service.port, [conn_req], 10, connections=1)
        if result.errors:
            raise RuntimeError("could not make the isolation stream live")
        say(
            f"5. isolation: ingest at {rate:.0f} req/s, {rounds} round(s) of {seconds:.0f} s "
            "without and with 8 operators diagnosing against a 2 s CDN"
        )
        runs: dict[str, list[dict[str, Any]]] = {"without": [], "with": []}
        pooled: dict[str, list[float]] = {"without": [], "with": []}
        operators: list[dict[str, Any]] = []
        for _ in range(rounds):
            runs["without"].append(self._open_loop(self.service, rate, seconds, pooled["without"]))
            ops = procs.Proc(
                "operators",
                [
                    sys.executable,
                    "-m",
                    "bench.operators",
                    "diagnose",
                    "--port",
                    str(self.service.port),
                    "--stream",
                    stream_id,
                    "--concurrency",
                    "8",
                ],
                procs.clean_env(PYTHONPATH=str(procs.REPO_ROOT), BENCH_OPS_TOKEN=procs.TOKEN),
                self.workdir / "operators.log",
            )
            ops.start()
            self.running.append(ops)
            time.sleep(2.5)  # every operator has a diagnosis in flight, waiting on the CDN
            runs["with"].append(self._open_loop(self.service, rate, seconds, pooled["with"]))
            ops.stop()
            self.running.remove(ops)
            lines = [x for x in ops.log_tail(2000).splitlines() if x.startswith("{")]
            operators.append(json.loads(lines[-1]) if lines else {})
        part: dict[str, Any] = {"rate": round(rate, 1), "runs": runs, "operators": operators}
        # Pooled over the rounds, as one long run: a stall in one round must count.
        for name in ("without", "with"):
            part[name] = {
                "p50_ms": round(loadgen.percentile(pooled[name], 50), 2),
                "p99_ms": round(loadgen.percentile(pooled[name], 99), 2),
                "max_ms": round(max(pooled[name], default=0.0), 1),
                "requests": len(pooled[name]),
                "errors": sum(r["errors"] for r in runs[name]),
            }
        part["p99_ratio"] = round(part["with"]["p99_ms"] / max(part["without"]["p99_ms"], 1e-3), 2)
        part["target_ratio"] = TARGET_ISOLATION
        # Context for reading the ratio on a shared machine: each round's pair, how far the
        # rounds without operators differ among themselves (the noise floor of the ratio), and
        # the service's CPU in each condition (what the operators take from ingest).
        p99s = {name: [r["p99_ms"] for r in runs[name]] for name in runs}
        part["round_p99_ms"] = {name: [round(x, 1) for x in v] for name, v in p99s.items()}
        part["round_ratios"] = [
            round(w / max(wo, 1e-3), 2) for wo, w in zip(p99s["without"], p99s["with"], strict=True)
        ]
        part["without_spread"] = round(max(p99s["without"]) / max(min(p99s["without"]), 1e-3), 2)
        part["server_cores"] = {
            name: round(statistics.median(r["server_cores"] for r in runs[name]), 2)
            for name in runs
        }
        self.result["parts"]["isolation"] = part

    # 7. Slow clients -------------------------------------------------------------------
    def slow_clients(self) -> None:
        """Signed deliveries' latency while N slow connections are held (bench/slowclients.py)."""
        seconds = 5.0 if self.args.quick else 10.0
        counts = self.args.slow_clients
        say(
            f"7. slow clients: {slowclients.DEFAULT_RATE:.0f} deliveries/s for {seconds:.0f} s "
            f"with {', '.join(map(str, counts))} slow connections held"
        )
        runs = []
        for count in counts:
            row = slowclients.measure(self.service.port, self.factory, count, seconds=seconds)
            say(slowclients.render_row("service", row))
            runs.append(row)
            time.sleep(slowclients.SETTLE_SECONDS)
        self.result["parts"]["slow_clients"] = {
            "runs": runs,
            "target_p99_ms": slowclients.TARGET_P99_MS,
        }

    # Logging cost -----------------------------------------------------------------------
    def logging_cost(self) -> None:
        """The service with and without its request log line, both started the same way
        (bench/baseline_app.py --service), fresh, measured in alternating rounds."""
        args = self.args
        rounds = max(2, args.rounds)
        say(f"6. request log line: {rounds} round(s), service with and without it")
        pythonpath = os.pathsep.join(filter(None, [args.code_path, str(procs.REPO_ROOT)]))
        launcher = [sys.executable, "-m", "bench.baseline_app", "--service"]
        variants = {}
        for name, extra in (("with_log", []), ("without_log", ["--without-request-log"])):
            variants[name] = procs.start_service(
                f"service-{name}",
                self.workdir,
                self.redis.url,
                self.cdn_url,
                argv=launcher + extra,
                pythonpath=pythonpath,
            )
            self.running.append(variants[name])
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
        duration = max(4.0, args.duration * 0.6)
        try:
            for proc in variants.values():
                procs.wait_workers(proc, self.result["machine"]["workers"])
                self._wrk(proc, self._service_requests(3000, 2), 2, balance=False)
            rate = self.result["parts"].get("throughput", {}).get("baseline", {}).get("rps", 3000)
            for i in range(rounds):
                order = list(variants) if i % 2 == 0 else list(reversed(variants))
                for name in order:
                    requests = self._service_requests(rate, duration)
                    runs[name].append(self._wrk(variants[name], requests, duration))
        finally:
            for proc in variants.values():
                proc.stop()
                self.running.remove(proc)
        part: dict[str, Any] = {"runs": runs}
        for name, done in runs.items():
            part[name] = {
                "rps": statistics.median(r["rps"] for r in done),
                "server_cpu_us_per_req": statistics.median(
                    r["server_cpu_us_per_req"] for r in done
                ),
                "errors": sum(r["errors"] + r["wraps"] for r in done),
            }
        part["log_cpu_us_per_req"] = round(
            part["with_log"]["server_cpu_us_per_req"]
            - part["without_log"]["server_cpu_us_per_req"],
            1,
        )
        part["rps_gain_without_log"] = round(
            part["without_log"]["rps"] / part["with_log"]["rps"] - 1, 3
        )
        self.result["parts"]["logging"] = part

    # 4. Scale ---------------------------------------------------------------------------
    def scale(self) -> None:
        """Cost per request kind at each stream count, two ways.

        `vs_first`: against the first (smallest) size, minutes earlier; it sees everything,
        Redis's own growth included, and also the machine's drift. `paired`: a second service
        (prefix `ref`, always 1k streams, same Redis) is timed in the same rounds, and the
        ratio main/ref at size N is divided by that at the first size: drift and the two
        processes' constant difference cancel, leaving what the keyspace's size costs.
        """
        args = self.args
        client = self.redis.client()
        client.flushall()  # exactly N streams (the earlier parts' streams are gone)
        say(f"4. scale: {', '.join(f'{n:,}' for n in args.sizes)} streams (+ a 1k reference)")
        reference = procs.start_service(
            "service-ref",
            self.workdir,
            self.redis.url,
            self.cdn_url,
            pythonpath=args.code_path,
            REDIS_KEY_PREFIX=REFERENCE_PREFIX,
        )
        self.running.append(reference)
        ref_ids = [str(uuid.uuid4()) for _ in range(1000)]
        _populate_parallel(self.redis.url, ref_ids, 0, REFERENCE_PREFIX)
        ids: list[str] = []
        sizes: dict[str, Any] = {}
        per_kind = 150 if args.quick else 600
        try:
            procs.wait_workers(reference, self.result["machine"]["workers"])
            for size in args.sizes:
                new = [str(uuid.uuid4()) for _ in range(size - len(ids))]
                memory_before = redis_work.used_memory(client)
                filled = _populate_parallel(self.redis.url, new, len(ids), DEFAULT_KEY_PREFIX)
                memory_added = redis_work.used_memory(client) - memory_before
                ids.extend(new)
                count = scale.stream_count(client)
                if count != size:
                    raise RuntimeError(f"scale: {count} streams indexed, expected {size}")
                measured = scale.measure_kinds(
                    [
                        scale.Target("main", self.service.port, ids, lambda: self.service.cpu()),
                        scale.Target("ref", reference.port, ref_ids, lambda: reference.cpu()),
                    ],
                    procs.TOKEN,
                    lambda body: signed_request(body, procs.SECRET),
                    per_kind,
                    rounds=24,  # small blocks, so a burst of other load hits both targets
                )
                sizes[str(size)] = {
                    "populate": filled,
                    "bytes_per_stream_added": round(memory_added / max(len(new), 1)),
                    "used_memory": redis_work.used_memory(client),
                    "kinds": measured["main"],
                    "reference": measured["ref"],
                }
                say(
                    f"   {size:>7,} streams (filled in {filled['seconds']} s): "
                    + ", ".join(f"{k} {v['p50_ms']:.2f} ms" for k, v in measured["main"].items())
                )
        finally:
            reference.stop()
            self.running.remove(reference)
        first = sizes[str(args.sizes[0])]
        for entry in sizes.values():
            entry["ratio_vs_first"], entry["paired_ratio"] = {}, {}
            for kind, values in entry["kinds"].items():
                base = first["kinds"][kind]["p50_ms"]
                entry["ratio_vs_first"][kind] = round(values["p50_ms"] / base, 3)
                here = values["p50_ms"] / entry["reference"][kind]["p50_ms"]
                there = base / first["reference"][kind]["p50_ms"]
                entry["paired_ratio"][kind] = round(here / there, 3)
        self.result["parts"]["scale"] = {"sizes": sizes, "target_ratio": TARGET_SCALE_RATIO}

    def memory(self) -> None:
        say("4b. memory per stream with a full timeline")
        self.result["parts"]["memory"] = memory.measure(self.redis.client())

    # Profile ----------------------------------------------------------------------------
    def profile(self) -> None:
        seconds = max(self.args.duration, 8)
        say(f"profile: py-spy (--gil) on the service workers for {seconds:.0f} s under wrk")
        pids = procs.worker_pids(self.service)
        out = self.workdir / "profile"
        out.mkdir(exist_ok=True)
        paths = profile.start(pids, seconds, out)
        time.sleep(0.5)
        estimate = self.result["parts"].get("throughput", {}).get("baseline", {}).get("rps", 3000)
        self._wrk(self.service, self._service_requests(estimate, seconds), seconds)
        time.sleep(2)
        summary = profile.summarise(paths)
        keep = RESULTS_DIR / "profiles"
        keep.mkdir(parents=True, exist_ok=True)
        for path in paths:
            if path.exists():
                shutil.copy(path, keep / path.name)
        summary["files"] = [str(keep / p.name) for p in paths]
        self.result["parts"]["profile"] = summary


def _populate_chunk(url: str, ids: list[str], start_n: int, prefix: str) -> dict[str, Any]:
    client = redis.Redis.from_url(url)
    try:
        return scale.populate(client, ids, start_n, prefix)
    finally:
        client.close()


def _populate_parallel(url: str, ids: list[str], start_n: int, prefix: str) -> dict[str, Any]:
    """Populate with two processes (the Python side is the slow part; Redis keeps up)."""
    started = time.perf_counter()
    if len(ids) < 5000:
        result = _populate_chunk(url, ids, start_n, prefix)
    else:
        half = len(ids) // 2
        with ProcessPoolExecutor(2) as pool:
            futures = [
                pool.submit(_populate_chunk, url, ids[:half], start_n, prefix),
                pool.submit(_populate_chunk, url, ids[half:], start_n + half, prefix),
            ]
            results = [f.result() for f in futures]
        result = {"mode": results[0]["mode"]}
    result["seconds"] = round(time.perf_counter() - started, 2)
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    bench = Bench(args)
    started = time.time()
    steps: list[tuple[str, Callable[[], None]]] = [
        ("throughput", bench.throughput),
        ("latency", bench.latency),
        ("isolation", bench.isolation),
        ("slow_clients", bench.slow_clients),
        ("logging", bench.logging_cost),
        ("scale", bench.scale),
        ("memory", bench.memory),
    ]
    if args.profile:
        steps.insert(1, ("profile", bench.profile))
    try:
        bench.start()
        for name, step in steps:
            if name not in args.skip:
                step()
    finally:
        bench.stop()
    bench.result["seconds"] = round(time.time() - started, 1)
    bench.result["args"] = {
        k: (sorted(v) if isinstance(v, set) else str(v) if isinstance(v, Path) else v)
        for k, v in vars(args).items()
    }
    bench.result["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    verdicts = report.verdicts(bench.result)
    bench.result["targets"] = verdicts
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    output = args.output or RESULTS_DIR / f"bench-{stamp}{'-quick' if args.quick else ''}.json"
    output.write_text(json.dumps(bench.result, indent=2) + "\n")
    shutil.copy(output, RESULTS_DIR / "latest.json")
    sys.stdout.write(report.render(bench.result))
    sys.stdout.write(f"\nfull results: {output}\n")
    # Errors fail the run; missed targets are reported, not failed (the numbers are the point).
    return 1 if report.errors(bench.result) else 0


if __name__ == "__main__":
    sys.exit(main())
