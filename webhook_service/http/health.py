"""Liveness and readiness probes for load balancers and orchestrators (no auth)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from webhook_service.http.errors import StorageUnavailableError
from webhook_service.http.schemas import HealthStatus
from webhook_service.store import Store
from webhook_service.telemetry.openapi import build_spec, documented

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@documented("Liveness: 200 while the process serves", "health", response=HealthStatus)
def healthz() -> Response:
    """200 while the process serves; touches nothing else."""
    return jsonify(status="ok")


@bp.get("/readyz")
@documented("Readiness: 200 when Redis answers", "health", response=HealthStatus, errors=(503,))
def readyz() -> Response:
    """200 when Redis answers; 503 otherwise, so the load balancer stops sending traffic."""
    store: Store = current_app.extensions["livepeer.store"]
    if not store.ping():
        raise StorageUnavailableError("Redis did not answer PING")
    return jsonify(status="ready", redis="ok")


@bp.get("/openapi.json")
@documented("This OpenAPI 3.1 description", "health", response="application/json")
def openapi() -> Response:
    """The OpenAPI document, generated from the running app's routes and models."""
    spec = current_app.extensions.get("livepeer.openapi")
    if spec is None:
        spec = current_app.extensions["livepeer.openapi"] = build_spec(current_app)
    return jsonify(spec)
