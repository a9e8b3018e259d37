"""The JSON shapes the service answers with (contract field names), built from stored records."""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from webhook_service.diagnostics.recording import RecordingStatus, shown_recording_status
from webhook_service.ingest.delivery_log import FILTER_OUTCOMES
from webhook_service.ingest.events import MAX_DEPTH, too_deep
from webhook_service.store import LoggedDelivery
from webhook_service.times import iso_from_ms


class Session(BaseModel):
    """One broadcast of a stream and its recording, as recording.* deliveries described it.
    `recording_status` follows the diagnosis's rule: "ready" only with a URL."""

    model_config = ConfigDict(extra="forbid")
    id: str
    recording_status: RecordingStatus | None = None
    recording_url: str | None = None
    mp4_url: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


class Stream(BaseModel):
    """A stream's state as this service knows it from webhook deliveries."""

    id: str
    name: str | None
    playback_id: str | None
    state: Literal["active", "idle"]
    last_event: str | None
    last_event_at: str | None
    record: bool | None
    playback_policy: str | None
    sessions: list[Session]
    playback_policy_webhook_id: str | None = None
    suspended: bool | None = None
    created_at: str | None = None
    last_started_at: str | None = None
    last_idle_at: str | None = None
    first_received_at: str | None = None
    last_received_at: str | None = None


class Event(BaseModel):
    """One accepted delivery in a timeline (secrets scrubbed, large payloads omitted)."""

    id: str
    event: str
    created_at: str
    received_at: str
    stream_id: str | None
    session_id: str | None
    asset_id: str | None = None
    task_id: str | None = None
    payload: dict[str, Any] | None = None
    payload_truncated: bool = False


class StreamPage(BaseModel):
    streams: list[Stream]
    next_cursor: str | None


class EventList(BaseModel):
    events: list[Event]


class EventPage(BaseModel):
    events: list[Event]
    next_cursor: str | None


class Delivery(BaseModel):
    """One request answered on the ingest route, as the delivery log keeps it: never a body,
    a header value or a secret; the event only once the signature verified."""

    at: str
    outcome: Literal[FILTER_OUTCOMES]  # type: ignore[valid-type]
    reason: str | None
    detail: str | None
    event_id: str | None
    event: str | None
    stream_id: str | None
    request_id: str
    remote_addr: str | None


class DeliveryPage(BaseModel):
    deliveries: list[Delivery]
    next_cursor: str | None


class IngestAck(BaseModel):
    """The answer to an accepted delivery."""

    id: str
    event: str
    duplicate: bool


class HealthStatus(BaseModel):
    """Answer of the health probes."""

    status: str
    redis: str | None = None


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str


def stream_from_record(record: dict[str, Any]) -> Stream:
    """Build the Stream shape from the store's decoded hash."""
    sessions = [
        Session(
            id=s["id"],
            recording_status=shown_recording_status(
                s.get("recording_status"), bool(s.get("recording_url") or s.get("mp4_url"))
            ),
            recording_url=s.get("recording_url"),
            mp4_url=s.get("mp4_url"),
            created_at=iso_from_ms(s.get("created_at")),
            updated_at=iso_from_ms(s.get("updated_at")),
        )
        for s in record["sessions"]
    ]
    times = (
        "last_event_at",
        "created_at",
        "last_started_at",
        "last_idle_at",
        "first_received_at",
        "last_received_at",
    )
    shaped: dict[str, Any] = {k: v for k, v in record.items() if k != "sessions"}
    shaped.update({key: iso_from_ms(record.get(key)) for key in times})
    return Stream.model_validate({**shaped, "sessions": sessions})


def event_from_record(record: dict[str, Any]) -> Event:
    """Build the Event shape from a stored timeline record.

    A payload nested deeper than ingest now accepts (stored before it refused such bodies) is
    left out as truncated: pydantic refuses to write JSON past 254 levels, a 500 on every read.
    """
    shaped = {
        **record,
        "created_at": iso_from_ms(record["created_at"]),
        "received_at": iso_from_ms(record["received_at"]),
    }
    payload = record.get("payload")
    if isinstance(payload, dict) and too_deep(payload, MAX_DEPTH):
        shaped.update(payload=None, payload_truncated=True)
    return Event(**shaped)


def delivery_from_log(logged: LoggedDelivery) -> Delivery:
    """Build the Delivery shape from a delivery log entry (its `at` is its position's time)."""
    shown = {k: v for k, v in dataclasses.asdict(logged.entry).items() if k != "verified"}
    return Delivery(at=iso_from_ms(logged.position.ms) or "", **shown)
