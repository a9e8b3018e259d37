"""One log line per request, with a request id that is honoured from X-Request-ID or made."""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, Response, g, request

logger = logging.getLogger("webhook_service.request")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def _begin() -> None:
    g.started = time.perf_counter()
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex


def _finish(response: Response) -> Response:
    response.headers["X-Request-ID"] = g.get("request_id", "")
    fields = {
        "request_id": g.get("request_id"),
        "method": request.method,
        # The route pattern, not the path: bounded, and free of ids a client made up.
        "route": request.url_rule.rule if request.url_rule else None,
        "path": request.path[:256],
        "status": response.status_code,
        "duration_ms": round(
            (time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 2
        ),
        "remote_addr": request.remote_addr,
    }
    for key in ("outcome", "reject_reason", "event_id", "event_name"):
        if key in g:
            fields[key] = g.get(key)
    logger.info(
        "%s %s %s",
        request.method,
        fields["route"] or request.path[:256],
        response.status_code,
        extra=fields,
    )
    return response


def init_app(app: Flask) -> None:
    app.before_request(_begin)
    app.after_request(_finish)
