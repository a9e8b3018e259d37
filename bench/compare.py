"""A/B the ingest path: the tree against modified copies or other settings, interleaved.

  python -m bench.compare --variant tree \
      --variant 'orig=/tmp/opt/orig' \
      --variant 'threads4=;GUNICORN_THREADS=4' [--rounds 4 --duration 6]

A variant is `label[=PYTHONPATH][;NAME=VALUE...]`: PYTHONPATH is put in front of the service's
(a directory holding a modified `webhook_service/`, or extra packages such as hiredis), NAME=VALUE
are environment settings. `baseline` as a label (with no path) is the bare-Flask app. Every
variant runs as its own `livepeer-webhooks serve` on one shared Redis; rounds go through the
variants in turn, so slow drift of a shared machine hits each alike. Printed per variant: the
median requests/s and server and Redis CPU per request (the steadier number on a noisy
machine), and each against the first variant.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from . import loadgen, procs
from .deliveries import DeliveryFactory


def parse_variant(text: str) -> tuple[str, str | None, dict[str, str]]:
    head, *settings = text.split(";")
    label, _, path = head.partition("=")
    env = dict(s.split("=", 1) for s in settings if "=" in s)
    return label.strip(), (path.strip() or None), env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.compare",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--variant", action="append", required=True)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--duration", type=float, default=6.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)
    variants = [parse_variant(v) for v in args.variant]
    workdir = Path(tempfile.mkdtemp(prefix="livepeer-compare-"))
    wrk = loadgen.ensure_wrk(install=True)
    redis = procs.Redis(workdir).start()
    servers: dict[str, procs.Proc] = {}
    factory = DeliveryFactory(procs.SECRET, [str(uuid.uuid4()) for _ in range(1000)])
    results: dict[str, list[dict[str, Any]]] = {label: [] for label, _, _ in variants}
    try:
        for label, path, env in variants:
            if label == "baseline":
                servers[label] = procs.start_baseline(workdir, path)
            else:
                servers[label] = procs.start_service(
                    label, workdir, redis.url, "http://127.0.0.1:9", pythonpath=path, **env
                )
            workers = env.get("WEB_CONCURRENCY") or os.environ.get("WEB_CONCURRENCY") or "2"
            procs.wait_workers(servers[label], int(workers))
        for server in servers.values():  # warm-up
            loadgen.run_wrk(wrk, server.port, factory.requests(server.port, 6000), 2, 16)
        # Requests to pre-sign per run: more than the server can take (a replayed request
        # counts as an error), but not far more (signing them takes time between runs).
        rate_guess = dict.fromkeys(servers, 12_000.0)
        for i in range(args.rounds):
            for label, server in servers.items():
                count = int(rate_guess[label] * args.duration) + 2000
                run = loadgen.run_wrk_even(
                    wrk,
                    server.port,
                    lambda s=server, n=count: factory.requests(s.port, n),
                    args.duration,
                    args.connections,
                    procs.worker_pids(server),
                    meter=lambda s=server: [s.cpu(), redis.cpu()],
                )
                cpu, redis_cpu = run.metered
                n = max(run.result.requests, 1)
                rate_guess[label] = max(1.5 * run.result.rps, 1000.0)
                results[label].append(
                    {
                        "rps": run.result.rps,
                        "server_cpu_us": 1e6 * cpu / n,
                        "redis_cpu_us": 1e6 * redis_cpu / n,
                        "p50_ms": run.result.p50_ms,
                        "errors": run.result.errors + run.result.wraps,
                        "attempts": run.attempts,
                    }
                )
            sys.stderr.write(
                f"round {i + 1}: "
                + ", ".join(f"{k} {v[-1]['rps']:.0f}/s" for k, v in results.items())
                + "\n"
            )
    finally:
        for server in servers.values():
            server.stop()
        redis.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    summary = {
        label: {
            key: round(statistics.median(r[key] for r in runs), 1)
            for key in ("rps", "server_cpu_us", "redis_cpu_us", "p50_ms")
        }
        | {"errors": sum(r["errors"] for r in runs)}
        for label, runs in results.items()
    }
    first = summary[variants[0][0]]
    lines = [
        f"{'variant':28}{'req/s':>8}{'vs first':>10}{'server CPU us/req':>19}{'vs first':>10}"
        f"{'Redis us/req':>14}{'errors':>8}"
    ]
    for label, row in summary.items():
        lines.append(
            f"{label:28}{row['rps']:>8.0f}{row['rps'] / first['rps'] - 1:>+10.1%}"
            f"{row['server_cpu_us']:>19.0f}"
            f"{row['server_cpu_us'] / first['server_cpu_us'] - 1:>+10.1%}"
            f"{row['redis_cpu_us']:>14.0f}{row['errors']:>8}"
        )
    sys.stdout.write("\n".join(lines) + "\n")
    if args.output:
        args.output.write_text(json.dumps({"summary": summary, "runs": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
