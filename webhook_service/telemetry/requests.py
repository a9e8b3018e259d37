"""What each answered request leaves behind: one log line and the request metrics.

The edge (http/edge.py) fills in an `Exchange` as the request passes and calls `record` once
the answer is chosen; the ingest route adds what happened to the delivery.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass

from webhook_service.telemetry.metrics import (
    HTTP_DURATION,
    HTTP_REQUESTS,
    WEBHOOK_DURATION,
    WEBHOOKS,
)

logger = logging.getLogger("webhook_service.request")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# The delivery fields of an ingest line, in the order they are logged.
INGEST_FIELDS = ("outcome", "reject_reason", "reject_detail", "event_id", "event_name")
# The `method` label's values: any other token a client sends counts as "other", or every
# made-up method would add a series to /metrics (gunicorn passes any token to the app).
HTTP_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
)
UNMATCHED = "unmatched"  # the route label of a path no route matches


def request_id(incoming: str | None) -> str:
    """The client's X-Request-ID when it is a plain id, else a new one."""
    if incoming and _REQUEST_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


@dataclass
class IngestOutcome:
    """What the log line and the webhook metrics say about one delivery."""

    outcome: str | None = None
    reject_reason: str | None = None
    # Why, in words a person can act on; for `malformed` the JSON path and the rule it broke,
    # never the value (ingest/events.py words it).
    reject_detail: str | None = None
    event_id: str | None = None
    event_name: str | None = None
    event_label: str = "unknown"  # the bounded `event` label of livepeer_webhooks_total


@dataclass
class Exchange:
    """One request as the edge sees it, filled in on its way through."""

    request_id: str
    method: str
    path: str
    remote_addr: str | None
    # The route pattern, not the path: bounded, and free of ids a client made up.
    route: str = UNMATCHED
    status: int = 0
    ingest: IngestOutcome | None = None  # only for a delivery to the ingest route


def record(exchange: Exchange, elapsed: float) -> None:
    """Count the request in the metrics and write its log line (`elapsed` in seconds)."""
    method = exchange.method if exchange.method in HTTP_METHODS else "other"
    HTTP_REQUESTS.labels(method, exchange.route, exchange.status).inc()
    HTTP_DURATION.labels(exchange.route).observe(elapsed)
    fields = {
        "request_id": exchange.request_id,
        "method": exchange.method,
        "route": exchange.route,
        "path": exchange.path[:256],
        "status": exchange.status,
        "duration_ms": round(elapsed * 1000, 2),
        "remote_addr": exchange.remote_addr,
    }
    ingest = exchange.ingest
    if ingest is not None and ingest.outcome is not None:
        WEBHOOKS.labels(ingest.event_label, ingest.outcome).inc()
        WEBHOOK_DURATION.observe(elapsed)
        for key in INGEST_FIELDS:
            value = getattr(ingest, key)
            if value is not None:
                fields[key] = value
    logger.info("%s %s %s", exchange.method, exchange.route, exchange.status, extra=fields)
