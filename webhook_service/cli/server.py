"""The production server: gunicorn's gthread worker reading whole requests (cli/buffering.py),
as `livepeer-webhooks serve` runs it.

Why this worker (issue 16, "slow clients cannot starve ingest"): a connection that dribbles
its headers or body, or sends nothing, costs a buffer and a socket in the worker's event loop
instead of a request thread, so 500 of them leave signed deliveries answered in milliseconds,
where plain gthread stopped answering with 64 of them and a per-connection read deadline only
moved the number. gevent's worker held them too but, on the same machine, at a third of the
throughput, and it would turn the probe pools and the bulkhead's semaphore into greenlets;
this keeps both real threads (bench/README.md, "Slow clients", has the measurements).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger as GunicornLogger

from webhook_service.cli.buffering import worker_class
from webhook_service.config import Settings
from webhook_service.store import StorageError, Store, connect
from webhook_service.store.embedded import EmbeddedRedis
from webhook_service.telemetry.logs import configure_logging, dict_config
from webhook_service.urls import redact_url

logger = logging.getLogger(__name__)

# Livepeer waits 30 s for an answer; Heroku gives a dyno 30 s between SIGTERM and SIGKILL.
GRACEFUL_TIMEOUT_SECONDS = 25
# Connections one worker holds at once, slow ones included (gunicorn's default, named here
# because docs/deployment.md sizes by it).
WORKER_CONNECTIONS = 1000


class NoAccessLog(GunicornLogger):  # type: ignore[misc]
    """gunicorn's logger without its access log: our request line replaces it.

    With `logconfig_dict` set, gunicorn builds every request's access-log atoms (headers,
    times, a formatted date) and then hands them to a logger that drops them: CPU spent on
    every request for nothing (bench/README.md has the measurement).
    """

    def access(self, *args: Any, **kwargs: Any) -> None:
        return None


def gunicorn_options(settings: Settings, host: str, log_format: str) -> dict[str, Any]:
    """Gunicorn settings derived from ours; the Procfile and Dockerfile get them via `serve`."""
    return {
        "bind": f"{host}:{settings.port}",
        "workers": settings.web_concurrency,
        # Threads, so a slow diagnosis probe blocks one thread, never a whole worker; each
        # request read whole before a thread takes it, so slow clients hold none (docstring).
        "worker_class": worker_class(settings.max_body_bytes),
        "threads": settings.threads,
        "worker_connections": WORKER_CONNECTIONS,
        "timeout": 30,
        "graceful_timeout": GRACEFUL_TIMEOUT_SECONDS,
        "keepalive": 5,
        "forwarded_allow_ips": settings.forwarded_allow_ips,
        "accesslog": None,
        "logger_class": NoAccessLog,
        "logconfig_dict": dict_config(log_format),
        # The heartbeat file on tmpfs: a container's overlay filesystem can stall it.
        "worker_tmp_dir": "/dev/shm" if os.path.isdir("/dev/shm") else None,
        "proc_name": "livepeer-webhooks",
        # gunicorn 27's control socket would live in $HOME, which a container user may not own.
        "control_socket_disable": True,
        "child_exit": _mark_worker_dead,
        "worker_exit": _close_worker_app,
    }


def _warn_unless_redis_answers(settings: Settings) -> None:
    """One PING before the workers start, so a wrong REDIS_URL shows in the first lines."""
    store = Store(connect(settings), settings.redis_key_prefix)
    try:
        store.ping()
    except StorageError as error:
        logger.warning(
            "Redis at %s does not answer (%s): deliveries get 503, which Livepeer retries, and "
            "/readyz 503 until it does; check REDIS_URL",
            redact_url(settings.redis_url),
            error.reason,
        )
    finally:
        store.close()


def _mark_worker_dead(_server: Any, worker: Any) -> None:
    """Gunicorn hook: drop a dead worker's live-only samples from the merged metrics."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def _close_worker_app(_server: Any, worker: Any) -> None:
    """Gunicorn hook, in the worker as it exits: close what its app opened (pools)."""
    from webhook_service import close_app

    app = getattr(worker, "wsgi", None)
    if app is not None:
        close_app(app)


class GunicornApp(BaseApplication):  # type: ignore[misc]
    """Gunicorn run with our options and an app factory (unknown option names are skipped)."""

    def __init__(self, options: dict[str, Any], factory: Callable[[], Any]) -> None:
        self._options = options
        self._factory = factory
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            # Settings an older gunicorn lacks are skipped rather than failing startup.
            if value is not None and key in self.cfg.settings:
                self.cfg.set(key, value)

    def load(self) -> Any:
        return self._factory()


def serve(
    settings: Settings,
    host: str = "0.0.0.0",
    log_format: str = "json",
    announce: Callable[[str], None] | None = None,
) -> None:
    """Run gunicorn until SIGTERM/SIGINT; with no REDIS_URL, bring up an embedded Redis first.

    The embedded server is started before the workers fork, so all of them share it, and it is
    stopped when gunicorn returns (or dies: see embedded_redis._die_with_parent). `announce`
    is told the Redis URL in use (the embedded one's, or REDIS_URL without its password)
    before gunicorn starts. A Redis that does not answer is logged, not fatal: it may come up
    later, and until then deliveries get 503 and Livepeer retries them.
    """
    from webhook_service import create_app

    configure_logging(log_format)
    master_pid = os.getpid()
    # Fresh per start: samples of a previous run's workers must not be merged into this one's.
    metrics_dir = tempfile.mkdtemp(prefix="livepeer-webhooks-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    embedded: EmbeddedRedis | None = None
    if settings.redis_url is None:
        embedded = EmbeddedRedis().start()
        os.environ["REDIS_URL"] = embedded.url
        logger.warning(
            "REDIS_URL is not set: using an embedded redis-server at %s whose data is lost when "
            "the service stops; set REDIS_URL in production",
            embedded.url,
            extra={"redis_pid": embedded.pid},
        )
    else:
        _warn_unless_redis_answers(settings)
    if announce is not None:
        announce(embedded.url if embedded else redact_url(settings.redis_url))
    try:
        GunicornApp(gunicorn_options(settings, host, log_format), create_app).run()
    finally:
        # A gunicorn worker leaves run() through this frame too (its fork copied the stack):
        # only the master owns the embedded server, or one worker's exit would delete its socket.
        if os.getpid() == master_pid:
            shutil.rmtree(metrics_dir, ignore_errors=True)
            if embedded is not None:
                embedded.stop()
                logger.info("embedded redis-server stopped")
