"""Forget streams with no event for STREAM_RETENTION_DAYS, a bounded amount at a time.

Livepeer sends no event when a stream is deleted, so without this the streams only pile up.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from webhook_service.store import StorageError, Store
from webhook_service.times import now_ms

logger = logging.getLogger(__name__)
DAY_MS = 86_400_000
SWEEP_INTERVAL_SECONDS = 60
# 100 streams a minute is 144,000 a day, far beyond what accounts create: a backlog (after an
# outage, or a shortened retention) drains within hours while each sweep stays a few ms.
SWEEP_BATCH = 100
LOCK_NAME = "retention"


class Sweeper:
    """Forgets stale streams: on demand (`sweep`), or throttled across workers (`maybe_sweep`)."""

    def __init__(
        self,
        store: Store,
        retention_days: int,
        *,
        batch: int = SWEEP_BATCH,
        interval_seconds: int = SWEEP_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        on_forgotten: Callable[[int], None] | None = None,
    ) -> None:
        self._store = store
        self._retention_ms = retention_days * DAY_MS
        self._batch = batch
        self._interval = interval_seconds
        self._clock = clock
        self._on_forgotten = on_forgotten  # told how many each sweep forgot (a metric)
        self._guard = threading.Lock()
        self._next_at: float | None = None  # this process's next try (monotonic)

    def sweep(self, now: int, limit: int | None = None) -> int:
        """Forget up to `limit` (default: the batch) stale streams now; returns how many."""
        cutoff = now - self._retention_ms
        forgotten = self._store.forget_stale_streams(cutoff, limit or self._batch)
        if self._on_forgotten is not None:
            self._on_forgotten(forgotten)
        return forgotten

    def maybe_sweep(self, now: int) -> int:
        """Sweep one batch unless this process tried within the interval or another worker
        holds the Redis lock (SET NX EX), so the whole service sweeps once per interval."""
        with self._guard:
            monotonic = self._clock()
            if self._next_at is not None and monotonic < self._next_at:
                return 0
            self._next_at = monotonic + self._interval
        if not self._store.try_lock(LOCK_NAME, self._interval):
            return 0
        return self.sweep(now)

    def sweep_quietly(self) -> None:
        """Sweep if due; the ingest route calls this after an accepted delivery's answer.

        Why there: memory grows only with accepted deliveries, so cleaning up on them keeps
        pace with growth, needs no background thread and no Prometheus scrape; running after
        the answer is written means Livepeer never waits for it; the throttle makes it at most
        one bounded sweep a minute for the whole service. A failed sweep is retried at the next
        interval: it must never disturb ingest.
        """
        try:
            self.maybe_sweep(now_ms())
        except StorageError as error:
            logger.warning("retention sweep failed: %s", error)
