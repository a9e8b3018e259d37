"""Reading what an AI gateway or Livepeer Studio answered: media types, JSON bodies, 422 details.

Pure, and never raising on a body of an unexpected shape: callers get None instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

MAX_DETAIL_ITEMS = 20


@dataclass(frozen=True)
class DetailItem:
    """One entry of a 422 body's `detail` list, reduced to what a verdict may show."""

    field: str
    loc: tuple[str, ...]
    msg: str
    type: str


def media_type(content_type: str | None) -> str | None:
    """`type/subtype` of a Content-Type header, lower-case, without parameters."""
    if not content_type:
        return None
    return content_type.split(";", 1)[0].strip().lower() or None


def json_object(body: Any) -> dict[str, Any] | None:
    """`body` as a JSON object: already parsed, or text/bytes holding one; else None."""
    if isinstance(body, str | bytes):
        try:
            body = json.loads(body)
        except (ValueError, RecursionError):
            return None
    return body if isinstance(body, dict) else None


def validation_details(body: Any) -> list[DetailItem] | None:
    """The `detail` list of a 422 body (object or JSON text); None when it has another shape."""
    parsed = json_object(body)
    detail = parsed.get("detail") if parsed is not None else None
    if not isinstance(detail, list):
        return None
    items = [_detail_item(entry) for entry in detail[:MAX_DETAIL_ITEMS]]
    return [item for item in items if item is not None]


def studio_errors(body: Any) -> list[str] | None:
    """Studio's error list `{"errors": ["..."]}` (its shape for every error), else None."""
    parsed = json_object(body)
    errors = parsed.get("errors") if parsed is not None else None
    if not isinstance(errors, list) or not errors:
        return None
    if not all(isinstance(error, str) for error in errors):
        return None
    return [error[:300] for error in errors[:MAX_DETAIL_ITEMS]]


def gateway_message(body: Any) -> str | None:
    """The error text: `{"detail": {"msg"}}` (AI runner), `{"detail": "..."}`, `{"errors"}`."""
    parsed = json_object(body)
    if parsed is None:
        return None
    detail = parsed.get("detail")
    if isinstance(detail, dict) and isinstance(detail.get("msg"), str):
        return str(detail["msg"])[:300]
    if isinstance(detail, str):
        return detail[:300]
    errors = studio_errors(parsed)
    return errors[0] if errors else None


def _detail_item(entry: Any) -> DetailItem | None:
    """A `detail` entry with a `loc` list; strings bounded, the entry's `input` never copied."""
    if not isinstance(entry, dict) or not isinstance(entry.get("loc"), list) or not entry["loc"]:
        return None
    loc = tuple(str(part)[:64] for part in entry["loc"][:8])
    msg, kind = entry.get("msg"), entry.get("type")
    return DetailItem(
        field=loc[-1],
        loc=loc,
        msg=msg[:200] if isinstance(msg, str) else "",
        type=kind[:64] if isinstance(kind, str) else "",
    )
