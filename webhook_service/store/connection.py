"""The Redis connection: building the client, its failures as StorageError, closing it."""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.commands.core import Script
from redis.exceptions import RedisClusterException
from redis.retry import Retry

from webhook_service.config import Settings

logger = logging.getLogger(__name__)
Client = redis.Redis | RedisCluster


class StorageError(Exception):
    """Raised when Redis is unreachable, too slow, or refuses a command.

    `reason` is the cause alone (for a message that names the Redis itself); str() is the
    whole sentence.
    """

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason or message


class _Utf8:
    @staticmethod
    def encode(value: str) -> bytes:
        return value.encode("utf-8")


class ClusterOnDemand:
    """A RedisCluster client made when a node first answers, so a worker boots without one.

    RedisCluster loads the slot map when it is made and raises if no node answers; raised in a
    gunicorn worker's boot, that halts the whole server. Until a node answers, every call
    raises RedisClusterException (a 503, as in any outage); one attempt a second is made, so
    requests in between fail at once instead of each waiting for the connect timeout.
    """

    RETRY_SECONDS = 1.0

    def __init__(self, url: str, options: dict[str, Any]) -> None:
        self._url = url
        self._options = options
        self._client: RedisCluster | None = None
        self._lock = threading.Lock()
        self._failed_at = float("-inf")
        try:
            self._connected()
        except (RedisClusterException, redis.RedisError, OSError) as error:
            logger.warning(
                "no Redis Cluster node answers yet (%s): trying on use, at most once a second",
                type(error).__name__,
            )

    def _connected(self) -> RedisCluster:
        client = self._client
        if client is not None:
            return client
        with self._lock:
            if self._client is None:
                if time.monotonic() - self._failed_at < self.RETRY_SECONDS:
                    raise RedisClusterException("no Redis Cluster node answered a moment ago")
                try:
                    self._client = RedisCluster.from_url(self._url, **self._options)
                except Exception:
                    self._failed_at = time.monotonic()
                    raise
            return self._client

    def register_script(self, script: str) -> Script:
        """A script whose SHA is known before any node answers (it is hashed here)."""
        return Script(self, script)  # type: ignore[arg-type]

    def get_encoder(self) -> Any:
        """What Script hashes its text with: the client's encoder, or before there is a
        client, RedisCluster's default (UTF-8)."""
        client: Any = self._client
        return client.get_encoder() if client is not None else _Utf8()

    def close(self) -> None:
        """Close the cluster client if one was made (never connects to do so)."""
        if self._client is not None:
            self._client.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connected(), name)


def connect(settings: Settings) -> redis.Redis | ClusterOnDemand:
    """Build a Redis client from settings: short timeouts, one retry on a dropped connection."""
    if settings.redis_url is None:
        raise StorageError("no REDIS_URL: start the service with `livepeer-webhooks serve`")
    options: dict[str, Any] = {
        "socket_timeout": settings.redis_timeout_seconds,
        "socket_connect_timeout": settings.redis_timeout_seconds,
        # One immediate retry heals a pooled connection that Redis closed (restart, idle
        # timeout). Re-running a script is safe: a repeated apply is detected as a duplicate.
        "retry": Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
        "health_check_interval": 30,
    }
    if settings.redis_url.startswith("rediss://"):
        options["ssl_cert_reqs"] = settings.redis_ssl_cert_reqs
    if settings.redis_cluster:
        options.pop("health_check_interval")
        return ClusterOnDemand(settings.redis_url, options)
    return redis.Redis.from_url(settings.redis_url, **options)


@contextmanager
def redis_errors() -> Iterator[None]:
    """Turn any Redis failure inside the block into a StorageError that names its kind."""
    try:
        yield
    except (redis.RedisError, RedisClusterException, OSError) as error:
        # RedisClusterException is no RedisError: raised when no cluster node answers.
        # The message can name a host but never carries the URL's password.
        if _certificate_rejected(error):
            raise StorageError(
                "Redis TLS certificate verification failed (self-signed?): "
                "set REDIS_SSL_CERT_REQS=none for Heroku Redis"
            ) from error
        cause = _cause(error)
        raise StorageError(f"Redis failed: {cause}", cause) from error


def _cause(error: BaseException) -> str:
    """The error's kind and, for a failure to connect or answer, redis-py's words: they name
    the host and port (or socket) tried and why, never a password. Other errors (a refused
    command) keep to their kind: their text may quote what was sent."""
    kind = type(error).__name__
    if isinstance(
        error, redis.ConnectionError | redis.TimeoutError | RedisClusterException | OSError
    ):
        words = " ".join(str(error).split())[:200]
        return f"{kind}: {words}" if words else kind
    return kind


def _certificate_rejected(error: BaseException) -> bool:
    """True when the TLS handshake failed on the server's certificate (redis-py wraps the
    ssl error in a ConnectionError, so look down the chain and at the OpenSSL reason)."""
    cause: BaseException | None = error
    for _ in range(5):
        if cause is None:
            break
        if isinstance(cause, ssl.SSLCertVerificationError):
            return True
        cause = cause.__cause__ or cause.__context__
    return "CERTIFICATE_VERIFY_FAILED" in str(error)


def close(client: redis.Redis | ClusterOnDemand) -> None:
    """Close the client's connection pool (on a cluster, every node's); never raises."""
    try:
        client.close()
    except (redis.RedisError, OSError) as error:
        logger.warning("closing the Redis client failed: %s", type(error).__name__)
