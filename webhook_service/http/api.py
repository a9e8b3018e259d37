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
    DeliveryPage,
    EventPage,
    Stream,
    StreamPage,
    delivery_from_log,
    event_from_record,
    stream_from_record,
)
from webhook_service.ingest.delivery_log import (
    FILTER_OUTCOMES,
    DeliveryCursorError,
    LogPosition,
)
from webhook_service.ingest.events import TOKEN_PATTERN
from webhook_service.store import StateFilter, Store
from webhook_service.store.cursor import Cursor, CursorError, parse_limit
from webhook_service.times import now_ms

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
    params=(LIMIT, CURSOR),
    response=EventPage,
    errors=(400, 404, 503),
)
def stream_events(stream_id: str) -> Response:
    limit, cursor = _paging()
    store = service(Store)
    records, after = store.stream_event_page(known_stream_id(stream_id), limit, cursor)
    if not records and cursor is None and store.get_stream(stream_id) is None:
        raise NotFoundError(NO_SUCH_STREAM)
    page = EventPage(
        events=[event_from_record(r) for r in records],
        next_cursor=after.encode() if after else None,
    )
    return json_answer(page)


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


@bp.get("/deliveries")
@documented(
    "Every request answered on the ingest route, rejected ones included, newest first",
    "deliveries",
    auth="ops",
    params=(
        Param(
            "outcome",
            "query",
            "only this outcome (a livepeer_webhooks_total outcome, or wrong_method)",
            {"type": "string", "enum": list(FILTER_OUTCOMES)},
        ),
        Param(
            "stream_id",
            "query",
            "only deliveries of this stream (those whose signature verified)",
            {"type": "string", "pattern": TOKEN_PATTERN},
        ),
        LIMIT,
        Param(
            "cursor",
            "query",
            "next_cursor of the previous page",
            {"type": "string", "pattern": "^[0-9]{1,16}-[0-9]{1,19}[.][uv]$"},
        ),
    ),
    response=DeliveryPage,
    errors=(400, 503),
)
def list_deliveries() -> Response:
    args = request.args
    outcome = args.get("outcome") or None
    if outcome is not None and outcome not in FILTER_OUTCOMES:
        raise BadRequestError("outcome must be one of " + ", ".join(FILTER_OUTCOMES))
    stream_id = args.get("stream_id") or None
    if stream_id is not None and not _STREAM_ID.fullmatch(stream_id):
        raise BadRequestError("stream_id must be 1-128 letters, digits, '_' or '-'")
    try:
        limit = parse_limit(args.get("limit"))
        after = LogPosition.decode(args["cursor"]) if args.get("cursor") else None
    except (CursorError, DeliveryCursorError) as error:
        raise BadRequestError(str(error)) from None
    found, last = service(Store).deliveries(now_ms(), limit, outcome, stream_id, after)
    page = DeliveryPage(
        deliveries=[delivery_from_log(logged) for logged in found],
        next_cursor=last.encode() if last else None,
    )
    return json_answer(page)
