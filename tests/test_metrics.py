"""/metrics in one process: contract names, outcome counting, scrape-time Redis gauges, token."""

from __future__ import annotations

import re

import pytest
from helpers import auth, dead_redis_url, delivery, make_settings, post_delivery, signed

from webhook_service.config import Secret


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in exposition text (0 if absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        match = re.match(r"^([a-z_]+)(\{[^}]*\})? (\S+)$", line)
        if not match or match.group(1) != name:
            continue
        found = ",".join(sorted((match.group(2) or "{}")[1:-1].split(","))) if labels else ""
        if found == wanted or (not labels and match.group(2) is None):
            return float(match.group(3))
    return 0.0


def scrape(client) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    return response.get_data(as_text=True)


def test_outcomes_are_counted_by_event(client):
    """Accepted, duplicate and rejected deliveries move their own counters by exactly one."""
    before = scrape(client)
    body = delivery()
    post_delivery(client, body)
    post_delivery(client, body)
    client.post("/webhooks/livepeer", data=b"{}", headers={"Content-Type": "application/json"})
    stale = delivery(timestamp=body["timestamp"] - 900_000)
    client.post("/webhooks/livepeer", data=signed(stale)[0], headers=signed(stale)[1])
    after = scrape(client)
    for labels, delta in (
        ({"event": "stream.started", "outcome": "accepted"}, 1),
        ({"event": "stream.started", "outcome": "duplicate"}, 1),
        ({"event": "unknown", "outcome": "bad_signature"}, 1),
        ({"event": "stream.started", "outcome": "stale"}, 1),
    ):
        name = "livepeer_webhooks_total"
        assert sample(after, name, **labels) - sample(before, name, **labels) == delta, labels
    assert sample(after, "livepeer_webhook_duration_seconds_count") >= 4


def test_active_streams_gauge_is_read_from_redis(client):
    """livepeer_streams_active equals the live streams in Redis at scrape time."""
    post_delivery(client, delivery(stream_id="g1"))
    post_delivery(client, delivery(stream_id="g2"))
    post_delivery(client, delivery(event="stream.idle", stream_id="g2"))
    text = scrape(client)
    assert sample(text, "livepeer_streams_active") == 1
    assert sample(text, "livepeer_redis_up") == 1


def test_scrape_works_with_redis_down(make_app, key_prefix):
    """With Redis unreachable the scrape still answers, with livepeer_redis_up 0."""
    client = make_app(make_settings(dead_redis_url(), key_prefix)).test_client()
    text = scrape(client)
    assert sample(text, "livepeer_redis_up") == 0
    assert "livepeer_streams_active " not in text


def test_metrics_token_is_required_when_set(make_app, redis_url, key_prefix):
    """With METRICS_TOKEN set, /metrics needs it as a bearer token."""
    settings = make_settings(redis_url, key_prefix, metrics_token=Secret("scrape-me"))
    client = make_app(settings).test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=auth("wrong")).status_code == 401
    assert client.get("/metrics", headers=auth("scrape-me")).status_code == 200


def test_http_requests_are_counted_by_route_pattern(client):
    """Request metrics use the route pattern, so ids in paths do not create new series."""
    client.get("/api/streams/some-id-123", headers=auth())
    text = scrape(client)
    assert 'route="/api/streams/<stream_id>"' in text
    assert "some-id-123" not in text


@pytest.mark.parametrize(
    ("method", "path", "status", "route", "label"),
    [
        ("FOOBAR", "/webhooks/livepeer", "405", "/webhooks/livepeer", "other"),
        ("QWERTY1", "/api/streams", "405", "/api/streams", "other"),
        ("M-SEARCH", "/api/streams", "405", "/api/streams", "other"),
        ("ZZZ-ABC", "/nowhere", "404", "unmatched", "other"),
        ("PATCH", "/webhooks/livepeer", "405", "/webhooks/livepeer", "PATCH"),
        ("DELETE", "/api/streams", "405", "/api/streams", "DELETE"),
    ],
)
def test_made_up_methods_add_no_series(client, method, path, status, route, label):
    """Any token a client sends as the method is counted under "other", not as its own label;
    a 405 is counted under the route it missed, whichever route (one edge for all)."""
    before = scrape(client)
    assert str(client.open(path, method=method).status_code) == status
    text = scrape(client)
    if label == "other":
        assert f'method="{method}"' not in text
    labels = {"method": label, "route": route, "status": status}
    counted = sample(text, "livepeer_http_requests_total", **labels)
    assert counted == sample(before, "livepeer_http_requests_total", **labels) + 1
