"""Livepeer's camelCase API JSON mapped onto the facts dataclasses; any other shape is refused."""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping
from typing import Any

from webhook_service.livepeer.facts import (
    ApiSession,
    ApiStream,
    ApiWebhook,
    PlaybackInfo,
    SigningKey,
    WebhookLogEntry,
)

_HLS_TYPE = "html5/application/vnd.apple.mpegurl"


class ShapeError(Exception):
    """Internal: the JSON is not shaped like Livepeer's documented object."""


def as_object(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ShapeError
    return value


def _sub(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """An optional nested object; null, absent or mistyped reads as empty."""
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _req_str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise ShapeError
    return value


def _str(data: Mapping[str, Any], key: str, limit: int = 2048) -> str | None:
    value = data.get(key)
    return value[:limit] if isinstance(value, str) else None


def _int(data: Mapping[str, Any], key: str) -> int | None:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value) if math.isfinite(value) else None


def _bool(data: Mapping[str, Any], key: str) -> bool | None:
    value = data.get(key)
    return value if isinstance(value, bool) else None


def _policy(data: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(type, webhookId) of playbackPolicy: absent or null means public (no access control).

    The API leaves the field out of public streams; only a delivery's stream object, which may
    be trimmed, leaves the policy unknown when it lacks the field.
    """
    policy = data.get("playbackPolicy")
    if policy is None:
        return "public", None
    if isinstance(policy, dict):
        return _str(policy, "type", 32), _str(policy, "webhookId", 128)
    return None, None


def _allowed_origins(data: Mapping[str, Any]) -> tuple[str, ...] | None:
    """playbackPolicy.allowedOrigins as the gate compares them (exact strings), at most 100."""
    origins = _sub(data, "playbackPolicy").get("allowedOrigins")
    if not isinstance(origins, list):
        return None
    return tuple(o[:512] for o in origins[:100] if isinstance(o, str))


def parse_stream(value: Any) -> ApiStream:
    data = as_object(value)
    policy, webhook_id = _policy(data)
    return ApiStream(
        id=_req_str(data, "id"),
        name=_str(data, "name"),
        playback_id=_str(data, "playbackId"),
        is_active=_bool(data, "isActive"),
        suspended=_bool(data, "suspended"),
        deleted=_bool(data, "deleted"),
        record=_bool(data, "record"),
        playback_policy=policy,
        playback_policy_webhook_id=webhook_id,
        allowed_origins=_allowed_origins(data),
        last_seen_ms=_int(data, "lastSeen"),
        source_segments=_int(data, "sourceSegments"),
    )


def parse_session(value: Any) -> ApiSession:
    data = as_object(value)
    return ApiSession(
        id=_req_str(data, "id"),
        created_at_ms=_int(data, "createdAt"),
        last_seen_ms=_int(data, "lastSeen"),
        recording_status=_str(data, "recordingStatus", 32),
        recording_url=_str(data, "recordingUrl"),
        mp4_url=_str(data, "mp4Url"),
        source_segments=_int(data, "sourceSegments"),
        record=_bool(data, "record"),
    )


def parse_webhook(value: Any) -> ApiWebhook:
    data = as_object(value)
    status = _sub(data, "status")
    failure = _sub(status, "lastFailure")
    events = data.get("events")
    events = events if isinstance(events, list) else []
    return ApiWebhook(
        id=_req_str(data, "id"),
        url=_req_str(data, "url"),
        events=tuple(e for e in events if isinstance(e, str)),
        last_triggered_at_ms=_int(status, "lastTriggeredAt"),
        last_failure_at_ms=_int(failure, "timestamp"),
        last_failure_status=_int(failure, "statusCode"),
        last_failure_error=_str(failure, "error", 300),
    )


def parse_log_entry(value: Any) -> WebhookLogEntry:
    data = as_object(value)
    response = _sub(data, "response")  # absent on a timeout or network error
    request = _sub(data, "request")
    body = _logged_body(request.get("body"))
    return WebhookLogEntry(
        id=_req_str(data, "id"),
        event=_str(data, "event", 64),
        created_at_ms=_int(data, "createdAt"),
        success=_bool(data, "success"),
        response_status=_int(response, "status"),
        event_id=_str(body, "id", 128) or _str(data, "eventId", 128),
        # The stream the event belongs to, decided as ingest does (events.parse_delivery).
        stream_id=_str(_sub(body, "stream"), "id", 128)
        or _str(_sub(_sub(body, "payload"), "session"), "parentId", 128),
        redirected=_bool(response, "redirected"),
        request_url=_str(request, "url"),
        response_body=_answer_text(response.get("body")),
    )


def _answer_text(body: Any) -> str | None:
    """The receiver's answer as text: Livepeer logs base64 of its first 1024 characters
    (cannon.ts storeResponse); a body that is not base64 is kept as it is."""
    if not isinstance(body, str):
        return None
    try:
        return base64.b64decode(body[:4096], validate=True).decode("utf-8", "replace")[:1024]
    except ValueError:  # binascii.Error is a ValueError
        return body[:1024]


def _logged_body(body: Any) -> Mapping[str, Any]:
    """The delivery JSON Livepeer logged as a string; empty when it does not parse."""
    if not isinstance(body, str):
        return {}
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def parse_signing_key(value: Any) -> SigningKey:
    data = as_object(value)
    disabled = _bool(data, "disabled") is True  # absent: enabled, as Livepeer creates keys
    key_id = _str(data, "id", 128)
    return SigningKey(public_key_b64=_req_str(data, "publicKey"), disabled=disabled, id=key_id)


def parse_playback(playback_id: str, value: Any) -> PlaybackInfo:
    data = as_object(value)
    meta = as_object(data.get("meta"))
    policy, webhook_id = _policy(meta)
    live = _int(meta, "live")
    return PlaybackInfo(
        playback_id=playback_id,
        kind=_str(data, "type", 32),
        live=None if live is None else live == 1,
        playback_policy=policy,
        playback_policy_webhook_id=webhook_id,
        hls_url=_hls_source(meta.get("source")),
    )


def _hls_source(sources: Any) -> str | None:
    for source in sources if isinstance(sources, list) else ():
        if isinstance(source, dict) and (
            source.get("type") == _HLS_TYPE or str(source.get("hrn", "")).startswith("HLS")
        ):
            return _str(source, "url")
    return None
