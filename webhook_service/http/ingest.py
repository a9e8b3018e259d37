"""POST /webhooks/livepeer, the route Livepeer delivers to: read the body, receive, answer.

The edge (http/edge.py) calls `Ingest` directly for POSTs, ahead of Flask's request
machinery, which costs more CPU than verifying and storing a delivery (bench/README.md). The
route is also a Flask view (the same handler, through `Response.from_app`), so it is in the
URL map, the OpenAPI document and `flask routes`; other methods get Flask's 405.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from flask import Blueprint, request
from svcs.flask import get as service
from werkzeug.wrappers import Response
from werkzeug.wsgi import ClosingIterator

from webhook_service.http.body import read_body
from webhook_service.http.edge import EXCHANGE, STATUS_LINES
from webhook_service.http.errors import (
    BadSignatureError,
    MalformedDeliveryError,
    PayloadTooLargeError,
    ServiceError,
    StaleDeliveryError,
    problem_headers,
    problem_json,
    storage_unavailable,
)
from webhook_service.http.openapi import Param, documented
from webhook_service.http.schemas import IngestAck
from webhook_service.ingest.delivery_log import (
    REDIRECTED_GET,
    DeliveryEntry,
    Origin,
    wrong_method_entry,
)
from webhook_service.ingest.events import DeliveryEnvelope
from webhook_service.ingest.receiver import DeliveryRejected, Receipt, Receiver
from webhook_service.store import StorageError, Store
from webhook_service.store.retention import Sweeper
from webhook_service.telemetry.requests import Exchange, IngestOutcome, request_id
from webhook_service.times import now_ms

logger = logging.getLogger(__name__)

INGEST_ROUTE = "/webhooks/livepeer"
SIGNATURE_HEADER = "Livepeer-Signature"
_SIGNATURE_ENVIRON = "HTTP_" + SIGNATURE_HEADER.upper().replace("-", "_")  # WSGI's name for it
_REJECTIONS: dict[str, type[ServiceError]] = {
    "bad_signature": BadSignatureError,
    "stale": StaleDeliveryError,
    "malformed": MalformedDeliveryError,
}
Answer = tuple[int, bytes, list[tuple[str, str]]]  # status, body, headers of this answer

bp = Blueprint("ingest", __name__)


class Ingest:
    """The ingest route as a WSGI app: one delivery in, its answer out, its outcome noted."""

    def __init__(self, receiver: Receiver, store: Store, sweeper: Sweeper, max_body: int) -> None:
        self._receiver = receiver
        self._store = store
        self._sweeper = sweeper
        self._max_body = max_body

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        outcome = IngestOutcome()
        exchange = environ.get(EXCHANGE)
        if exchange is not None:
            exchange.ingest = outcome
        status, body, headers = self._deliver(environ, outcome, origin_of(environ))
        headers.append(("Content-Length", str(len(body))))
        start_response(STATUS_LINES[status], headers)
        if outcome.outcome == "accepted":
            # After the answer is written: Livepeer never waits for the sweep.
            return ClosingIterator([body], self._sweeper.sweep_quietly)
        return [body]

    def _deliver(self, environ: dict[str, Any], outcome: IngestOutcome, origin: Origin) -> Answer:
        """Read, verify, parse and store one delivery; note in `outcome` what happened."""
        signature = environ.get(_SIGNATURE_ENVIRON)
        try:
            body = read_body(environ, self._max_body)
            receipt = self._receiver.receive(body, signature, now_ms(), origin)
        except ServiceError as error:  # the body could not be read, or was too large
            name = "too_large" if isinstance(error, PayloadTooLargeError) else "malformed"
            entry = DeliveryEntry(
                name, origin.request_id, origin.remote_addr, name, error.detail, verified=False
            )
            return self._rejected(outcome, entry, error)
        except DeliveryRejected as rejected:
            outcome.event_label = rejected.event_label
            problem = _REJECTIONS[rejected.outcome](rejected.detail)
            return self._rejected(outcome, rejected.log_entry(origin), problem)
        except StorageError as failure:
            outcome.outcome = "storage_error"
            return _problem(storage_unavailable(failure, INGEST_ROUTE))
        return _accepted(receipt, outcome)

    def _rejected(
        self, outcome: IngestOutcome, entry: DeliveryEntry, error: ServiceError
    ) -> Answer:
        """Note, log and count a refused delivery (for the `webhooks` diagnosis), answer it."""
        outcome.outcome, outcome.reject_reason = entry.outcome, entry.reason
        outcome.reject_detail, outcome.event_id = entry.detail, entry.event_id
        record_rejection(self._store, entry)
        return _problem(error)


def origin_of(environ: dict[str, Any]) -> Origin:
    """Who sent this request, as the delivery log shows it (the edge's request id)."""
    exchange: Exchange | None = environ.get(EXCHANGE)
    if exchange is not None:
        return Origin(exchange.request_id, exchange.remote_addr)
    return Origin(request_id(None), environ.get("REMOTE_ADDR"))


def record_rejection(store: Store, entry: DeliveryEntry, counted: bool = True) -> None:
    """Log a refused request (and count it for the webhooks check); Redis failing here only
    loses the record, never changes the answer."""
    try:
        store.record_rejection(entry, now_ms(), counted)
    except StorageError as error:
        logger.warning(
            "could not record a rejected delivery: %s", error, extra={"reason": entry.reason}
        )


def _problem(error: ServiceError) -> Answer:
    return error.status, problem_json(error), problem_headers(error)


def _accepted(receipt: Receipt, outcome: IngestOutcome) -> Answer:
    delivery = receipt.delivery
    outcome.outcome = "duplicate" if receipt.duplicate else "accepted"
    outcome.event_id, outcome.event_name = delivery.id, delivery.event
    outcome.event_label = delivery.metric_name
    ack = {"id": delivery.id, "event": delivery.event, "duplicate": receipt.duplicate}
    body = json.dumps(ack, separators=(",", ":")).encode()
    return 200, body, [("Content-Type", "application/json")]


def record_wrong_method() -> None:
    """`before_request` of the app: a request to the ingest route with another method than
    POST is listed in the delivery log (outcome `wrong_method`). Flask answers it 405 (OPTIONS:
    200), which Livepeer never retries. A signed GET is a redirected delivery
    (delivery_log.wrong_method_entry), also counted for the `webhooks` check's `redirected`."""
    if request.path != INGEST_ROUTE or request.method == "POST":
        return
    signed = SIGNATURE_HEADER in request.headers
    entry = wrong_method_entry(request.method, signed, origin_of(request.environ))
    record_rejection(service(Store), entry, counted=entry.reason == REDIRECTED_GET)


@bp.post(INGEST_ROUTE)
@documented(
    "Receive a Livepeer webhook delivery",
    "ingest",
    auth="signature",
    params=(Param(SIGNATURE_HEADER, "header", "t=<unix ms>,v1=<hex HMAC-SHA256 of the body>"),),
    body=DeliveryEnvelope,
    response=IngestAck,
    errors=(400, 401, 413, 503),
)
def receive() -> Response:
    """The ingest route through Flask: the same handler, for a server without the edge."""
    return Response.from_app(service(Ingest), request.environ)
