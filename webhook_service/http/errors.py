"""The service's HTTP errors and the one place that turns any of them into problem+json."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from webhook_service.ingest.events import EventError, FreshnessError
from webhook_service.ingest.signature import SignatureError
from webhook_service.store import StorageError
from webhook_service.telemetry.metrics import REDIS_ERRORS

logger = logging.getLogger(__name__)
# A URN keeps `type` a stable, dereference-free identifier (RFC 9457 allows any URI).
PROBLEM_BASE = "urn:livepeer-webhooks:problem"
PROBLEM_MEDIA_TYPE = "application/problem+json"


class ServiceError(Exception):
    """Base of every error a route raises on purpose; carries its HTTP status and title."""

    status = 500
    title = "Internal error"
    slug = "internal"

    def __init__(self, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}


class BadRequestError(ServiceError):
    """Raised when query parameters or a request body are invalid."""

    status, title, slug = 400, "Bad request", "bad-request"


class MalformedDeliveryError(ServiceError):
    """Raised when a signed delivery body is not a well-formed Livepeer event."""

    status, title, slug = 400, "Malformed delivery", "malformed"


class UnauthorizedError(ServiceError):
    """Raised when a bearer token is missing or wrong."""

    status, title, slug = 401, "Unauthorized", "unauthorized"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, {"WWW-Authenticate": 'Bearer realm="livepeer-webhooks"'})


class BadSignatureError(ServiceError):
    """Raised when Livepeer-Signature is missing, malformed or does not match."""

    status, title, slug = 401, "Bad signature", "bad-signature"


class StaleDeliveryError(ServiceError):
    """Raised when a delivery's signed timestamp is outside the tolerance."""

    status, title, slug = 401, "Stale delivery", "stale"


class NotFoundError(ServiceError):
    """Raised when a stream, event or route does not exist."""

    status, title, slug = 404, "Not found", "not-found"


class PayloadTooLargeError(ServiceError):
    """Raised when a request body exceeds the configured limit."""

    status, title, slug = 413, "Payload too large", "too-large"


class StorageUnavailableError(ServiceError):
    """Raised when Redis cannot be reached or refuses a write; the client should retry."""

    status, title, slug = 503, "Storage unavailable", "storage-unavailable"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, {"Retry-After": "5"})


def problem_json(status: int, title: str, detail: str, slug: str) -> bytes:
    """The body of an RFC 9457 problem+json answer."""
    body: dict[str, Any] = {
        "type": f"{PROBLEM_BASE}:{slug}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    return json.dumps(body, separators=(",", ":")).encode()


def problem(status: int, title: str, detail: str, slug: str, headers: dict[str, str]) -> Response:
    """An RFC 9457 problem+json response."""
    response = Response(
        problem_json(status, title, detail, slug), status, mimetype=PROBLEM_MEDIA_TYPE
    )
    response.headers.update(headers)
    return response


def _service_error(error: ServiceError) -> Response:
    return problem(error.status, error.title, error.detail, error.slug, error.headers)


# Why a delivery was rejected, as counted for the `webhooks` diagnosis.
SIGNATURE_REJECTIONS = {
    "missing": "missing_signature",
    "malformed": "malformed_signature",
    "mismatch": "signature_mismatch",
}


@dataclass(frozen=True)
class DeliveryRejection:
    """How the ingest route answers a delivery the core refused, and how it is counted."""

    error: ServiceError
    outcome: str  # the `outcome` label of the webhook metrics and log line
    reason: str  # the rejection reason the `webhooks` diagnosis counts
    event_label: str | None = None  # the event's metric label, when it was parsed


def reject_delivery(error: SignatureError | FreshnessError | EventError) -> DeliveryRejection:
    """Map a refusal of the pure core (signature, freshness, parsing) to its HTTP answer."""
    if isinstance(error, SignatureError):
        reason = SIGNATURE_REJECTIONS[error.reason]
        return DeliveryRejection(BadSignatureError(error.detail), "bad_signature", reason)
    if isinstance(error, FreshnessError):
        if error.reason == "stale":
            return DeliveryRejection(
                StaleDeliveryError(error.detail), "stale", "stale", error.event
            )
        mapped = BadSignatureError(error.detail)
        return DeliveryRejection(mapped, error.reason, "timestamp_mismatch", error.event)
    return DeliveryRejection(MalformedDeliveryError(str(error)), "malformed", "malformed")


def storage_unavailable(error: StorageError, route: str) -> StorageUnavailableError:
    """Count and log a Redis failure; the answer tells the client (Livepeer too) to retry."""
    REDIS_ERRORS.labels(route=route).inc()
    logger.warning("storage unavailable: %s", error)
    return StorageUnavailableError("storage is unavailable; retry later")


def _storage_error(error: StorageError) -> Response:
    route = request.url_rule.rule if request.url_rule else "none"
    return _service_error(storage_unavailable(error, route))


def _http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    headers = {k: v for k, v in error.get_headers() if k.lower() in {"allow", "retry-after"}}
    slug = (error.name or "error").lower().replace(" ", "-")
    return problem(status, error.name or "Error", error.description or "", slug, headers)


def _unexpected(error: Exception) -> Response:
    # Log the traceback, never show it: it could carry request data.
    logger.exception("unhandled error", exc_info=error)
    return problem(500, "Internal error", "an unexpected error occurred", "internal", {})


def init_app(app: Flask) -> None:
    """Register the problem+json handlers."""
    app.register_error_handler(ServiceError, _service_error)
    app.register_error_handler(StorageError, _storage_error)
    app.register_error_handler(HTTPException, _http_exception)
    app.register_error_handler(Exception, _unexpected)
