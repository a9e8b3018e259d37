"""Prometheus metrics: definitions, and a /metrics view correct across gunicorn workers.

Under `livepeer-webhooks serve` every worker writes its samples to PROMETHEUS_MULTIPROC_DIR
(made fresh by the master, see server.py) and a scrape merges them. Values read from Redis
(active streams, Redis reachability) are collected at scrape time, not kept per worker.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import svcs
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from webhook_service.diagnostics.verdict import Verdict
from webhook_service.ingest.delivery_log import INGEST_OUTCOMES
from webhook_service.livepeer.facts import HttpResult

WEBHOOKS = Counter(
    "livepeer_webhooks_total",
    "Webhook deliveries by event and outcome.",
    ["event", "outcome"],
)
WEBHOOK_DURATION = Histogram(
    "livepeer_webhook_duration_seconds",
    "Time to handle a webhook delivery, from request to answer.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
HTTP_REQUESTS = Counter(
    "livepeer_http_requests_total",
    "HTTP requests by method, route pattern and status.",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "livepeer_http_request_duration_seconds",
    "HTTP request handling time by route pattern.",
    ["route"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10),
)
DIAGNOSES = Counter(
    "livepeer_diagnosis_total",
    "Diagnosis verdicts by check and status.",
    ["check", "status"],
)
PROBE_DURATION = Histogram(
    "livepeer_probe_duration_seconds",
    "Outbound probe latency by target (livepeer_api or cdn).",
    ["target"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5),
)
PROBE_ERRORS = Counter(
    "livepeer_probe_errors_total",
    "Outbound probes that got no usable answer (timeout, refused, 5xx, garbage), by target.",
    ["target"],
)
REDIS_ERRORS = Counter(
    "livepeer_redis_errors_total",
    "Requests that failed because Redis was unreachable or refused a command, by route.",
    ["route"],
)
STREAMS_FORGOTTEN = Counter(
    "livepeer_streams_forgotten_total",
    "Streams removed from Redis after STREAM_RETENTION_DAYS without an event.",
)


class RedisCollector(Collector):
    """Scrape-time gauges from Redis: live streams and whether Redis answers."""

    def __init__(self, count_active: Callable[[], int]) -> None:
        self._count_active = count_active

    def collect(self) -> Iterator[Metric]:
        active = GaugeMetricFamily(
            "livepeer_streams_active", "Streams live now (stream.started, no later stream.idle)."
        )
        up = GaugeMetricFamily("livepeer_redis_up", "1 if Redis answered the last scrape, else 0.")
        try:
            active.add_metric([], float(self._count_active()))
            up.add_metric([], 1.0)
        except Exception:  # a scrape must not fail because Redis is down
            up.add_metric([], 0.0)
        else:
            yield active
        yield up


def multiprocess_dir() -> str | None:
    """The multiprocess directory when running under gunicorn (set by the master), else None."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return path if path and os.path.isdir(path) else None


def render(redis_collector: RedisCollector) -> tuple[bytes, str]:
    """The exposition text for one scrape, merging all workers when in multiprocess mode."""
    if multiprocess_dir():
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = CollectorRegistry()
        registry.register(_DefaultRegistry())
    registry.register(redis_collector)
    return generate_latest(registry), CONTENT_TYPE_LATEST


class _DefaultRegistry(Collector):
    """The in-process registry's metrics, for a single process (tests, `flask run`)."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def count_verdict(verdict: Verdict) -> None:
    """Count a diagnosis verdict by check and status."""
    DIAGNOSES.labels(check=verdict.check, status=verdict.status).inc()


def zero_outcomes() -> None:
    """Create the known outcome series at 0 so dashboards and rate() see them from the start."""
    for outcome in INGEST_OUTCOMES:
        WEBHOOKS.labels(event="unknown", outcome=outcome)


def probe_observer(api_base: str) -> Callable[[str, HttpResult], None]:
    """A Prober observer recording latency and failures, by target (livepeer_api or cdn)."""

    def observe(url: str, result: HttpResult) -> None:
        target = "livepeer_api" if url.startswith(api_base) else "cdn"
        PROBE_DURATION.labels(target=target).observe(result.elapsed_ms / 1000)
        if result.error is not None or (result.status or 0) >= 500:
            PROBE_ERRORS.labels(target=target).inc()

    return observe


def register(registry: svcs.Registry, count_active: Callable[[], int]) -> None:
    """Register the scrape-time Redis gauges and create the outcome series at 0."""
    registry.register_value(RedisCollector, RedisCollector(count_active))
    zero_outcomes()
