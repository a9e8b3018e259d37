"""Shared fixtures: a real Redis (own key prefix per test, cleaned up), the app, its test
client, a CLI runner and the fake Livepeer, as Flask's tutorial (flaskr) conftest offers them."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import openapi_check
import pytest
import redis
from fake_livepeer import FakeLivepeer
from flask import Flask
from helpers import CommandRunner, free_port, make_settings
from redisproc import Cluster, cluster_fixture

import webhook_service
from webhook_service.config import Settings
from webhook_service.store.embedded import EmbeddedRedis

# The diagnosis tests' `make` fixture (an app wired to the fake Livepeer).
pytest_plugins = ["diagnosis_harness"]

# Every test client checks its answers against the app's /openapi.json (openapi_check.py).
openapi_check.install()


def _answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except (redis.RedisError, OSError):
        return False


LOCAL_REDIS = "redis://127.0.0.1:6379/0"


def _existing_redis() -> str | None:
    """TEST_REDIS_URL, else the Redis on 127.0.0.1:6379 if it answers, else None."""
    configured = os.environ.get("TEST_REDIS_URL")
    if configured:
        return configured
    return LOCAL_REDIS if _answers(LOCAL_REDIS) else None


def pytest_report_header() -> str:
    """Say which Redis the tests write to (under per-test key prefixes `lpt-*`, deleted after)."""
    found = _existing_redis()
    where = found.rpartition("@")[2] if found else "an embedded redis-server (none on 6379)"
    return f"redis: {where}; every test writes under its own key prefix lpt-* and deletes it"


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """TEST_REDIS_URL, else the Redis on 127.0.0.1:6379 if it answers, else an embedded one."""
    found = _existing_redis()
    if found:
        yield found
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
def make_app() -> Iterator[Callable[..., Flask]]:
    """Builds apps as `create_app(settings, ...)` does; each one's pools are closed afterwards."""
    made: list[Flask] = []

    def make(settings: Settings, **options: Any) -> Flask:
        app = webhook_service.create_app(settings, **options)
        app.config["TESTING"] = True
        made.append(app)
        return app

    yield make
    for app in made:
        webhook_service.close_app(app)


@pytest.fixture
def app(make_app, settings: Settings) -> Flask:
    """The app on this test's Redis prefix; its pools are closed afterwards."""
    return make_app(settings)


@pytest.fixture
def offline_app(make_app, redis_url: str, key_prefix: str) -> Flask:
    """An app whose Livepeer API and CDN are a closed local port: diagnosis probes fail fast."""
    dead = f"http://127.0.0.1:{free_port()}"
    return make_app(
        make_settings(redis_url, key_prefix, livepeer_api_url=dead, livepeer_playback_url=dead)
    )


@pytest.fixture
def client(app):
    """A Flask test client of `app`."""
    return app.test_client()


@pytest.fixture
def runner() -> CommandRunner:
    """Runs `livepeer-webhooks` commands: `runner.invoke(["check-config"], env={...})`."""
    return CommandRunner()


@pytest.fixture
def fake() -> Iterator[FakeLivepeer]:
    """A fake Livepeer API and CDN on 127.0.0.1 (see fake_livepeer.py), stopped afterwards."""
    with FakeLivepeer() as server:
        yield server
