"""livepeer-webhooks: a verified Livepeer Studio webhook receiver with stream state in Redis."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from webhook_service.config import Settings

if TYPE_CHECKING:
    from flask import Flask

    from webhook_service.store import Store


def create_app(settings: Settings | None = None, *, store: Store | None = None) -> Flask:
    """Build the WSGI app: settings, then each part registers its services and routes.

    `store` replaces the Store on REDIS_URL (tests inject faults this way). Every service is
    registered once, by type, in the app's svcs registry; `close_app` closes them all.
    """
    # Imported here, not at module level: the gunicorn master imports this package before it
    # sets PROMETHEUS_MULTIPROC_DIR, and prometheus_client picks its storage when first imported.
    import svcs
    from flask import Flask

    from webhook_service import http
    from webhook_service import store as store_part
    from webhook_service.diagnostics import diagnostician
    from webhook_service.telemetry import metrics

    settings = settings or Settings.from_env(os.environ)
    app = Flask(__name__, static_folder=None)  # no static files: every route is ours
    # Every POST body is bounded, not only the webhook's.
    app.config.update(SETTINGS=settings, MAX_CONTENT_LENGTH=settings.max_body_bytes)
    registry = svcs.Registry()
    svcs.flask.init_app(app, registry=registry)
    store = store_part.register(registry, settings, store)
    metrics.register(registry, store.count_active)
    diagnostician.register(registry, settings, store)
    http.init_app(app, registry, settings, store)
    return app


def close_app(app: Flask) -> None:
    """Close every resource the app opened: the Redis pool, thread pools, HTTP connections."""
    import svcs

    svcs.flask.close_registry(app)
    logging.getLogger(__name__).info("closed the app's connections and thread pools")
