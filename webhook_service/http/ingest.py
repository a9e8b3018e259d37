"""POST /webhooks/livepeer, the route Livepeer delivers to: the hot path, served ahead of Flask."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from werkzeug.wsgi import ClosingIterator

from webhook_service.http.errors import (
    PROBLEM_MEDIA_TYPE,
    BadRequestError,
    PayloadTooLargeError,
    ServiceError,
    problem_json,
    reject_delivery,
    storage_unavailable,
)
from webhook_service.http.proxy import WSGIApp
from webhook_service.http.schemas import IngestAck
from webhook_service.http.security import security_headers
from webhook_service.ingest.events import DeliveryEnvelope, EventError, FreshnessError
from webhook_service.ingest.receiver import Receipt, Receiver
from webhook_service.ingest.signature import SignatureError
from webhook_service.store import StorageError, Store
from webhook_service.store.retention import Sweeper, sweep_quietly
from webhook_service.telemetry.openapi import Operation, Param
from webhook_service.telemetry.requests import (
    INGEST_ROUTE,
    IngestOutcome,
    RequestRecord,
    record,
    request_id,
)

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "Livepeer-Signature"
_SIGNATURE_ENVIRON = "HTTP_" + SIGNATURE_HEADER.upper().replace("-", "_")  # WSGI's name for it
OPERATION = Operation(
    "Receive a Livepeer webhook delivery",
    "ingest",
    auth="signature",
    params=(Param(SIGNATURE_HEADER, "header", "t=<unix ms>,v1=<hex HMAC-SHA256 of the body>"),),
    body=DeliveryEnvelope,
    response=IngestAck,
    errors=(400, 401, 413, 503),
)
Headers = list[tuple[str, str]]
Answer = tuple[int, bytes, Headers]  # status, body, headers of this answer only


class MethodNotAllowedError(ServiceError):
    """Raised for any method but POST on the ingest route."""

    status, title, slug = 405, "Method Not Allowed", "method-not-allowed"


class BodyUnreadableError(BadRequestError):
    """Raised when the server cannot read the body: a broken chunked encoding, a lost client."""


def read_body(environ: dict[str, Any], limit: int) -> bytes:
    """The raw body, refusing more than `limit` bytes (chunked bodies included).

    Without Content-Length the server must have terminated the input (gunicorn de-chunks and
    does); otherwise there is nothing safe to read. A server's reader fails with its own errors
    (gunicorn's are not even OSErrors): whatever it raises, the body is lost, the client's fault.
    """
    try:
        length = int(environ.get("CONTENT_LENGTH") or -1)
    except ValueError:
        length = -1
    if length > limit:
        raise PayloadTooLargeError(f"the body is larger than {limit} bytes")
    stream = environ["wsgi.input"]
    try:
        if length >= 0:
            body: bytes = stream.read(length)
        elif environ.get("wsgi.input_terminated"):
            body = stream.read(limit + 1)
        else:
            body = b""
    except Exception as error:
        raise BodyUnreadableError(
            "the request body could not be read (a malformed chunked encoding or a dropped "
            "connection)"
        ) from error
    if len(body) > limit:
        raise PayloadTooLargeError(f"the body is larger than {limit} bytes")
    return body


def _problem(error: ServiceError) -> Answer:
    body = problem_json(error.status, error.title, error.detail, error.slug)
    return error.status, body, [("Content-Type", PROBLEM_MEDIA_TYPE), *error.headers.items()]


def _accepted(receipt: Receipt) -> Answer:
    delivery = receipt.delivery
    ack = {"id": delivery.id, "event": delivery.event, "duplicate": receipt.duplicate}
    return (
        200,
        json.dumps(ack, separators=(",", ":")).encode(),
        [("Content-Type", "application/json")],
    )


class IngestEndpoint:
    """The WSGI app for the ingest route; `fallback` (the Flask app) serves every other path.

    Flask's request machinery (context, routing, hooks, Response objects) cost more CPU than
    verifying and storing a delivery (bench/README.md). What the Flask routes get from their
    hooks this route does itself, through the same functions: problem+json errors, the
    security headers, X-Request-ID, the request metrics and log line.
    """

    def __init__(
        self,
        receiver: Receiver,
        store: Store,
        sweeper: Sweeper,
        max_body_bytes: int,
        fallback: WSGIApp,
    ) -> None:
        self._receiver = receiver
        self._store = store
        self._sweeper = sweeper
        self._max_body = max_body_bytes
        self._fallback = fallback

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != INGEST_ROUTE:
            return self._fallback(environ, start_response)
        started = time.perf_counter()
        rid = request_id(environ.get("HTTP_X_REQUEST_ID"))
        method = environ.get("REQUEST_METHOD", "")
        outcome = IngestOutcome()
        if method == "POST":
            status, body, headers = self._deliver(environ, outcome)
        else:
            status, body, headers = _problem(MethodNotAllowedError("only POST is allowed here"))
            headers.append(("Allow", "POST"))
        elapsed = time.perf_counter() - started
        remote = environ.get("REMOTE_ADDR")
        record(
            RequestRecord(rid, method, INGEST_ROUTE, INGEST_ROUTE, status, elapsed, remote, outcome)
        )
        headers += security_headers(environ.get("wsgi.url_scheme") == "https")
        headers += [("Content-Length", str(len(body))), ("X-Request-ID", rid)]
        start_response(f"{status} {HTTPStatus(status).phrase}", headers)
        if outcome.outcome == "accepted":
            # After the answer is written: Livepeer never waits for the sweep.
            return ClosingIterator([body], lambda: sweep_quietly(self._sweeper))
        return [body]

    def _deliver(self, environ: dict[str, Any], outcome: IngestOutcome) -> Answer:
        """Verify, parse and store one delivery; note in `outcome` what happened."""
        try:
            body = read_body(environ, self._max_body)
            now_ms = time.time_ns() // 1_000_000
            receipt = self._receiver.receive(body, environ.get(_SIGNATURE_ENVIRON), now_ms)
        except (PayloadTooLargeError, BodyUnreadableError) as error:
            reason = "too_large" if isinstance(error, PayloadTooLargeError) else "malformed"
            outcome.outcome = outcome.reject_reason = reason
            self._count_rejection(reason)
            return _problem(error)
        except (SignatureError, FreshnessError, EventError) as error:
            rejection = reject_delivery(error)
            outcome.outcome, outcome.reject_reason = rejection.outcome, rejection.reason
            outcome.event_label = rejection.event_label or outcome.event_label
            self._count_rejection(rejection.reason)
            return _problem(rejection.error)
        except StorageError as error:
            outcome.outcome = "storage_error"
            return _problem(storage_unavailable(error, INGEST_ROUTE))
        except Exception as error:
            # Log the traceback, never show it: it could carry request data.
            logger.exception("unhandled error", exc_info=error)
            return _problem(ServiceError("an unexpected error occurred"))
        delivery = receipt.delivery
        outcome.outcome = "duplicate" if receipt.duplicate else "accepted"
        outcome.event_id, outcome.event_name = delivery.id, delivery.event
        outcome.event_label = delivery.metric_name
        return _accepted(receipt)

    def _count_rejection(self, reason: str) -> None:
        """Count a rejected delivery by reason for the webhooks diagnosis; never fails it."""
        try:
            self._store.record_rejection(reason, time.time_ns() // 1_000_000)
        except StorageError:
            logger.warning("could not count a rejected delivery", extra={"reason": reason})
