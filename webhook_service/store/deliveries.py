"""The delivery log in Redis: rejected deliveries written here (accepted ones by the apply
script), and the merged, newest-first listing of both logs for GET /api/deliveries."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from webhook_service.ingest.delivery_log import (
    FILTER_OUTCOMES,
    DeliveryEntry,
    LogPosition,
    logs_for,
)
from webhook_service.store.base import StoreBase
from webhook_service.store.connection import redis_errors
from webhook_service.store.reads import REJECTION_WINDOW_MINUTES

_BUCKET_TTL_SECONDS = (REJECTION_WINDOW_MINUTES + 5) * 60
# The logs' bounds (about: XADD trims in whole nodes). Requests whose signature did not verify
# (anyone can send them) have a cap of their own, so junk cannot push verified ones out.
VERIFIED_LOG_MAX = 10_000
UNVERIFIED_LOG_MAX = 2_000
# Entries older than this are not listed (they are trimmed by count, not by age).
DELIVERY_LOG_MAX_AGE_MS = 7 * 24 * 3600 * 1000
# Entries one listing may read before it answers with what it found and a cursor: a filter
# that matches nothing costs a bounded amount per request.
SCAN_BUDGET = 2_000
_CHUNK = 200


@dataclass(frozen=True)
class LoggedDelivery:
    """An entry with its position (its `at` is the position's milliseconds)."""

    position: LogPosition
    entry: DeliveryEntry


class _Log:
    """One log read newest first in chunks, from an upper bound down to the age limit."""

    def __init__(self, key: str, verified: bool, end: str, oldest_id: str) -> None:
        self.key, self.verified, self.end, self.oldest_id = key, verified, end, oldest_id
        self.buffer: deque[tuple[bytes, dict[bytes, bytes]]] = deque()
        self.exhausted = False

    def request(self, pipe: Any) -> None:
        pipe.xrevrange(self.key, self.end, self.oldest_id, count=_CHUNK)

    def take(self, answer: list[tuple[bytes, dict[bytes, bytes]]]) -> None:
        self.buffer = deque(answer)
        self.exhausted = len(answer) < _CHUNK
        if answer:
            self.end = f"({answer[-1][0].decode()}"

    def head(self) -> LogPosition:
        """The position of the next entry (the buffer is not empty)."""
        return LogPosition.of(self.buffer[0][0], self.verified)


class DeliveryLog(StoreBase):
    """Both delivery logs: bounded in count (XADD MAXLEN) and, for reading, in age."""

    def record_rejection(self, entry: DeliveryEntry, now_ms: int, counted: bool = True) -> None:
        """Log a refused request to the ingest route and, when `counted`, count its reason in
        this minute's bucket for the webhooks check (one round trip)."""
        bucket = self.keys.rejections(now_ms // 60_000)
        reason = entry.reason or entry.outcome
        with redis_errors():
            pipe = self._client.pipeline(transaction=False)
            if counted:
                pipe.hincrby(bucket, reason, 1)
                pipe.expire(bucket, _BUCKET_TTL_SECONDS)
                pipe.hset(self.keys.delivery_times, f"rejected:{reason}", now_ms)
            log_max = VERIFIED_LOG_MAX if entry.verified else UNVERIFIED_LOG_MAX
            pipe.xadd(
                self.keys.delivery_log(entry.verified),
                entry.stored_fields(),
                maxlen=log_max,
                approximate=True,
            )
            pipe.execute()

    def deliveries(
        self,
        now_ms: int,
        limit: int,
        outcome: str | None = None,
        stream_id: str | None = None,
        after: LogPosition | None = None,
    ) -> tuple[list[LoggedDelivery], LogPosition | None]:
        """Entries newest first across both logs, filtered, at most `limit`, and the position
        to resume after (None when nothing is left). Reads at most SCAN_BUDGET entries: a
        page may be short, with a cursor, when the filter matched little."""
        oldest_id = f"{max(now_ms - DELIVERY_LOG_MAX_AGE_MS, 0)}-0"
        logs = [
            _Log(
                self.keys.delivery_log(verified),
                verified,
                after.upper_bound(verified) if after else "+",
                oldest_id,
            )
            for verified in logs_for(outcome)
        ]
        found: list[LoggedDelivery] = []
        scanned, last = 0, after
        with redis_errors():
            self._refill(logs)
            while len(found) < limit and scanned < SCAN_BUDGET:
                self._refill([log for log in logs if not log.buffer and not log.exhausted])
                newest = max((log for log in logs if log.buffer), key=_Log.head, default=None)
                if newest is None:
                    return found, None
                entry_id, stored = newest.buffer.popleft()
                scanned += 1
                last = LogPosition.of(entry_id, newest.verified)
                entry = DeliveryEntry.from_stored(stored, newest.verified)
                if entry.outcome not in FILTER_OUTCOMES:  # not written by this service
                    continue
                if (outcome is None or entry.outcome == outcome) and (
                    stream_id is None or entry.stream_id == stream_id
                ):
                    found.append(LoggedDelivery(last, entry))
            self._refill([log for log in logs if not log.buffer and not log.exhausted])
        more = any(log.buffer for log in logs)
        return found, last if more else None

    def _refill(self, logs: list[_Log]) -> None:
        """Read the next chunk of each of `logs` (one round trip for all of them)."""
        if not logs:
            return
        pipe = self._client.pipeline(transaction=False)
        for log in logs:
            log.request(pipe)
        for log, answer in zip(logs, pipe.execute(), strict=True):
            log.take(answer)
