"""CPU per ingest request inside the WSGI app, A/B between code variants, on a noisy machine.

  python -m bench.app_cost --variant orig=/tmp/opt/orig --variant nolog=/tmp/opt/nolog

The server-level comparison (bench/compare.py) needs a quiet machine to see a 5% change. This
one takes gunicorn out: each variant is a process that builds the app with `create_app()` (as a
gunicorn worker does, with multiprocess metrics and the JSON request log to a file) and calls
it directly with signed deliveries, one at a time, on a real Redis. It reports the process CPU
time per request (`time.process_time`, so waiting on Redis is excluded), alternating variants in
short bursts (several processes per variant, in random order each round); the estimate is
the median of the per-round differences to the first variant, so the machine's drift cancels.
A variant is `label[=PYTHONPATH]`, as in bench/compare.py (`baseline`: the bare-Flask app of
the server-level baseline, for scale; `naive`: its naive but careful receiver, `--floor naive`);
gunicorn-level changes (such as the
server's logger class) need bench/compare.py instead.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from . import procs


def _worker(label: str) -> None:
    """Serve `run N` commands on stdin: N ingest requests, answer one JSON line of costs.

    The label `baseline` calls the bare-Flask app of bench/baseline_app.py instead of the
    service: the same requests, for the in-app price of the baseline's whole request.
    """
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="bench-cost-metrics-")
    from webhook_service import create_app
    from webhook_service.telemetry.logs import configure_logging

    from .baseline_app import create_baseline_app, create_naive_app
    from .deliveries import DeliveryFactory

    configure_logging("json")
    if label == "baseline":
        app = create_baseline_app()
    elif label == "naive":
        app = create_naive_app()
    else:
        app = create_app()
    import gc

    gc_time = [0.0, 0.0]  # total seconds in collections, start of the current one

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            gc_time[1] = time.process_time()
        else:
            gc_time[0] += time.process_time() - gc_time[1]

    gc.callbacks.append(on_gc)
    factory = DeliveryFactory(
        os.environ["LIVEPEER_WEBHOOK_SECRET"], [str(uuid.uuid4()) for _ in range(1000)]
    )
    statuses: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc: Any = None) -> None:
        statuses.append(status)

    for line in sys.stdin:
        count = int(line.split()[1])
        environs = []
        for body, headers in factory.bodies(count):
            environs.append(
                {
                    "REQUEST_METHOD": "POST",
                    "PATH_INFO": "/webhooks/livepeer",
                    "QUERY_STRING": "",
                    "SERVER_NAME": "127.0.0.1",
                    "SERVER_PORT": "8000",
                    "SERVER_PROTOCOL": "HTTP/1.1",
                    "REMOTE_ADDR": "127.0.0.1",
                    "CONTENT_TYPE": headers["Content-Type"],
                    "CONTENT_LENGTH": str(len(body)),
                    "HTTP_USER_AGENT": headers["User-Agent"],
                    "HTTP_LIVEPEER_SIGNATURE": headers["Livepeer-Signature"],
                    "wsgi.input": io.BytesIO(body),
                    "wsgi.url_scheme": "http",
                    "wsgi.errors": sys.stderr,
                    "wsgi.multithread": True,
                    "wsgi.multiprocess": True,
                    "wsgi.run_once": False,
                }
            )
        statuses.clear()
        gc_before = gc_time[0]
        cpu, wall = time.process_time(), time.perf_counter()
        for environ in environs:
            for _ in app(environ, start_response):
                pass
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        bad = sum(1 for s in statuses if not s.startswith("200"))
        sys.stdout.write(
            json.dumps(
                {
                    "cpu_us": 1e6 * cpu / count,
                    "wall_us": 1e6 * wall / count,
                    "errors": bad,
                    "gc_us": 1e6 * (gc_time[0] - gc_before) / count,
                    "code": str(Path(sys.modules["webhook_service"].__file__ or "").parent),
                }
            )
            + "\n"
        )
        sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.app_cost",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--variant", action="append", required=True)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--requests", type=int, default=60, help="per burst")
    parser.add_argument("--replicas", type=int, default=3, help="processes per variant")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _worker(args.variant[0])
        return 0
    workdir = Path(tempfile.mkdtemp(prefix="livepeer-app-cost-"))
    redis = procs.Redis(workdir).start()
    # Several processes per variant: a process's cost depends a little on where it landed
    # (memory layout, which core), so one process per variant can mislead by 10%.
    workers: dict[tuple[str, int], subprocess.Popen[str]] = {}
    labels: list[str] = []
    # per label, per round: mean CPU us/request over its replicas' bursts in that round
    rounds: dict[str, list[float]] = {}
    errors: dict[str, int] = {}
    # Redis CPU (from /proc) per label, summed over its bursts: only one worker talks to Redis
    # at a time, so each burst's Redis CPU is that variant's. Ticks are 10 ms: only the total
    # over all rounds is precise enough to print.
    redis_cpu: dict[str, float] = {}
    requests_sent: dict[str, int] = {}
    try:
        for text in args.variant:
            label, _, path = text.partition("=")
            labels.append(label)
            rounds[label], errors[label] = [], 0
            redis_cpu[label], requests_sent[label] = 0.0, 0
            pythonpath = os.pathsep.join(filter(None, [path, str(procs.REPO_ROOT)]))
            env = procs.clean_env(
                LIVEPEER_WEBHOOK_SECRET=procs.SECRET,
                OPS_API_TOKEN=procs.TOKEN,
                REDIS_URL=redis.url,
                LOG_FORMAT="json",
                PYTHONPATH=pythonpath,
                PYTHONHASHSEED="0",
            )
            for replica in range(args.replicas):
                log = open(workdir / f"{label}-{replica}.log", "w")  # noqa: SIM115
                workers[(label, replica)] = subprocess.Popen(
                    [sys.executable, "-m", "bench.app_cost", "--worker", "--variant", label],
                    env=env,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=log,
                    text=True,
                    cwd=workdir,  # not the repository: its webhook_service/ would shadow the copy
                )

        def burst(key: tuple[str, int], count: int) -> dict[str, Any]:
            proc = workers[key]
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(f"run {count}\n")
            proc.stdin.flush()
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"{key} died: see the logs in {workdir}")
            result: dict[str, Any] = json.loads(line)
            return result

        for key in workers:  # warm-up: imports, pools, first requests
            code = burst(key, 200)["code"]
            if key[1] == 0:
                sys.stderr.write(f"{key[0]}: {code}\n")
        shuffle = random.Random(1)
        for _ in range(args.rounds):
            order = list(workers)
            shuffle.shuffle(order)
            got: dict[str, list[float]] = {label: [] for label in labels}
            for key in order:
                before = redis.cpu()
                result = burst(key, args.requests)
                redis_cpu[key[0]] += redis.cpu() - before
                requests_sent[key[0]] += args.requests
                got[key[0]].append(result["cpu_us"])
                errors[key[0]] += int(result["errors"])
            for label in labels:
                rounds[label].append(statistics.fmean(got[label]))
    finally:
        for proc in workers.values():
            if proc.stdin:
                proc.stdin.close()
            proc.wait(10)
        redis.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    # Paired differences: each round's variant cost minus the first variant's in the same round
    # (minutes apart at most), so the machine's drift cancels; the median of those is the
    # estimate, the quartiles its spread. The plain medians are shown for scale.
    first = labels[0]
    lines = [
        f"{'variant':28}{'median CPU us/req':>19}{'paired delta':>14}{'delta IQR':>16}"
        f"{'delta %':>9}{'Redis CPU us/req':>18}{'errors':>8}"
    ]
    base = statistics.median(rounds[first])
    for label in labels:
        deltas = sorted(v - f for v, f in zip(rounds[label], rounds[first], strict=True))
        q1, q3 = deltas[len(deltas) // 4], deltas[(3 * len(deltas)) // 4]
        delta = statistics.median(deltas)
        lines.append(
            f"{label:28}{statistics.median(rounds[label]):>19.0f}{delta:>+14.0f}"
            f"{f'{q1:+.0f}..{q3:+.0f}':>16}{delta / base:>+9.1%}"
            f"{1e6 * redis_cpu[label] / max(requests_sent[label], 1):>18.0f}{errors[label]:>8}"
        )
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
