"""The service's HTTP errors, and the one place that turns any of them into problem+json."""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from webhook_service.store import StorageError
from webhook_service.telemetry.metrics import REDIS_ERRORS

logger = logging.getLogger(__name__)
# A URN keeps `type` a stable, dereference-free identifier (RFC 9457 allows any URI).
PROBLEM_BASE = "urn:livepeer-webhooks:problem"
PROBLEM_MEDIA_TYPE = "application/problem+json"


class ServiceError(Exception):
    """Base of every error answered on purpose; carries its HTTP status, title and type slug."""

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


class BodyUnreadableError(BadRequestError):
    """Raised when the server cannot read the body: a broken chunked encoding, a lost client."""


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


class MethodNotAllowedError(ServiceError):
    """Raised for a method the route does not serve (the Allow header names those it does)."""

    status, title, slug = 405, "Method not allowed", "method-not-allowed"


class PayloadTooLargeError(ServiceError):
    """Raised when a request body exceeds the configured limit."""

    status, title, slug = 413, "Payload too large", "too-large"


class AuthRateLimitedError(ServiceError):
    """Raised for every /api request from an address that failed authentication too often."""

    status, title, slug = 429, "Too many failed authentications", "auth-rate-limited"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            "too many requests with wrong credentials came from this address; every /api "
            f"request from it is refused for {retry_after} s more",
            {"Retry-After": str(retry_after)},
        )


class LivepeerApiError(ServiceError):
    """Raised when the Livepeer API fails or times out while serving a request."""

    status, title, slug = 502, "Livepeer API failed", "livepeer-api"


class StorageUnavailableError(ServiceError):
    """Raised when Redis cannot be reached or refuses a write; the client should retry."""

    status, title, slug = 503, "Storage unavailable", "storage-unavailable"

    def __init__(self, detail: str = "storage is unavailable; retry later") -> None:
        super().__init__(detail, {"Retry-After": "5"})


class DiagnosesBusyError(ServiceError):
    """Raised when this worker already runs as many diagnoses as it may: retry shortly."""

    status, title, slug = 503, "Diagnoses busy", "diagnoses-busy"

    def __init__(self) -> None:
        super().__init__(
            "this worker is already running its share of diagnoses; retry in a few seconds",
            {"Retry-After": "5"},
        )


# werkzeug's own errors (routing, methods) answered as ours, so every 404 or 405 reads alike.
_BY_STATUS: dict[int, type[ServiceError]] = {
    cls.status: cls
    for cls in (BadRequestError, NotFoundError, MethodNotAllowedError, PayloadTooLargeError)
}
_PASSED_HEADERS = frozenset({"allow", "retry-after"})


def problem_json(error: ServiceError) -> bytes:
    """The body of the RFC 9457 problem+json answer to `error`."""
    body: dict[str, Any] = {
        "type": f"{PROBLEM_BASE}:{error.slug}",
        "title": error.title,
        "status": error.status,
        "detail": error.detail,
    }
    return json.dumps(body, separators=(",", ":")).encode()


def problem_headers(error: ServiceError) -> list[tuple[str, str]]:
    """The headers of the problem+json answer to `error` (the edge adds the standard ones)."""
    return [("Content-Type", PROBLEM_MEDIA_TYPE), *error.headers.items()]


def unexpected_error(error: BaseException) -> ServiceError:
    """A bug: log the traceback (never show it: it could carry request data); answer 500."""
    logger.error("unhandled error", exc_info=error)
    return ServiceError("an unexpected error occurred")


def storage_unavailable(error: StorageError, route: str) -> StorageUnavailableError:
    """Count and log a Redis failure (an error: nothing could be stored or read) with its
    cause; the answer tells the client (Livepeer too) to retry."""
    REDIS_ERRORS.labels(route=route).inc()
    logger.error("storage unavailable on %s: %s", route, error, extra={"cause": error.reason})
    return StorageUnavailableError()


def _answer(error: ServiceError) -> Response:
    response = Response(problem_json(error), error.status, mimetype=PROBLEM_MEDIA_TYPE)
    response.headers.update(error.headers)
    return response


def _storage_error(error: StorageError) -> Response:
    route = request.url_rule.rule if request.url_rule else "none"
    return _answer(storage_unavailable(error, route))


def _http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    headers = {k: v for k, v in error.get_headers() if k.lower() in _PASSED_HEADERS}
    known = _BY_STATUS.get(status)
    if known is not None:
        return _answer(known(error.description or known.title, headers))
    mapped = ServiceError(error.description or "", headers)
    mapped.status, mapped.title = status, error.name or "Error"
    mapped.slug = mapped.title.lower().replace(" ", "-")
    return _answer(mapped)


def init_app(app: Flask) -> None:
    """Answer every error of a view as problem+json; a bug propagates to the edge (http.edge)."""
    app.config["PROPAGATE_EXCEPTIONS"] = True
    app.register_error_handler(ServiceError, _answer)
    app.register_error_handler(StorageError, _storage_error)
    app.register_error_handler(HTTPException, _http_exception)
