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
from webhook_service.ingest.events import DeliveryEnvelope
from webhook_service.ingest.receiver import DeliveryRejected, Receipt, Receiver
from webhook_service.store import StorageError, Store
from webhook_service.store.retention import Sweeper
from webhook_service.telemetry.requests import IngestOutcome
from webhook_service.times import now_ms

logger = logging.getLogger(__name__)

INGEST_ROUTE = "/webhooks/livepeer"
SIGNATURE_HEADER = "Livepeer-Signature"
REDIRECTED_GET = "redirected_get"  # the rejection reason the webhooks check reads
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
        status, body, headers = self._deliver(environ, outcome)
        headers.append(("Content-Length", str(len(body))))
        start_response(STATUS_LINES[status], headers)
        if outcome.outcome == "accepted":
            # After the answer is written: Livepeer never waits for the sweep.
            return ClosingIterator([body], self._sweeper.sweep_quietly)
        return [body]

    def _deliver(self, environ: dict[str, Any], outcome: IngestOutcome) -> Answer:
        """Read, verify, parse and store one delivery; note in `outcome` what happened."""
        try:
            body = read_body(environ, self._max_body)
            receipt = self._receiver.receive(body, environ.get(_SIGNATURE_ENVIRON), now_ms())
        except ServiceError as error:  # the body could not be read, or was too large
            reason = "too_large" if isinstance(error, PayloadTooLargeError) else "malformed"
            return self._rejected(outcome, reason, reason, error)
        except DeliveryRejected as rejected:
            outcome.event_label = rejected.event_label
            problem = _REJECTIONS[rejected.outcome](rejected.detail)
            return self._rejected(outcome, rejected.outcome, rejected.reason, problem)
        except StorageError as failure:
            outcome.outcome = "storage_error"
            return _problem(storage_unavailable(failure, INGEST_ROUTE))
        return _accepted(receipt, outcome)

    def _rejected(
        self, outcome: IngestOutcome, name: str, reason: str, error: ServiceError
    ) -> Answer:
        """Note and count a refused delivery (for the `webhooks` diagnosis), then answer it."""
        outcome.outcome, outcome.reject_reason = name, reason
        try:
            self._store.record_rejection(reason, now_ms())
        except StorageError:
            logger.warning("could not count a rejected delivery", extra={"reason": reason})
        return _problem(error)


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


def count_redirected_get() -> None:
    """`before_request` of the app: a GET or HEAD that carries Livepeer-Signature on the ingest
    route is a delivery a redirect turned into a GET (cannon.ts posts with node-fetch v2, which
    follows a 301/302/303 with a bodyless GET). Flask answers it 405 like any wrong method,
    which Livepeer never retries; it is counted for the `webhooks` check's `redirected` row."""
    if request.path != INGEST_ROUTE or request.method not in ("GET", "HEAD"):
        return
    if SIGNATURE_HEADER not in request.headers:
        return
    try:
        service(Store).record_rejection(REDIRECTED_GET, now_ms())
    except StorageError:
        logger.warning("could not count a redirected delivery")


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
