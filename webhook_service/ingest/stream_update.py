"""What one accepted delivery changes: its timeline record, stream fields and session (pure).

The store applies these with ordering rules (by `createdAt`); this module only decides what the
event says, so the rules about Livepeer's payloads live in one place and are unit-tested.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Literal

from webhook_service.ingest.delivery_log import UNKNOWN_ORIGIN, Origin
from webhook_service.ingest.events import MAX_STORED_PAYLOAD_BYTES, Delivery

StreamState = Literal["active", "idle"]
STATE_EVENTS: dict[str, StreamState] = {"stream.started": "active", "stream.idle": "idle"}
# Events that end a recording's asset: the recording check reads the latest one per asset.
ASSET_OUTCOME_EVENTS = frozenset({"asset.failed", "task.failed", "asset.deleted"})
POLICY_TYPES = frozenset({"public", "jwt", "webhook"})
# The largest integer a double holds exactly (JavaScript's numbers, Redis's cjson): a time or
# count beyond it is ignored like a mistyped one. cjson reads a longer number as infinity,
# which it cannot write back (issue 16).
MAX_SAFE_INTEGER = 2**53


def _int(value: Any) -> int | None:
    """`value` if it is an integer (not a bool) a double holds exactly, else None."""
    if type(value) is int and -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        return value
    return None


@dataclass(frozen=True)
class StreamUpdate:
    """Everything the store writes for one event.

    `fields` are stream attributes (values JSON-encoded), applied only if no newer event set
    them; `session` is a partial session object merged field by field, newest event first.
    """

    event_id: str
    event: str
    created_at_ms: int
    received_at_ms: int
    stream_id: str | None
    record_json: str
    state: StreamState | None
    fields: dict[str, str]
    session_id: str | None
    session_json: str | None
    # The asset an asset.failed/task.failed names: a recording's asset id is its session id.
    asset_outcome_id: str | None = None
    # Who sent it: the delivery log entry the same script writes (no extra round trip).
    origin: Origin = UNKNOWN_ORIGIN


def _policy(stream: dict[str, Any]) -> dict[str, str]:
    if "playbackPolicy" not in stream:
        return {}
    policy = stream["playbackPolicy"]
    kind = policy.get("type") if isinstance(policy, dict) else None
    if policy is None or kind is None:
        return {"playback_policy": json.dumps("public")}
    fields = {"playback_policy": json.dumps(kind if kind in POLICY_TYPES else str(kind)[:32])}
    webhook_id = policy.get("webhookId") if isinstance(policy, dict) else None
    if isinstance(webhook_id, str):
        fields["playback_policy_webhook_id"] = json.dumps(webhook_id[:128])
    origins = policy.get("allowedOrigins") if isinstance(policy, dict) else None
    if isinstance(origins, list):
        kept = [o[:512] for o in origins[:100] if isinstance(o, str)]
        fields["playback_allowed_origins"] = json.dumps(kept)
    return fields


def _stream_fields(stream: dict[str, Any] | None) -> dict[str, str]:
    """Pick the stream attributes operators need from the (scrubbed) stream object."""
    if not stream:
        return {}
    fields: dict[str, str] = {}
    for source, target, kind in (
        ("name", "name", str),
        ("playbackId", "playback_id", str),
        ("record", "record", bool),
        ("suspended", "suspended", bool),
    ):
        value = stream.get(source)
        if isinstance(value, kind):
            fields[target] = json.dumps(value[:256] if isinstance(value, str) else value)
    created_at = _int(stream.get("createdAt"))
    if created_at is not None:
        fields["created_at"] = json.dumps(created_at)
    fields.update(_policy(stream))
    return fields


def _first_str(*values: Any) -> str | None:
    for value in values:
        if isinstance(value, str) and value:
            return value[:2048]
    return None


def _session(delivery: Delivery) -> dict[str, Any] | None:
    """The session as recording.* payloads describe it (fields not given stay unset)."""
    payload = delivery.payload or {}
    raw = payload.get("session")
    if delivery.session_id is None or not isinstance(raw, dict):
        return None
    status = _first_str(raw.get("recordingStatus"))
    if status is None and delivery.event in ("recording.ready", "recording.waiting"):
        status = delivery.event.removeprefix("recording.")
    session: dict[str, Any] = {
        "id": delivery.session_id,
        "recording_status": status,
        "recording_url": _first_str(payload.get("recordingUrl"), raw.get("recordingUrl")),
        "mp4_url": _first_str(payload.get("mp4Url"), raw.get("mp4Url")),
        "created_at": _int(raw.get("createdAt")),
        "last_seen": _int(raw.get("lastSeen")),
        "source_segments": _int(raw.get("sourceSegments")),
        "record": raw.get("record") if isinstance(raw.get("record"), bool) else None,
    }
    return {key: value for key, value in session.items() if value is not None}


def _subject_ids(payload: dict[str, Any]) -> dict[str, str]:
    """Asset and task ids of asset.* / task.* events: a recording asset's id is its session id."""
    ids: dict[str, str] = {}
    asset = payload.get("asset")
    if isinstance(asset, dict) and isinstance(asset.get("id"), str):
        ids["asset_id"] = asset["id"][:128]
    task = payload.get("task")
    if isinstance(task, dict):
        if isinstance(task.get("id"), str):
            ids["task_id"] = task["id"][:128]
        snapshot = task.get("snapshot")
        if isinstance(snapshot, dict) and isinstance(snapshot.get("outputAssetId"), str):
            ids["asset_id"] = snapshot["outputAssetId"][:128]
    return ids


def _finite(value: Any) -> Any:
    """`value` with NaN and infinite numbers as null, as JavaScript's JSON.stringify writes
    them (and the API showed them): the stored record stays JSON every reader can parse."""
    if type(value) is float and not math.isfinite(value):
        return None
    if type(value) is dict:
        return {key: _finite(item) for key, item in value.items()}
    if type(value) is list:
        return [_finite(item) for item in value]
    return value


def record_json(delivery: Delivery, received_at_ms: int) -> str:
    """The timeline entry for a delivery, as stored: identity, times, and the payload when it
    is small. The payload is encoded once (its size decides whether it is kept) and spliced in.
    """
    record: dict[str, Any] = {
        "id": delivery.id,
        "event": delivery.event,
        "created_at": delivery.created_at_ms,
        "received_at": received_at_ms,
        "stream_id": delivery.stream_id,
        "session_id": delivery.session_id,
    }
    payload_json = None
    if delivery.payload:
        record.update(_subject_ids(delivery.payload))
        try:
            encoded = json.dumps(delivery.payload, separators=(",", ":"), allow_nan=False)
        except ValueError:  # NaN, or a number such as 1e400 that reads as infinity
            encoded = json.dumps(_finite(delivery.payload), separators=(",", ":"))
        if len(encoded) <= MAX_STORED_PAYLOAD_BYTES:
            payload_json = encoded
        else:
            record["payload_truncated"] = True
    head = json.dumps(record, separators=(",", ":"))
    return head if payload_json is None else f'{head[:-1]},"payload":{payload_json}}}'


def build_update(
    delivery: Delivery, received_at_ms: int, origin: Origin = UNKNOWN_ORIGIN
) -> StreamUpdate:
    """Turn a delivery into the writes the store applies for it."""
    session = _session(delivery)
    outcome_asset = None
    if delivery.event in ASSET_OUTCOME_EVENTS and delivery.payload:
        outcome_asset = _subject_ids(delivery.payload).get("asset_id")
    return StreamUpdate(
        event_id=delivery.id,
        event=delivery.event,
        created_at_ms=delivery.created_at_ms,
        received_at_ms=received_at_ms,
        stream_id=delivery.stream_id,
        record_json=record_json(delivery, received_at_ms),
        state=STATE_EVENTS.get(delivery.event),
        fields=_stream_fields(delivery.stream),
        session_id=delivery.session_id if session else None,
        session_json=json.dumps(session, separators=(",", ":")) if session else None,
        asset_outcome_id=outcome_asset,
        origin=origin,
    )
