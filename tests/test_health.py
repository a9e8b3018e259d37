"""Liveness and readiness."""

from __future__ import annotations

import pytest
from helpers import dead_redis_url, make_settings


def test_healthz_and_readyz_with_redis(client):
    """Both answer 200 while Redis is up."""
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").get_json() == {"status": "ready", "redis": "ok"}


def test_readyz_is_503_and_healthz_200_when_redis_is_down(make_app, key_prefix):
    """Readiness fails with Redis; liveness does not touch it."""
    client = make_app(make_settings(dead_redis_url(), key_prefix)).test_client()
    assert client.get("/healthz").status_code == 200
    response = client.get("/readyz")
    assert response.status_code == 503 and response.mimetype == "application/problem+json"


@pytest.mark.parametrize(("method", "path"), [("GET", "/healthz"), ("POST", "/webhooks/livepeer")])
def test_request_id_is_honoured_or_made(client, method, path):
    """X-Request-ID comes back as sent, or a new one is generated; junk is replaced. Checked on a
    Flask route and on the ingest endpoint, which answers ahead of Flask."""

    def answer_id(headers=None):
        return client.open(path, method=method, headers=headers or {}).headers["X-Request-ID"]

    assert answer_id({"X-Request-ID": "abc-123"}) == "abc-123"
    made = answer_id()
    assert len(made) == 32 and made != answer_id()
    assert answer_id({"X-Request-ID": "bad id;x"}) not in ("bad id;x", "")
