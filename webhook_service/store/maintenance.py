"""Counters, locks and clean-up: failed logins, reconcile checkpoints, retention."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from webhook_service.store.base import StoreBase
from webhook_service.store.connection import redis_errors

# A reconcile checkpoint outlives a weekend: long enough to resume, short enough to stay small.
RECONCILE_TTL_SECONDS = 7 * 24 * 3600
_APPLIED_BATCH = 500  # candidates per pipeline when asking which event ids were applied


class Maintenance(StoreBase):
    """Bounded bookkeeping beside the event data; every key here expires or is swept."""

    def auth_failures(self, client: str) -> tuple[int, int]:
        """(wrong /api credentials from `client` in its current window, seconds it has left)."""
        key = self.keys.auth_failures(client)
        with redis_errors():
            pipe = self._client.pipeline(transaction=False)
            pipe.get(key)
            pipe.ttl(key)
            count, ttl = pipe.execute()
        return int(count or 0), max(int(ttl), 0)

    def count_auth_failure(self, client: str, window_s: int) -> int:
        """Count one wrong /api credential from `client` (one round trip); return its count.

        The window starts at the first failure and does not slide: SET NX EX creates the key
        with its expiry, INCR keeps it.
        """
        key = self.keys.auth_failures(client)
        with redis_errors():
            pipe = self._client.pipeline(transaction=False)
            pipe.set(key, 0, ex=window_s, nx=True)
            pipe.incr(key)
            pipe.ttl(key)
            _, count, ttl = pipe.execute()
            if ttl < 0:  # it expired between SET and INCR, and INCR made it without expiry
                self._client.expire(key, window_s)
        return int(count)

    def applied_event_ids(self, candidates: Sequence[tuple[str, str | None]]) -> set[str]:
        """The event ids among (event id, stream id or None) pairs that were applied here.

        Applied means a live dedupe claim (3 days) or a record still in the stream's timeline
        or the global one; the stream's keys are asked only when its id is known. Every
        command names one key, so this is one pipelined round trip on a Cluster too.
        """
        applied: set[str] = set()
        for start in range(0, len(candidates), _APPLIED_BATCH):
            batch = candidates[start : start + _APPLIED_BATCH]
            with redis_errors():
                pipe = self._client.pipeline(transaction=False)
                for event_id, stream_id in batch:
                    pipe.exists(self.keys.global_claim(event_id))
                    pipe.hexists(self.keys.event_data, event_id)
                    if stream_id:
                        pipe.exists(self.keys.stream_claim(stream_id, event_id))
                        pipe.hexists(self.keys.stream_events(stream_id), event_id)
                answers = iter(pipe.execute())
            for event_id, stream_id in batch:
                hits = [next(answers) for _ in range(4 if stream_id else 2)]
                if any(hits):
                    applied.add(event_id)
        return applied

    def resent_event_ids(self, webhook_id: str, event_ids: Sequence[str]) -> set[str]:
        """The event ids an earlier reconcile run had Livepeer resend to this webhook."""
        if not event_ids:
            return set()
        with redis_errors():
            found = self._client.hmget(self.keys.reconcile(webhook_id), event_ids)
        return {eid for eid, log_id in zip(event_ids, found, strict=True) if log_id is not None}

    def mark_resent(self, webhook_id: str, event_id: str, log_id: str) -> None:
        """Note a resend in the webhook's reconcile checkpoint (one round trip)."""
        key = self.keys.reconcile(webhook_id)
        with redis_errors():
            pipe = self._client.pipeline(transaction=False)
            pipe.hset(key, event_id, log_id)
            pipe.expire(key, RECONCILE_TTL_SECONDS)
            pipe.execute()

    def try_lock(self, name: str, seconds: int) -> bool:
        """Take the named lock unless someone holds it; it is never released, only expires."""
        with redis_errors():
            return bool(self._client.set(self.keys.lock(name), "1", nx=True, ex=seconds))

    def forget_stale_streams(self, cutoff_ms: int, limit: int) -> int:
        """Forget up to `limit` streams whose newest event is at or before `cutoff_ms`.

        Bounded work, no SCAN: the oldest entries of the `streams` index (scored by
        last_event_at), then per stream its keys (its own slot), then the index entries (the
        global slot). Each step re-checks the time, so a stream that got an event meanwhile
        stays. Keys go before index entries: a crash in between leaves index entries that the
        next sweep finds again, never keys that no sweep could find.
        """
        with redis_errors():
            raw = self._client.zrangebyscore(
                self.keys.streams(None), "-inf", cutoff_ms, start=0, num=limit
            )
            ids = [member.decode() for member in raw]
            if not ids:
                return 0
            calls = [
                (self._forget_stream, self.keys.stream_state_keys(sid), [cutoff_ms]) for sid in ids
            ]
            if self._cluster:  # one slot per stream: a script each
                lasts = [script(keys=keys, args=args) for script, keys, args in calls]
            else:
                lasts = self._run_pipelined(*calls)
            pairs: list[Any] = []
            for sid, last in zip(ids, lasts, strict=True):
                pairs.extend((sid, last or "0"))  # 0: the stream's keys are gone
            removed = self._forget_index(
                keys=list(self.keys.stream_index), args=[cutoff_ms, *pairs]
            )
        return int(removed)
