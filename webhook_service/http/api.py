"""The operator API under /api: stream state and timelines, bearer-token protected."""

from __future__ import annotations

import re

from flask import Blueprint, Response, request
from pydantic import BaseModel
from svcs.flask import get as service

from webhook_service.http.auth import require_ops_token
from webhook_service.http.errors import BadRequestError, NotFoundError
from webhook_service.http.openapi import Param, documented
from webhook_service.http.schemas import (
    EventList,
    EventPage,
    Stream,
    StreamPage,
    event_from_record,
    stream_from_record,
)
from webhook_service.ingest.events import TOKEN_PATTERN
from webhook_service.store import StateFilter, Store
from webhook_service.store.cursor import Cursor, CursorError, parse_limit

bp = Blueprint("api", __name__, url_prefix="/api")
bp.before_request(require_ops_token)

LIMIT = Param(
    "limit",
    "query",
    "1-200 (larger is clamped to 200); default 50",
    {"type": "integer", "minimum": 1},
)
CURSOR = Param(
    "cursor",
    "query",
    "next_cursor of the previous page",
    {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,256}$"},
)
_STREAM_ID = re.compile(TOKEN_PATTERN)
NO_SUCH_STREAM = "no stream with that id has sent an event"


def json_answer(model: BaseModel) -> Response:
    """A pydantic model as the JSON answer."""
    return Response(model.model_dump_json(), mimetype="application/json")


def known_stream_id(stream_id: str) -> str:
    """`stream_id` if it is an id Livepeer could have sent (the contract's token), else 404."""
    if not _STREAM_ID.match(stream_id):
        raise NotFoundError(NO_SUCH_STREAM)
    return stream_id


def _paging() -> tuple[int, Cursor | None]:
    try:
        limit = parse_limit(request.args.get("limit"))
        raw_cursor = request.args.get("cursor")
        return limit, Cursor.decode(raw_cursor) if raw_cursor else None
    except CursorError as error:
        raise BadRequestError(str(error)) from None


def _state() -> StateFilter:
    state = request.args.get("state")
    if state in (None, ""):
        return None
    if state == "active":
        return "active"
    if state == "idle":
        return "idle"
    raise BadRequestError("state must be 'active' or 'idle'")


@bp.get("/streams")
@documented(
    "Streams, most recent last_event_at first",
    "streams",
    auth="ops",
    params=(
        Param("state", "query", "active or idle", {"type": "string", "enum": ["active", "idle"]}),
        LIMIT,
        CURSOR,
    ),
    response=StreamPage,
    errors=(400, 503),
)
def list_streams() -> Response:
    state = _state()
    limit, cursor = _paging()
    records, after = service(Store).list_streams(state, limit, cursor)
    page = StreamPage(
        streams=[stream_from_record(r) for r in records],
        next_cursor=after.encode() if after else None,
    )
    return json_answer(page)


@bp.get("/streams/<stream_id>")
@documented("One stream's state", "streams", auth="ops", response=Stream, errors=(404, 503))
def get_stream(stream_id: str) -> Response:
    record = service(Store).get_stream(known_stream_id(stream_id))
    if record is None:
        raise NotFoundError(NO_SUCH_STREAM)
    return json_answer(stream_from_record(record))


@bp.get("/streams/<stream_id>/events")
@documented(
    "A stream's events, newest createdAt first",
    "streams",
    auth="ops",
    params=(LIMIT,),
    response=EventList,
    errors=(400, 404, 503),
)
def stream_events(stream_id: str) -> Response:
    limit, _ = _paging()
    store = service(Store)
    records = store.stream_events(known_stream_id(stream_id), limit)
    if not records and store.get_stream(stream_id) is None:
        raise NotFoundError(NO_SUCH_STREAM)
    return json_answer(EventList(events=[event_from_record(r) for r in records]))


@bp.get("/events")
@documented(
    "Events of all streams, assets and tasks, newest first",
    "events",
    auth="ops",
    params=(LIMIT, CURSOR),
    response=EventPage,
    errors=(400, 503),
)
def list_events() -> Response:
    limit, cursor = _paging()
    records, after = service(Store).list_events(limit, cursor)
    page = EventPage(
        events=[event_from_record(r) for r in records],
        next_cursor=after.encode() if after else None,
    )
    return json_answer(page)
