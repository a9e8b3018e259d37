"""Shared fixtures: a real Redis (own key prefix per test, cleaned up) and the app."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import redis
from fake_livepeer import FakeLivepeer
from helpers import make_settings
from redisproc import Cluster, cluster_fixture

from webhook_service import create_app
from webhook_service.config import Settings
from webhook_service.store.embedded import EmbeddedRedis


def _answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except (redis.RedisError, OSError):
        return False


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """TEST_REDIS_URL, else the Redis on 127.0.0.1:6379 if it answers, else an embedded one."""
    configured = os.environ.get("TEST_REDIS_URL")
    if configured:
        yield configured
        return
    if _answers("redis://127.0.0.1:6379/0"):
        yield "redis://127.0.0.1:6379/0"
        return
    with EmbeddedRedis() as server:
        yield server.url


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A local 3-master Redis Cluster of this test process (each xdist worker starts its own)."""
    yield from cluster_fixture(tmp_path_factory.mktemp("redis-cluster"))


@pytest.fixture
def key_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own; every key under it is deleted afterwards."""
    prefix = f"lpt-{uuid.uuid4().hex[:10]}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def settings(redis_url: str, key_prefix: str) -> Settings:
    return make_settings(redis_url, key_prefix)


@pytest.fixture
def app(settings: Settings):
    app = create_app(settings)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def fake() -> Iterator[FakeLivepeer]:
    """A fake Livepeer API and CDN on 127.0.0.1 (see fake_livepeer.py), stopped afterwards."""
    with FakeLivepeer() as server:
        yield server
