"""Redis memory of one stream with a full timeline (TIMELINE_MAX events, SESSIONS_MAX sessions).

30 broadcasts of realistic deliveries (started, recording.started, idle, recording.waiting,
recording.ready, each recording its own session) give 150 events: past both bounds. The same
sequence with every payload padded to just under MAX_STORED_PAYLOAD_BYTES (larger payloads are
not stored) gives the worst case the bounds allow.
"""

from __future__ import annotations

import uuid
from typing import Any

import redis

from webhook_service.config import DEFAULT_KEY_PREFIX
from webhook_service.ingest.events import MAX_STORED_PAYLOAD_BYTES, parse_delivery
from webhook_service.ingest.samples import build_delivery, encode
from webhook_service.ingest.stream_update import build_update
from webhook_service.store import CLAIM_TTL_SECONDS, SESSIONS_MAX, TIMELINE_MAX, Store

from .deliveries import now_ms
from .redis_work import stream_memory

BROADCAST = (
    "stream.started",
    "recording.started",
    "stream.idle",
    "recording.waiting",
    "recording.ready",
)


def _fill(store: Store, stream_id: str, pad: bool) -> int:
    at = now_ms() - 86_400_000
    n = 0
    broadcasts = (TIMELINE_MAX + 50) // len(BROADCAST)
    for b in range(max(broadcasts, SESSIONS_MAX + 10)):
        session = f"{stream_id}-{b}"
        for event in BROADCAST:
            n += 1
            body = build_delivery(
                event,
                stream_id,
                created_at_ms=at + n * 1000,
                timestamp_ms=at + n * 1000,
                session_id=session if event.startswith("recording.") else None,
            )
            if pad:
                payload: dict[str, Any] = body.setdefault("payload", {})
                room = MAX_STORED_PAYLOAD_BYTES - len(encode(payload)) - 40
                payload["notes"] = "x" * max(room, 0)
            store.apply(build_update(parse_delivery(encode(body)), received_at_ms=at + n * 1000))
    return n


def measure(client: redis.Redis) -> dict[str, Any]:
    """Bytes of a realistic and of a worst-case full stream, with the bound they are held to."""
    store = Store(client, DEFAULT_KEY_PREFIX)
    out: dict[str, Any] = {
        "timeline_max": TIMELINE_MAX,
        "sessions_max": SESSIONS_MAX,
        "claim_ttl_days": CLAIM_TTL_SECONDS / 86400,
    }
    for label, pad in (("realistic", False), ("worst_case_8KiB_payloads", True)):
        stream_id = str(uuid.uuid4())
        events = _fill(store, stream_id, pad)
        sizes = stream_memory(client, DEFAULT_KEY_PREFIX, stream_id)
        sizes["events_applied"] = events
        sizes["timeline_len"] = int(
            client.zcard(f"{DEFAULT_KEY_PREFIX}:{{{stream_id}}}:timeline") or 0
        )
        sizes["sessions_len"] = int(
            client.hlen(f"{DEFAULT_KEY_PREFIX}:{{{stream_id}}}:sessions") or 0
        )
        sizes["bytes_per_claim"] = round(sizes["claims_bytes"] / max(sizes["claims"], 1))
        out[label] = sizes
    return out
