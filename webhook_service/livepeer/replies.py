"""What an answer of Livepeer's API says: a reply's data, its 404, or its error in Livepeer's
own words, turned into the client's results (pure)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from webhook_service.livepeer.results import ACCOUNT_SUSPENDED, ApiResult
from webhook_service.livepeer.shapes import ShapeError

T = TypeVar("T")
SHAPE_ERROR = "unexpected response shape"


@dataclass(frozen=True)
class Reply:
    """One answer of the API as the client read it."""

    data: Any = None
    next_url: str | None = None
    not_found: bool = False
    error: str | None = None
    status: int | None = None


def livepeer_error(content: bytes) -> str:
    """The first message of Livepeer's error body `{"errors": ["..."]}`, or ""."""
    try:
        errors = json.loads(content).get("errors")
    except (ValueError, RecursionError, AttributeError):
        return ""
    first = errors[0] if isinstance(errors, list) and errors else None
    return first[:200] if isinstance(first, str) else ""


def status_error(status: int, said: str) -> str:
    """What a non-2xx answer means, in Livepeer's own words when it gave some."""
    if status == 403 and said == "user is suspended":
        return ACCOUNT_SUSPENDED
    base = {
        401: "API key rejected",
        403: "forbidden for this API key",
        429: "rate limited",
    }.get(status)
    detail = f"HTTP {status}: {said}" if said else f"HTTP {status}"
    return f"{base} ({detail})" if base else detail


def single(reply: Reply, parse: Callable[[Any], T]) -> ApiResult[T]:
    """The parsed value of a reply, or its not-found or error."""
    if reply.error is not None or reply.not_found:
        return ApiResult(not_found=reply.not_found, error=reply.error, status=reply.status)
    try:
        return ApiResult(value=parse(reply.data), status=reply.status)
    except ShapeError:
        return ApiResult(error=SHAPE_ERROR, status=reply.status)


def entries(data: Any, parse: Callable[[Any], T]) -> tuple[T, ...]:
    """Each item of a list answer parsed; anything but a list is the wrong shape."""
    if not isinstance(data, list):
        raise ShapeError
    return tuple(parse(item) for item in data)
