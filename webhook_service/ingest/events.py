"""Parse and validate a Livepeer delivery body, scrub its secrets, judge its freshness (pure)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from webhook_service.ingest.scrub import scrub

TOKEN_PATTERN = r"^[A-Za-z0-9_-]{1,128}$"
Token = Annotated[str, StringConstraints(pattern=TOKEN_PATTERN)]
EventName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,100}$")]
# ms since the epoch, from 1973 to the end of year 9999 (the last time an ISO-8601 answer can
# show): a value in seconds is far below the floor.
EpochMs = Annotated[int, Field(ge=100_000_000_000, lt=253_402_300_800_000)]

# Livepeer's documented event names; others are accepted but counted as "other" in metrics.
KNOWN_EVENTS = frozenset(
    {
        "stream.started",
        "stream.idle",
        "stream.detection",
        "recording.started",
        "recording.waiting",
        "recording.ready",
        "multistream.connected",
        "multistream.error",
        "multistream.disconnected",
        "asset.created",
        "asset.updated",
        "asset.ready",
        "asset.failed",
        "asset.deleted",
        "task.spawned",
        "task.updated",
        "task.completed",
        "task.failed",
        "playback.accessControl",
        "playback.user.new",
    }
)
MAX_STORED_PAYLOAD_BYTES = 8192
# Containers a body may nest, itself included. Livepeer's nest about 6 deep; pydantic refuses
# to write JSON past 254 levels, so a deeper stored payload would fail every read of it.
MAX_DEPTH = 32


class EventError(Exception):
    """Raised when a body is not a well-formed Livepeer delivery."""


class FreshnessError(Exception):
    """Raised when the signed body `timestamp` disagrees with the header or the clock."""

    def __init__(
        self, reason: Literal["bad_signature", "stale"], detail: str, event: str = "unknown"
    ) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.event = event  # the metric label of the (verified) event


class StreamRef(BaseModel):
    """The delivery's `stream` object; only `id` is required."""

    model_config = ConfigDict(extra="allow", strict=True)
    id: Token


class SessionRef(BaseModel):
    """`payload.session` of recording.* events."""

    model_config = ConfigDict(extra="allow", strict=True)
    id: Token | None = None
    parentId: Token | None = None


class Payload(BaseModel):
    """The event payload; its shape depends on the event."""

    model_config = ConfigDict(extra="allow", strict=True)
    session: SessionRef | None = None


class DeliveryEnvelope(BaseModel):
    """A Livepeer delivery: the fields the service relies on (others are kept, not checked)."""

    model_config = ConfigDict(extra="allow", strict=True)
    id: Token
    event: EventName
    timestamp: EpochMs
    createdAt: EpochMs
    webhookId: str | None = None
    stream: StreamRef | None = None
    payload: Payload | None = None


@dataclass(frozen=True)
class Delivery:
    """A validated, scrubbed delivery: the event and the stream it belongs to."""

    id: str
    event: str
    timestamp_ms: int
    created_at_ms: int
    stream_id: str | None
    session_id: str | None
    stream: dict[str, Any] | None
    payload: dict[str, Any] | None

    @property
    def metric_name(self) -> str:
        """The event name as a bounded metric label: unknown names count as `other`."""
        return self.event if self.event in KNOWN_EVENTS else "other"


def _describe(error: ValidationError) -> str:
    first = error.errors(include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    message = first["msg"]
    if first["type"] in {"greater_than_equal", "less_than"} and where in {"timestamp", "createdAt"}:
        message = "must be a Unix time in milliseconds"
    return f"{where}: {message}"


def _utf8_safe(document: dict[str, Any], body: bytes) -> dict[str, Any]:
    """The document with every lone UTF-16 surrogate (an escaped half pair) replaced by '?'.

    `"\\ud83d"` is valid JSON (JavaScript writes it for a string cut inside an emoji), but such
    text has no UTF-8 form: Redis's cjson refuses it (a 503 that Livepeer retries for a day) and
    every later answer showing it would fail. In a body of ASCII text (what Livepeer sends; no
    NUL, so not UTF-16 or UTF-32, which json also reads) a surrogate can only come from a `\\u`
    escape: without one the document is returned without being encoded again.
    """
    if body.isascii() and b"\\u" not in body and b"\x00" not in body:
        return document
    text = json.dumps(document, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        replaced: dict[str, Any] = json.loads(text.encode("utf-8", "replace"))
        return replaced
    return document


def too_deep(value: dict[str, Any] | list[Any], room: int) -> bool:
    """Whether `value` holds containers more than `room` levels below itself."""
    for child in value.values() if type(value) is dict else value:
        if (type(child) is dict or type(child) is list) and (
            room == 0 or too_deep(child, room - 1)
        ):
            return True
    return False


def parse_delivery(body: bytes) -> Delivery:
    """Parse a raw delivery body; every failure is an EventError with a one-line reason."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        raise EventError("the body is not valid UTF-8 JSON") from None
    if not isinstance(document, dict):
        raise EventError(f"the body is JSON but not an object (got {type(document).__name__})")
    # A body with no more brackets than the limit cannot nest deeper: the walk is skipped.
    if body.count(b"{") + body.count(b"[") > MAX_DEPTH and too_deep(document, MAX_DEPTH - 1):
        raise EventError(f"the body is nested more than {MAX_DEPTH} levels deep")
    try:
        document = _utf8_safe(document, body)
        envelope = DeliveryEnvelope.model_validate(document)
    except ValidationError as error:
        raise EventError(_describe(error)) from None
    except RecursionError:
        raise EventError("the body is nested too deeply") from None
    raw_stream = document.get("stream")
    raw_payload = document.get("payload")
    stream = scrub(raw_stream) if isinstance(raw_stream, dict) else None
    payload = scrub(raw_payload) if isinstance(raw_payload, dict) else None
    session = envelope.payload.session if envelope.payload else None
    stream_id = envelope.stream.id if envelope.stream else (session.parentId if session else None)
    return Delivery(
        id=envelope.id,
        event=envelope.event,
        timestamp_ms=envelope.timestamp,
        created_at_ms=envelope.createdAt,
        stream_id=stream_id,
        session_id=session.id if session else None,
        stream=stream,
        payload=payload,
    )


def check_freshness(
    delivery: Delivery, header_t_ms: int, now_ms: int, tolerance_seconds: int
) -> None:
    """Require the signed body `timestamp` to equal the header's `t` and lie within tolerance.

    The window is inclusive at both edges: exactly `tolerance_seconds` old (or ahead) passes.
    """
    if delivery.timestamp_ms != header_t_ms:
        hint = ""
        if header_t_ms * 1000 == delivery.timestamp_ms or header_t_ms < 100_000_000_000:
            hint = " (t looks like seconds; Livepeer sends milliseconds)"
        raise FreshnessError(
            "bad_signature",
            f"the body timestamp differs from t in Livepeer-Signature{hint}",
            delivery.metric_name,
        )
    skew_ms = now_ms - delivery.timestamp_ms
    if abs(skew_ms) > tolerance_seconds * 1000:
        direction = "old" if skew_ms > 0 else "in the future"
        raise FreshnessError(
            "stale",
            f"the delivery is {abs(skew_ms) // 1000} s {direction}, beyond the "
            f"{tolerance_seconds} s tolerance: check that this host's clock is NTP-synced",
            delivery.metric_name,
        )
