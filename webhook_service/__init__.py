"""livepeer-webhooks: a verified Livepeer Studio webhook receiver with stream state in Redis."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from webhook_service.config import Settings

if TYPE_CHECKING:
    from flask import Flask


def create_app(settings: Settings | None = None) -> Flask:
    """Build the WSGI app: settings, Redis store, receiver, blueprints, error handlers."""
    # Imported here, not at module level: the gunicorn master imports this package before it
    # sets PROMETHEUS_MULTIPROC_DIR, and prometheus_client picks its storage when first imported.
    from flask import Flask

    from webhook_service.diagnostics.gather import Sources
    from webhook_service.diagnostics.service import Diagnostician
    from webhook_service.http import ai, api, diagnosis, errors, health, ingest, security
    from webhook_service.http import metrics as metrics_route
    from webhook_service.http import reconcile as reconcile_route
    from webhook_service.http.proxy import ForwardedFor
    from webhook_service.ingest.receiver import Receiver
    from webhook_service.livepeer.api import LivepeerApi
    from webhook_service.livepeer.probe import Prober
    from webhook_service.store import Store, connect
    from webhook_service.store.retention import Sweeper
    from webhook_service.telemetry import requests as observability
    from webhook_service.telemetry.metrics import RedisCollector, probe_observer, zero_outcomes
    from webhook_service.telemetry.openapi import add_route

    settings = settings or Settings.from_env(os.environ)
    app = Flask(__name__)
    app.config.update(
        SETTINGS=settings,
        OPS_API_TOKENS=settings.ops_tokens,
        WEBHOOK_MAX_BODY_BYTES=settings.max_body_bytes,
        # Every POST body is bounded, not only the webhook's.
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
    )
    store = Store(connect(settings), settings.redis_key_prefix)
    app.extensions["livepeer.store"] = store
    app.extensions["livepeer.metrics"] = RedisCollector(store.count_active)
    receiver = Receiver(settings.webhook_secrets, settings.tolerance_seconds, store)
    app.extensions["livepeer.receiver"] = receiver
    observability.init_app(app)
    errors.init_app(app)
    security.init_app(app)
    prober = Prober.from_settings(
        settings,
        call_timeout=settings.probe_timeout_seconds,
        observer=probe_observer(settings.livepeer_api_url),
    )
    # Outside calls and whole checks get separate pools (see Diagnostician).
    calls = ThreadPoolExecutor(max_workers=32, thread_name_prefix="probe")
    checks = ThreadPoolExecutor(max_workers=16, thread_name_prefix="check")
    sources = Sources(settings, store, LivepeerApi.from_settings(settings, prober), prober, calls)
    app.extensions["livepeer.diagnostician"] = Diagnostician(sources, checks)
    # Half of a worker's request threads at most may wait on diagnosis probes.
    app.extensions["livepeer.diagnosis_slots"] = diagnosis.init_bulkhead(settings.threads // 2)
    app.extensions["livepeer.api"] = sources.api  # None without LIVEPEER_API_KEY
    for blueprint in (api.bp, diagnosis.bp, ai.bp, health.bp, metrics_route.bp):
        app.register_blueprint(blueprint)
    app.register_blueprint(reconcile_route.bp)
    # The ingest route is answered ahead of Flask (see http/ingest.py), behind the proxy fix.
    sweeper = Sweeper(store, settings.stream_retention_days)
    endpoint = ingest.IngestEndpoint(
        receiver, store, sweeper, settings.max_body_bytes, app.wsgi_app
    )
    add_route(app, observability.INGEST_ROUTE, "POST", "ingest.receive", ingest.OPERATION)
    app.wsgi_app = ForwardedFor(endpoint, settings.forwarded_allow_ips)  # type: ignore[method-assign]
    zero_outcomes()
    return app
