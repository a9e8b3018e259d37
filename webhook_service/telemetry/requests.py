"""Per-request telemetry: one log line and the request metrics, with a request id.

X-Request-ID is honoured when it looks like an id, else one is made; it is returned. The
Flask routes get it from the hooks below; the ingest endpoint, which runs ahead of Flask,
calls `request_id` and `record` itself, so both write the same metrics and the same line.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from dataclasses import dataclass

from flask import Flask, Response, g, request

from webhook_service.telemetry.metrics import (
    HTTP_DURATION,
    HTTP_REQUESTS,
    WEBHOOK_DURATION,
    WEBHOOKS,
)

logger = logging.getLogger("webhook_service.request")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
INGEST_ROUTE = "/webhooks/livepeer"
# The delivery fields of an ingest line, in the order they are logged.
INGEST_FIELDS = ("outcome", "reject_reason", "event_id", "event_name")
# The `method` label's values: any other token a client sends counts as "other", or every
# made-up method would add a series to /metrics (gunicorn passes any token to the app).
HTTP_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
)


def request_id(incoming: str | None) -> str:
    """The client's X-Request-ID when it is a plain id, else a new one."""
    if incoming and _REQUEST_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


@dataclass
class IngestOutcome:
    """What the log line and the webhook metrics say about one ingest request."""

    outcome: str | None = None
    reject_reason: str | None = None
    event_id: str | None = None
    event_name: str | None = None
    event_label: str = "unknown"  # the bounded `event` label of livepeer_webhooks_total


@dataclass(frozen=True)
class RequestRecord:
    """One answered request, as metrics and the log line see it."""

    request_id: str
    method: str
    route: str  # the route pattern, not the path: bounded, and free of ids a client made up
    path: str
    status: int
    elapsed: float  # seconds
    remote_addr: str | None
    ingest: IngestOutcome | None = None  # only on the ingest route


def record(entry: RequestRecord) -> None:
    """Count the request in the metrics and write its log line."""
    method = entry.method if entry.method in HTTP_METHODS else "other"
    HTTP_REQUESTS.labels(method, entry.route, entry.status).inc()
    HTTP_DURATION.labels(entry.route).observe(entry.elapsed)
    fields = {
        "request_id": entry.request_id,
        "method": entry.method,
        "route": entry.route,
        "path": entry.path[:256],
        "status": entry.status,
        "duration_ms": round(entry.elapsed * 1000, 2),
        "remote_addr": entry.remote_addr,
    }
    ingest = entry.ingest
    if ingest is not None and ingest.outcome is not None:
        WEBHOOKS.labels(ingest.event_label, ingest.outcome).inc()
        WEBHOOK_DURATION.observe(entry.elapsed)
        for key in INGEST_FIELDS:
            value = getattr(ingest, key)
            if value is not None:
                fields[key] = value
    logger.info("%s %s %s", entry.method, entry.route, entry.status, extra=fields)


def _begin() -> None:
    g.started = time.perf_counter()
    g.request_id = request_id(request.headers.get("X-Request-ID"))


def _finish(response: Response) -> Response:
    elapsed = time.perf_counter() - g.get("started", time.perf_counter())
    response.headers["X-Request-ID"] = g.get("request_id", "")
    route = request.url_rule.rule if request.url_rule else "unmatched"
    record(
        RequestRecord(
            g.get("request_id", ""),
            request.method,
            route,
            request.path,
            response.status_code,
            elapsed,
            request.remote_addr,
        )
    )
    return response


def init_app(app: Flask) -> None:
    app.before_request(_begin)
    app.after_request(_finish)
