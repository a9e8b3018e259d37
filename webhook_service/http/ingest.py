"""POST /webhooks/livepeer: the route Livepeer delivers to."""

from __future__ import annotations

import logging
import time

from flask import Blueprint, Response, current_app, g, jsonify, request
from werkzeug.exceptions import ClientDisconnected

from ..events import DeliveryEnvelope
from ..models import IngestAck
from ..openapi import Param, documented
from ..receiver import Receiver
from ..store import StorageError, Store
from .errors import PayloadTooLargeError

logger = logging.getLogger(__name__)

bp = Blueprint("ingest", __name__)
SIGNATURE_HEADER = "Livepeer-Signature"


def read_body(limit: int) -> bytes:
    """Read the raw body, refusing more than `limit` bytes (chunked bodies included).

    Reads `wsgi.input` directly: werkzeug's max-length stream cannot tell a chunked body of
    exactly `limit` bytes from a longer one. Without Content-Length the server must have
    terminated the input (gunicorn de-chunks and does); otherwise there is nothing safe to read.
    """
    environ = request.environ
    length = request.content_length
    body = b""
    try:
        if length is not None and length <= limit:
            body = environ["wsgi.input"].read(length)
        elif length is None and environ.get("wsgi.input_terminated"):
            body = environ["wsgi.input"].read(limit + 1)
    except ClientDisconnected:  # a broken chunked encoding or a dropped connection: a 400
        g.outcome = g.reject_reason = "malformed"
        raise
    if (length or 0) > limit or len(body) > limit:
        g.outcome = g.reject_reason = "too_large"
        raise PayloadTooLargeError(f"the body is larger than {limit} bytes")
    return body


@bp.post("/webhooks/livepeer")
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
    body = read_body(current_app.config["WEBHOOK_MAX_BODY_BYTES"])
    receiver: Receiver = current_app.extensions["livepeer.receiver"]
    now_ms = time.time_ns() // 1_000_000
    receipt = receiver.receive(body, request.headers.get(SIGNATURE_HEADER), now_ms)
    g.outcome = "duplicate" if receipt.duplicate else "accepted"
    g.event_id, g.event_name = receipt.delivery.id, receipt.delivery.event
    g.event_label = receipt.delivery.metric_name
    return jsonify(
        id=receipt.delivery.id, event=receipt.delivery.event, duplicate=receipt.duplicate
    )


@bp.after_request
def count_rejection(response: Response) -> Response:
    """Count a rejected delivery by reason for the webhooks diagnosis; never fails the answer."""
    reason = g.get("reject_reason")
    if reason:
        store: Store = current_app.extensions["livepeer.store"]
        try:
            store.record_rejection(reason, time.time_ns() // 1_000_000)
        except StorageError:
            logger.warning("could not count a rejected delivery", extra={"reason": reason})
    return response
