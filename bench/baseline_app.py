"""The baseline: a minimal Flask app that reads the body and answers 200, served like the service.

`python -m bench.baseline_app` runs it under gunicorn with the options
`webhook_service.server.gunicorn_options` builds for `livepeer-webhooks serve` from the same
environment (PORT, WEB_CONCURRENCY, GUNICORN_THREADS, ...), so the only difference measured is
the application. `--service` serves the real service through this same launcher instead, and
`--service --without-request-log` the service with its per-request log line switched off: the
pair prices that line with nothing else different.

`--floor wsgi` and `--floor redis` are the floors under the same server: a WSGI app with no
framework that reads the body and answers, and the same plus one Redis PING per request (the
service's own client settings). No ingest, however lean, can beat the second: one Redis round
trip per event is the contract ("a 2xx means the event is stored").

`--floor naive` is "a naive but careful Flask receiver", what a competent user would write in
an afternoon: `POST /webhooks/livepeer` reads the raw body, checks `Livepeer-Signature`
(`t=<ms>,v1=<hex>`, v1 the HMAC-SHA256 of the raw body under LIVEPEER_WEBHOOK_SECRET, as
Livepeer and bench/deliveries.py sign; `hmac.compare_digest`; 401 when it does not match, or
when `t` is over WEBHOOK_TOLERANCE_SECONDS off the clock), parses the JSON (400 if it is not
an object with a string `id`), and makes ONE pipelined round trip to Redis (the service's
client settings): `SET dedupe:<id> 1 NX EX 86400` plus `HSET stream:<stream id>` of
`last_event`, `last_event_at` and, for stream.started/idle, `state`; then a 200 JSON ack. No
log line, no metrics, no scrubbing, no ordering rules. It needs REDIS_URL and
LIVEPEER_WEBHOOK_SECRET (the one the deliveries are signed with).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import hmac
import json
import logging
import os
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, jsonify, request

from webhook_service.cli.server import GunicornApp, gunicorn_options
from webhook_service.config import Settings
from webhook_service.http.proxy import WSGIApp
from webhook_service.store import connect
from webhook_service.telemetry.logs import configure_logging


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


def create_floor_app(ping_redis: bool) -> WSGIApp:
    """The floor: read the body, optionally PING Redis once, answer a small JSON 200."""
    client = connect(Settings.from_env(os.environ)) if ping_redis else None

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        if client is not None:
            client.ping()
        answer = json.dumps({"received": len(body)}).encode()
        start_response(
            "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(answer)))]
        )
        return [answer]

    return app


def create_naive_app() -> Flask:
    """The naive but careful receiver (module docstring): verify, parse, one pipelined trip."""
    settings = Settings.from_env(os.environ)
    secret = settings.webhook_secrets[0].reveal().encode()
    tolerance_ms = settings.tolerance_seconds * 1000
    client = connect(settings)
    states = {"stream.started": "active", "stream.idle": "idle"}
    app = Flask(__name__)

    @app.post("/webhooks/livepeer")
    def receive() -> tuple[Response, int]:
        body = request.get_data(cache=False)
        parts = dict(
            part.split("=", 1)
            for part in request.headers.get("Livepeer-Signature", "").split(",")
            if "=" in part
        )
        t, v1 = parts.get("t", ""), parts.get("v1", "")
        expected = hmac.new(secret, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, v1):
            return jsonify(error="bad signature"), 401
        if not t.isdigit() or abs(time.time() * 1000 - int(t)) > tolerance_ms:
            return jsonify(error="stale delivery"), 401
        try:
            event = json.loads(body)
            event_id = event["id"]
        except (ValueError, TypeError, KeyError):
            return jsonify(error="malformed delivery"), 400
        if not isinstance(event_id, str):
            return jsonify(error="malformed delivery"), 400
        stream = event.get("stream")
        stream_id = stream.get("id") if isinstance(stream, dict) else None
        pipe = client.pipeline(transaction=False)
        pipe.set(f"dedupe:{event_id}", 1, nx=True, ex=86400)
        if isinstance(stream_id, str):
            name = str(event.get("event", ""))
            fields: dict[Any, str] = {
                "last_event": name,
                "last_event_at": str(event.get("createdAt", "")),
            }
            state = states.get(name)
            if state:
                fields["state"] = state
            pipe.hset(f"stream:{stream_id}", mapping=fields)
        claimed = pipe.execute()[0]
        return jsonify(id=event_id, duplicate=not claimed), 200

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
    parser.add_argument(
        "--floor",
        choices=["wsgi", "redis", "naive"],
        help="a floor app instead of the baseline (naive: the naive but careful receiver)",
    )
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
    elif args.floor == "naive":
        factory = create_naive_app  # needs LIVEPEER_WEBHOOK_SECRET and REDIS_URL
        env = {**os.environ, "OPS_API_TOKEN": "unused"}
        os.environ.update(env)
        settings = Settings.from_env(env)
    else:
        if args.floor:
            factory = functools.partial(create_floor_app, args.floor == "redis")
        else:
            factory = create_baseline_app
        # Only the sizing and network settings matter here; the secrets are placeholders.
        env = {**os.environ, "LIVEPEER_WEBHOOK_SECRET": "unused", "OPS_API_TOKEN": "unused"}
        os.environ.update(env)  # the redis floor reads its settings in each worker
        settings = Settings.from_env(env)
    GunicornApp(gunicorn_options(settings, "0.0.0.0", log_format), factory).run()


if __name__ == "__main__":
    main()
