"""POST /webhooks/livepeer: the route Livepeer delivers to."""

from __future__ import annotations

import time

from flask import Blueprint, Response, current_app, g, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from ..receiver import Receiver
from .errors import PayloadTooLargeError

bp = Blueprint("ingest", __name__)
SIGNATURE_HEADER = "Livepeer-Signature"


def read_body(limit: int) -> bytes:
    """Read the raw body, refusing more than `limit` bytes (chunked bodies included)."""
    body = b""
    if request.content_length is None or request.content_length <= limit:
        try:
            body = request.stream.read(limit + 1)
        except RequestEntityTooLarge:
            body = b"x" * (limit + 1)
    if request.content_length is not None and request.content_length > limit or len(body) > limit:
        g.outcome = "too_large"
        raise PayloadTooLargeError(f"the body is larger than {limit} bytes")
    return body


@bp.post("/webhooks/livepeer")
def receive() -> Response:
    body = read_body(current_app.config["WEBHOOK_MAX_BODY_BYTES"])
    receiver: Receiver = current_app.extensions["livepeer.receiver"]
    now_ms = time.time_ns() // 1_000_000
    receipt = receiver.receive(body, request.headers.get(SIGNATURE_HEADER), now_ms)
    g.outcome = "duplicate" if receipt.duplicate else "accepted"
    g.event_id, g.event_name = receipt.delivery.id, receipt.delivery.event
    return jsonify(
        id=receipt.delivery.id, event=receipt.delivery.event, duplicate=receipt.duplicate
    )
