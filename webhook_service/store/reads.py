"""Reading state back: streams, timelines, the indexes' pages, delivery counters."""

from __future__ import annotations

import json
from typing import Any, Literal

from redis.cluster import RedisCluster

from webhook_service.store.base import StoreBase
from webhook_service.store.connection import redis_errors
from webhook_service.store.cursor import Cursor

StateFilter = Literal["active", "idle"] | None
# Rejections are counted in one-minute buckets; the window is the last hour.
REJECTION_WINDOW_MINUTES = 60


class Reads(StoreBase):
    """Every read the API and the diagnoses make; none of them scans the keyspace."""

    def ping(self) -> bool:
        """True when Redis answers."""
        with redis_errors():
            return bool(self._client.ping())

    def server_versions(self) -> list[str]:
        """The `redis_version` of each server this store talks to (one, or a cluster's nodes)."""
        with redis_errors():
            if not self._cluster:
                return [str(self._client.info("server")["redis_version"])]
            # Every node answers: {node name: its INFO}.
            infos = self._client.info("server", target_nodes=RedisCluster.ALL_NODES)
        return [str(info["redis_version"]) for info in infos.values()]

    def get_stream(self, stream_id: str) -> dict[str, Any] | None:
        """The stream's stored attributes and sessions, or None if no event was ever applied."""
        return self.get_streams([stream_id])[0]

    def get_streams(self, stream_ids: list[str]) -> list[dict[str, Any] | None]:
        """Several streams in one round trip, in the order asked (None for unknown ids)."""
        with redis_errors():
            pipe = self._client.pipeline(transaction=False)
            for sid in stream_ids:
                pipe.hgetall(self.keys.stream(sid))
                pipe.hvals(self.keys.sessions(sid))
            raw = pipe.execute()
        streams: list[dict[str, Any] | None] = []
        for i, sid in enumerate(stream_ids):
            fields, sessions = raw[2 * i], raw[2 * i + 1]
            streams.append(_decode_stream(sid, fields, sessions) if fields else None)
        return streams

    def stream_events(self, stream_id: str, limit: int) -> list[dict[str, Any]]:
        """The newest `limit` events of the stream's timeline, newest createdAt first."""
        return self.stream_event_page(stream_id, limit, None)[0]

    def stream_event_page(
        self, stream_id: str, limit: int, cursor: Cursor | None
    ) -> tuple[list[dict[str, Any]], Cursor | None]:
        """A page of the stream's timeline, newest createdAt first."""
        with redis_errors():
            page, after = self._page(self.keys.timeline(stream_id), limit, cursor)
            if not page:
                return [], None
            ids = [member for member, _ in page]
            records = self._client.hmget(self.keys.stream_events(stream_id), ids)
        return [json.loads(r) for r in records if r is not None], after

    def list_streams(
        self, state: StateFilter, limit: int, cursor: Cursor | None
    ) -> tuple[list[dict[str, Any]], Cursor | None]:
        """A page of streams, most recent last_event_at first, from the index (no SCAN)."""
        with redis_errors():
            page, after = self._page(self.keys.streams(state), limit, cursor)
        streams = [s for s in self.get_streams([member for member, _ in page]) if s]
        return streams, after

    def list_events(
        self, limit: int, cursor: Cursor | None
    ) -> tuple[list[dict[str, Any]], Cursor | None]:
        """A page of the global timeline, newest createdAt first."""
        with redis_errors():
            page, after = self._page(self.keys.events, limit, cursor)
            if not page:
                return [], None
            records = self._client.hmget(self.keys.event_data, [member for member, _ in page])
        return [json.loads(r) for r in records if r is not None], after

    def _page(
        self, key: str, limit: int, cursor: Cursor | None
    ) -> tuple[list[tuple[str, int]], Cursor | None]:
        """Keyset pagination over a zset in (score desc, member desc) order.

        Members tied with the cursor's score are skipped up to and including its member; ties
        are rare (same millisecond), so this is almost always one ZRANGE.
        """
        top: str = "+inf" if cursor is None else str(cursor.score)
        batch = limit + 1
        offset = 0
        page: list[tuple[str, int]] = []
        while len(page) <= limit:
            rows = self._client.zrevrangebyscore(
                key, top, "-inf", start=offset, num=batch, withscores=True
            )
            for raw_member, raw_score in rows:
                member, score = raw_member.decode(), int(raw_score)
                if cursor and score == cursor.score and member >= cursor.member:
                    continue
                page.append((member, score))
            if len(rows) < batch:
                break
            offset += batch
        has_more = len(page) > limit
        page = page[:limit]
        after = Cursor(page[-1][1], page[-1][0]) if has_more and page else None
        return page, after

    def delivery_stats(self, now_ms: int) -> tuple[dict[str, int], dict[str, int], int | None]:
        """Rejections by reason over the last hour, newest rejection per reason, last accepted."""
        minute = now_ms // 60_000
        with redis_errors():
            pipe = self._client.pipeline(transaction=False)
            for m in range(minute - REJECTION_WINDOW_MINUTES + 1, minute + 1):
                pipe.hgetall(self.keys.rejections(m))
            pipe.hgetall(self.keys.delivery_times)
            *buckets, times = pipe.execute()
        counts: dict[str, int] = {}
        for bucket in buckets:
            for reason, count in bucket.items():
                counts[reason.decode()] = counts.get(reason.decode(), 0) + int(count)
        last_rejected = {
            key.decode().removeprefix("rejected:"): int(value)
            for key, value in times.items()
            if key.startswith(b"rejected:")
            and now_ms - int(value) <= REJECTION_WINDOW_MINUTES * 60_000
        }
        accepted = times.get(b"accepted")
        return counts, last_rejected, int(accepted) if accepted else None

    def asset_outcomes(self, asset_ids: list[str]) -> dict[str, str]:
        """asset id -> the event that failed it (asset.failed / task.failed), for known ids."""
        if not asset_ids:
            return {}
        with redis_errors():
            values = self._client.mget([self.keys.asset_outcome(a) for a in asset_ids])
        return {a: v.decode() for a, v in zip(asset_ids, values, strict=True) if v is not None}

    def count_active(self) -> int:
        """How many streams are live now, from the index (O(1))."""
        with redis_errors():
            return int(self._client.zcard(self.keys.streams("active")))


def _load(value: bytes | None) -> Any:
    return json.loads(value) if value is not None else None


def _int(value: bytes | None) -> int | None:
    return int(value) if value is not None else None


def _decode_stream(
    stream_id: str, fields: dict[bytes, bytes], sessions: list[bytes]
) -> dict[str, Any]:
    """Turn the stored hash into the Stream shape (times stay in ms; the API formats them)."""
    get = fields.get
    decoded_sessions = sorted(
        (json.loads(s) for s in sessions),
        key=lambda s: (s.get("created_at") or s.get("updated_at") or 0, s.get("id", "")),
        reverse=True,
    )
    return {
        "id": stream_id,
        "name": _load(get(b"name")),
        "playback_id": _load(get(b"playback_id")),
        "state": (get(b"state") or b"idle").decode(),
        "last_event": (get(b"last_event") or b"").decode() or None,
        "last_event_at": _int(get(b"last_event_at")),
        "last_started_at": _int(get(b"last_started_at")),
        "last_idle_at": _int(get(b"last_idle_at")),
        "record": _load(get(b"record")),
        "suspended": _load(get(b"suspended")),
        "playback_policy": _load(get(b"playback_policy")),
        "playback_policy_webhook_id": _load(get(b"playback_policy_webhook_id")),
        "playback_allowed_origins": _load(get(b"playback_allowed_origins")),
        "created_at": _load(get(b"created_at")),
        "first_received_at": _int(get(b"first_received_at")),
        "last_received_at": _int(get(b"last_received_at")),
        "sessions": decoded_sessions,
    }
