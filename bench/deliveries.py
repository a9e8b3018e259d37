"""Pre-signed, unique deliveries as raw HTTP requests, so the load generator only replays bytes.

Each delivery has its own event id and the body `timestamp` (= the signed header `t`) of the
moment it was generated; a run uses its requests within seconds, far inside the service's
300 s tolerance, so WEBHOOK_TOLERANCE_SECONDS stays at its production default.

The mix is what one broadcast sends, cycled over a pool of streams: stream.started,
stream.idle, recording.waiting, recording.ready (each recording with its session), with
`createdAt` rising, in the shapes `webhook_service.sample_events` builds.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from webhook_service.ingest.samples import build_delivery, signed_request

INGEST_PATH = "/webhooks/livepeer"
CYCLE = ("stream.started", "stream.idle", "recording.waiting", "recording.ready")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def raw_request(port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    """A complete HTTP/1.1 request (keep-alive) with these headers and body."""
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class DeliveryFactory:
    """Makes signed deliveries for a pool of stream ids; every call continues the sequence."""

    def __init__(self, secret: str, stream_ids: list[str], created_base_ms: int | None = None):
        self._secret = secret
        self._streams = stream_ids
        self._run = uuid.uuid4().hex[:8]
        self._n = 0
        # createdAt rises by 1 ms per delivery, ending before "now" for realistic lag.
        self._created = created_base_ms or now_ms() - 3_600_000

    def bodies(self, count: int) -> list[tuple[bytes, dict[str, str]]]:
        """`count` (raw body, headers) pairs, signed now."""
        stamp = now_ms()
        out = []
        for _ in range(count):
            n = self._n
            self._n += 1
            streams = len(self._streams)
            stream_id = self._streams[n % streams]
            round_ = n // streams
            event = CYCLE[round_ % len(CYCLE)]
            session = f"{stream_id}-{self._run}-b{round_ // len(CYCLE)}"
            body = build_delivery(
                event,
                stream_id,
                created_at_ms=self._created + n,
                timestamp_ms=stamp,
                session_id=session if event.startswith("recording.") else None,
                event_id=f"ev-{self._run}-{n}",
            )
            out.append(signed_request(body, self._secret))
        return out

    def requests(self, port: int, count: int) -> list[bytes]:
        """`count` raw HTTP requests to the ingest route."""
        return [raw_request(port, INGEST_PATH, b, h) for b, h in self.bodies(count)]


def write_replay_file(path: Path, requests: list[bytes]) -> Path:
    """The NUL-separated file bench/wrk_replay.lua reads."""
    with open(path, "wb") as out:
        for raw in requests:
            out.write(raw)
            out.write(b"\0")
    return path
