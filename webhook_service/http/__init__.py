"""The HTTP side: one edge for every route (http/edge.py), the routes' blueprints, errors."""

from __future__ import annotations

import svcs
from flask import Flask

from webhook_service.config import Settings
from webhook_service.http import (
    ai,
    api,
    diagnosis,
    edge,
    errors,
    health,
    ingest,
    metrics,
    reconcile,
    status,
)
from webhook_service.http.openapi import OpenApiDocument
from webhook_service.http.proxy import ForwardedFor
from webhook_service.http.security import AuthFailureLimiter
from webhook_service.ingest.receiver import Receiver
from webhook_service.store import Store
from webhook_service.store.retention import Sweeper
from webhook_service.telemetry.metrics import STREAMS_FORGOTTEN

BLUEPRINTS = (
    ingest.bp,
    api.bp,
    diagnosis.bp,
    ai.bp,
    reconcile.bp,
    health.bp,
    metrics.bp,
    status.bp,
)


def init_app(app: Flask, registry: svcs.Registry, settings: Settings, store: Store) -> None:
    """Register the routes and their services, then put the edge around the app."""
    errors.init_app(app)
    limiter = AuthFailureLimiter(
        store, settings.auth_failure_limit, settings.auth_failure_window_seconds
    )
    registry.register_value(AuthFailureLimiter, limiter)
    # Half of a worker's request threads at most may wait on diagnosis probes.
    registry.register_value(
        diagnosis.DiagnosisSlots, diagnosis.DiagnosisSlots(settings.threads // 2)
    )
    registry.register_value(OpenApiDocument, OpenApiDocument(app))
    receiver = Receiver(settings.webhook_secrets, settings.tolerance_seconds, store)
    sweeper = Sweeper(store, settings.stream_retention_days, on_forgotten=STREAMS_FORGOTTEN.inc)
    handler = ingest.Ingest(receiver, store, sweeper, settings.max_body_bytes)
    registry.register_value(ingest.Ingest, handler)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    app.before_request(ingest.record_wrong_method)
    edge.init_app(app, {ingest.INGEST_ROUTE: handler})
    # Outermost: the edge logs the client's address, not the proxy's.
    app.wsgi_app = ForwardedFor(app.wsgi_app, settings.forwarded_allow_ips)  # type: ignore[method-assign]
