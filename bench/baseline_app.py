"""The baseline: a minimal Flask app that reads the body and answers 200, served like the service.

`python -m bench.baseline_app` runs it under gunicorn with the options
`webhook_service.server.gunicorn_options` builds for `livepeer-webhooks serve` from the same
environment (PORT, WEB_CONCURRENCY, GUNICORN_THREADS, ...), so the only difference measured is
the application. `--service` serves the real service through this same launcher instead, and
`--service --without-request-log` the service with its per-request log line switched off: the
pair prices that line with nothing else different.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Callable

from flask import Flask, Response, jsonify, request

from webhook_service.config import Settings
from webhook_service.logs import configure_logging
from webhook_service.server import GunicornApp, gunicorn_options


def create_baseline_app() -> Flask:
    """POST /webhooks/livepeer reads the body and answers a small JSON 200; GET /healthz."""
    app = Flask(__name__)

    @app.post("/webhooks/livepeer")
    def receive() -> Response:
        body = request.get_data(cache=False)
        return jsonify(received=len(body))

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify(status="ok")

    return app


def create_service() -> Flask:
    from webhook_service import create_app

    return create_app()


def create_service_without_request_log() -> Flask:
    """The real service with the `webhook_service.request` log line disabled."""
    app = create_service()
    logging.getLogger("webhook_service.request").disabled = True
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--service", action="store_true", help="the real app, not the baseline")
    parser.add_argument("--without-request-log", action="store_true", help="with --service")
    args = parser.parse_args()
    log_format = os.environ.get("LOG_FORMAT", "json")
    configure_logging(log_format)
    if args.service:
        import tempfile

        # As `serve` does: a fresh multiprocess metrics directory before the workers fork.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="bench-metrics-")
        factory: Callable[[], Flask] = (
            create_service_without_request_log if args.without_request_log else create_service
        )
        settings = Settings.from_env(os.environ)
    else:
        factory = create_baseline_app
        # Only the sizing and network settings matter here; the secrets are placeholders.
        env = {**os.environ, "LIVEPEER_WEBHOOK_SECRET": "unused", "OPS_API_TOKEN": "unused"}
        settings = Settings.from_env(env)
    GunicornApp(gunicorn_options(settings, "0.0.0.0", log_format), factory).run()


if __name__ == "__main__":
    main()
