"""Liveness and readiness probes for load balancers and orchestrators (no auth)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from ..store import Store
from .errors import StorageUnavailableError

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """200 while the process serves; touches nothing else."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> Response:
    """200 when Redis answers; 503 otherwise, so the load balancer stops sending traffic."""
    store: Store = current_app.extensions["livepeer.store"]
    if not store.ping():
        raise StorageUnavailableError("Redis did not answer PING")
    return jsonify(status="ready", redis="ok")
