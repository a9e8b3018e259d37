"""GET /metrics: Prometheus exposition, bearer-protected when METRICS_TOKEN is set."""

from __future__ import annotations

from flask import Blueprint, Response, current_app
from svcs.flask import get as service

from webhook_service.http.auth import require_bearer
from webhook_service.http.openapi import documented
from webhook_service.telemetry.metrics import RedisCollector, render

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
@documented(
    "Prometheus metrics (bearer METRICS_TOKEN when set)",
    "health",
    auth="metrics",
    response="text/plain",
)
def metrics() -> Response:
    token = current_app.config["SETTINGS"].metrics_token
    if token is not None:
        require_bearer((token,))
    body, content_type = render(service(RedisCollector))
    return Response(body, content_type=content_type)
