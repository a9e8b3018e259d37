"""Applying an accepted event: its stream's state and timeline, then the global indexes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from webhook_service.ingest.events import EventError
from webhook_service.ingest.stream_update import StreamUpdate
from webhook_service.store.base import StoreBase
from webhook_service.store.connection import redis_errors
from webhook_service.store.deliveries import VERIFIED_LOG_MAX

# Livepeer retries for ~24 h and operators may resend from its log later still.
CLAIM_TTL_SECONDS = 3 * 24 * 3600
TIMELINE_MAX = 100
SESSIONS_MAX = 20
GLOBAL_EVENTS_MAX = 10_000
# How long an asset failure is remembered for the recording diagnosis.
ASSET_FAILURE_TTL_SECONDS = 30 * 24 * 3600
# The stream step's first answer when it refused its input, having written nothing.
REFUSED = 2


@dataclass(frozen=True)
class ApplyResult:
    """What applying a delivery did: `duplicate` is true when the event id was seen before."""

    duplicate: bool


class Apply(StoreBase):
    """Writes of an accepted delivery: one script on a single Redis, two on a Cluster."""

    def apply(self, update: StreamUpdate) -> ApplyResult:
        """Apply an event to its stream and the indexes (one script on a single Redis).

        Raises EventError when the script refuses the input (Redis's cjson cannot hold it:
        nothing is written, so a retry is applied), StorageError when Redis fails.
        """
        with redis_errors():
            if update.stream_id is None:
                return self._apply_without_stream(update)
            if self._cluster:
                return self._apply_cluster(update)
            return self._apply_single(update)

    def _apply_without_stream(self, update: StreamUpdate) -> ApplyResult:
        """An asset or task event: its claim and the global timeline, in the global slot."""
        keys = [
            self.keys.events,
            self.keys.event_data,
            self.keys.global_claim(update.event_id),
            self.keys.delivery_times,
            self.keys.deliveries,
        ]
        if update.asset_outcome_id:
            keys.append(self.keys.asset_outcome(update.asset_outcome_id))
        args = [*self._global_args(update), CLAIM_TTL_SECONDS, update.event]
        args += [ASSET_FAILURE_TTL_SECONDS, *self._origin_args(update)]
        duplicate = self._apply_global(keys=keys, args=args)
        return ApplyResult(duplicate=bool(duplicate))

    def _stream_args(self, update: StreamUpdate) -> tuple[list[str], list[Any]]:
        """KEYS and ARGV of the stream step (store/scripts.py lists them)."""
        sid = update.stream_id
        assert sid is not None
        keys = [
            self.keys.stream(sid),
            self.keys.timeline(sid),
            self.keys.stream_events(sid),
            self.keys.stream_claim(sid, update.event_id),
            self.keys.sessions(sid),
        ]
        args: list[Any] = [
            update.event_id,
            update.event,
            update.created_at_ms,
            update.received_at_ms,
            update.record_json,
            CLAIM_TTL_SECONDS,
            TIMELINE_MAX,
            update.state or "",
            update.session_id or "",
            update.session_json or "",
            SESSIONS_MAX,
            GLOBAL_EVENTS_MAX,
            sid,
            *self._origin_args(update),
        ]
        for field, value in update.fields.items():
            args.extend((field, value))
        return keys, args

    def _global_args(self, update: StreamUpdate) -> list[Any]:
        return [
            update.event_id,
            update.created_at_ms,
            update.record_json,
            GLOBAL_EVENTS_MAX,
            update.received_at_ms,
        ]

    def _origin_args(self, update: StreamUpdate) -> list[Any]:
        """Request id, remote address and bound of the delivery log entry the script writes."""
        origin = update.origin
        return [origin.request_id, origin.remote_addr or "", VERIFIED_LOG_MAX]

    def _index_args(
        self, update: StreamUpdate, version: int, state: str, last_at: Any, duplicate: int
    ) -> list[Any]:
        """ARGV of the cluster's index step, with what the stream step answered."""
        sid = update.stream_id or ""
        answered = [sid, version, state, last_at, duplicate, update.event]
        return [*self._global_args(update), *answered, *self._origin_args(update)]

    def _apply_single(self, update: StreamUpdate) -> ApplyResult:
        """One round trip: a single script applies the event to its stream and the indexes."""
        keys, args = self._stream_args(update)
        answer = self._apply_and_index(keys=[*keys, *self.keys.index], args=args)
        _raise_if_refused(answer)
        return ApplyResult(duplicate=bool(answer[0]))

    def _apply_cluster(self, update: StreamUpdate) -> ApplyResult:
        """Two round trips: the stream's slot, then the global slot with what the first gave."""
        keys, args = self._stream_args(update)
        answer = self._apply_stream(keys=keys, args=args)
        _raise_if_refused(answer)
        duplicate, version, state, last_at = answer
        index_args = self._index_args(update, version, state, last_at, duplicate)
        self._index_stream(keys=list(self.keys.index), args=index_args)
        return ApplyResult(duplicate=bool(duplicate))


def _raise_if_refused(answer: list[Any]) -> None:
    """The stream step's refusal of its input as the EventError it is (a 400, not a 503)."""
    if answer[0] == REFUSED:
        why = answer[1].decode() if isinstance(answer[1], bytes) else str(answer[1])
        raise EventError(f"{why}; nothing was stored")
