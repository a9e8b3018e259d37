"""Request bodies: read within the size limit, and JSON bodies validated into a model."""

from __future__ import annotations

import re
from typing import Any, TypeVar

from flask import current_app, request
from pydantic import BaseModel, ValidationError

from webhook_service.http.errors import BadRequestError, BodyUnreadableError, PayloadTooLargeError

M = TypeVar("M", bound=BaseModel)
_FIELD_NAME = re.compile(r"[a-z][a-z_]{0,31}")


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


def parse_body(model: type[M]) -> M:
    """The request's JSON body as `model` (empty: `{}`); a 400 names the field, never its value.

    Values are never quoted back: a body may hold a stream key or a viewer's token.
    """
    raw = read_body(request.environ, current_app.config["SETTINGS"].max_body_bytes)
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as error:
        first = error.errors(include_url=False, include_input=False)[0]
        if first["type"] == "extra_forbidden":
            fields = ", ".join(model.model_fields)
            message = f"body: only the fields {fields} are allowed{_not(first)}"
            raise BadRequestError(message) from None
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise BadRequestError(f"{where}: {first['msg']}") from None


def _not(error: Any) -> str:
    """The unknown field named, when its name is a plain lower-case word: a key is input too,
    and anything else (a pasted token, say) is not quoted back."""
    name = str(error["loc"][-1]) if error["loc"] else ""
    return f" (not {name!r})" if _FIELD_NAME.fullmatch(name) else ""
