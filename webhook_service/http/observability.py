"""Per-request telemetry: one log line and the request metrics, with a request id.

X-Request-ID is honoured when it looks like an id, else one is made; it is returned.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, Response, g, request

from ..metrics import HTTP_DURATION, HTTP_REQUESTS, WEBHOOK_DURATION, WEBHOOKS

logger = logging.getLogger("webhook_service.request")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
INGEST_ROUTE = "/webhooks/livepeer"


def _begin() -> None:
    g.started = time.perf_counter()
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex


def _finish(response: Response) -> Response:
    elapsed = time.perf_counter() - g.get("started", time.perf_counter())
    # The route pattern, not the path: bounded, and free of ids a client made up.
    route = request.url_rule.rule if request.url_rule else "unmatched"
    response.headers["X-Request-ID"] = g.get("request_id", "")
    HTTP_REQUESTS.labels(method=request.method, route=route, status=response.status_code).inc()
    HTTP_DURATION.labels(route=route).observe(elapsed)
    if route == INGEST_ROUTE and request.method == "POST":
        WEBHOOKS.labels(event=g.get("event_label", "unknown"), outcome=g.get("outcome")).inc()
        WEBHOOK_DURATION.observe(elapsed)
    _log(route, response.status_code, elapsed)
    return response


def _log(route: str, status: int, elapsed: float) -> None:
    fields = {
        "request_id": g.get("request_id"),
        "method": request.method,
        "route": route,
        "path": request.path[:256],
        "status": status,
        "duration_ms": round(elapsed * 1000, 2),
        "remote_addr": request.remote_addr,
    }
    for key in ("outcome", "reject_reason", "event_id", "event_name"):
        if key in g:
            fields[key] = g.get(key)
    logger.info("%s %s %s", request.method, route, status, extra=fields)


def init_app(app: Flask) -> None:
    app.before_request(_begin)
    app.after_request(_finish)
