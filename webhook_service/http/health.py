"""Liveness and readiness probes for load balancers and orchestrators, and the API's own
description (no auth)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from svcs.flask import get as service
from svcs.flask import get_pings

from webhook_service.http.errors import StorageUnavailableError
from webhook_service.http.openapi import OPENAPI_SCHEMA, OpenApiDocument, documented
from webhook_service.http.schemas import HealthStatus
from webhook_service.store import StorageError

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@documented("Liveness: 200 while the process serves", "health", response=HealthStatus)
def healthz() -> Response:
    """200 while the process serves; touches nothing else."""
    return jsonify(status="ok")


@bp.get("/readyz")
@documented("Readiness: 200 when Redis answers", "health", response=HealthStatus, errors=(503,))
def readyz() -> Response:
    """200 when every service with a health ping answers (Redis); else 503, so the load
    balancer stops sending traffic."""
    for ping in get_pings():
        try:
            ping.ping()
        except StorageError:
            raise StorageUnavailableError("Redis did not answer PING") from None
    return jsonify(status="ready", redis="ok")


@bp.get("/openapi.json")
@documented("This OpenAPI 3.1 description", "health", response=OPENAPI_SCHEMA)
def openapi() -> Response:
    """The OpenAPI document, generated from the running app's routes and models."""
    return jsonify(service(OpenApiDocument).spec)
