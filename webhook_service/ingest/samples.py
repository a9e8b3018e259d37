"""Realistic Livepeer deliveries, shaped like Studio's webhook cannon sends them (pure)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from webhook_service.ingest.signature import format_header

STREAM_EVENTS = ("stream.started", "stream.idle")
RECORDING_EVENTS = ("recording.started", "recording.waiting", "recording.ready")


def stream_object(stream_id: str, created_at_ms: int, is_active: bool) -> dict[str, Any]:
    """The sanitised parent stream Livepeer embeds in a delivery (no streamKey)."""
    return {
        "id": stream_id,
        "name": "send-test-event stream",
        "kind": "stream",
        "playbackId": f"{stream_id.replace('-', '')[:16]}",
        "createdAt": created_at_ms - 3_600_000,
        "isActive": is_active,
        "record": True,
        "suspended": False,
        "lastSeen": created_at_ms,
        "sourceSegments": 0,
        "transcodedSegments": 0,
        "sourceSegmentsDuration": 0,
        "transcodedSegmentsDuration": 0,
        "playbackPolicy": {"type": "public"},
        "lastTerminatedAt": None,
    }


def session_object(stream_id: str, session_id: str, status: str, at_ms: int) -> dict[str, Any]:
    """A session as recording.* payloads carry it."""
    session: dict[str, Any] = {
        "id": session_id,
        "parentId": stream_id,
        "kind": "session",
        "createdAt": at_ms - 600_000,
        "lastSeen": at_ms - 90_000,
        "sourceSegments": 120,
        "record": True,
        "recordingStatus": status,
    }
    if status == "ready":
        session["recordingUrl"] = f"https://livepeercdn.studio/recordings/{session_id}/index.m3u8"
        session["mp4Url"] = f"https://livepeercdn.studio/recordings/{session_id}/source.mp4"
    return session


def asset_snapshot(asset_id: str, event: str) -> dict[str, Any]:
    """A recording asset as asset.* payloads carry it; its id is the session id."""
    phase = {"asset.ready": "ready", "asset.failed": "failed"}.get(event, "waiting")
    return {
        "id": asset_id,
        "source": {"type": "recording", "sessionId": asset_id},
        "status": {"phase": phase},
    }


def task_payload(asset_id: str, event: str) -> dict[str, Any]:
    """An upload task of a recording asset, as task.* payloads carry it."""
    payload: dict[str, Any] = {
        "task": {
            "id": str(uuid.uuid4()),
            "type": "upload",
            "snapshot": {"outputAssetId": asset_id, "type": "upload"},
        }
    }
    if event in ("task.completed", "task.failed"):
        payload["success"] = event == "task.completed"
    return payload


def build_delivery(
    event: str,
    stream_id: str,
    created_at_ms: int,
    timestamp_ms: int,
    session_id: str | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """A delivery body for `event` on `stream_id` (asset.*/task.* events carry no stream)."""
    body: dict[str, Any] = {
        "id": event_id or str(uuid.uuid4()),
        "webhookId": "7b1c4c0e-1f2a-4d3b-8e9f-0a1b2c3d4e5f",
        "createdAt": created_at_ms,
        "timestamp": timestamp_ms,
        "event": event,
    }
    if event.startswith("asset."):
        asset_id = session_id or str(uuid.uuid4())
        body["payload"] = {"asset": {"id": asset_id, "snapshot": asset_snapshot(asset_id, event)}}
        return body
    if event.startswith("task."):
        body["payload"] = task_payload(session_id or str(uuid.uuid4()), event)
        return body
    body["stream"] = stream_object(stream_id, created_at_ms, event == "stream.started")
    if event in RECORDING_EVENTS:
        session_id = session_id or str(uuid.uuid4())
        status = {"recording.started": "waiting"}.get(event, "ready")
        session = session_object(stream_id, session_id, status, created_at_ms)
        if event == "recording.waiting":
            session.pop("recordingUrl", None)
            session.pop("mp4Url", None)
        payload: dict[str, Any] = {"session": session}
        if event == "recording.ready":
            payload["recordingUrl"] = session["recordingUrl"]
            payload["mp4Url"] = session["mp4Url"]
        body["payload"] = payload
    return body


def encode(body: dict[str, Any]) -> bytes:
    """Compact JSON, as JavaScript's JSON.stringify writes it."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def signed_request(body: dict[str, Any], secret: str) -> tuple[bytes, dict[str, str]]:
    """Raw bytes and headers of a delivery, signed as Livepeer signs it."""
    raw = encode(body)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "livepeer.studio",
        "Livepeer-Signature": format_header(raw, secret, body["timestamp"]),
    }
    return raw, headers
