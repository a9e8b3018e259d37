"""Redis: apply events atomically and read stream state, timelines and indexes back.

The only module that speaks Redis. Key layout (every key starts with the configured prefix):

    {p}:{<stream id>}:stream       hash   stream attributes, state, version
    {p}:{<stream id>}:timeline     zset   event id by createdAt (bounded)
    {p}:{<stream id>}:events       hash   event id -> record JSON (same ids as the timeline)
    {p}:{<stream id>}:sessions     hash   session id -> session JSON (bounded)
    {p}:{<stream id>}:seen:<event> string dedupe claim, expires after CLAIM_TTL_SECONDS
    {p}:{~global}:streams          zset   stream id by last_event_at (also :active, :idle)
    {p}:{~global}:versions         hash   stream id -> stream version last indexed
    {p}:{~global}:events           zset   event id by createdAt, all streams and assets (bounded)
    {p}:{~global}:event-data       hash   event id -> record JSON
    {p}:{~global}:seen:<event>     string dedupe claim of an event that has no stream
    {p}:{~global}:delivery-times   hash   "accepted" and "rejected:<reason>" -> newest time (ms)
    {p}:{~global}:rejections:<min> hash   reason -> count in that minute; expires after 65 min
    {p}:{~global}:asset-failed:<a> string event that failed asset <a> (a recording's asset id is
                                          its session id); expires with the stream retention
    {p}:{~global}:reconcile:<hook> hash   event id -> log id reconcile had Livepeer resend to
                                          webhook <hook>; expires RECONCILE_TTL_SECONDS after
                                          the last resend (lets an interrupted run resume)
    {p}:{~global}:lock:<name>      string SET NX EX throttle: one retention sweep per interval
    {p}:{~global}:auth-fail:<c>    string wrong /api credentials from client <c> (an IPv4
                                          address, an IPv6 /64 or "unknown") in a window that
                                          starts at the first and expires with the key

Streams with no event for STREAM_RETENTION_DAYS are forgotten (`forget_stale_streams`): their
four keys and index entries go; their claims expire by themselves.

Keys of one stream share a hash tag, so one Lua script applies an event on a Redis Cluster.
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.commands.core import Script
from redis.exceptions import RedisClusterException
from redis.retry import Retry

from webhook_service.config import Settings
from webhook_service.ingest.stream_update import StreamUpdate
from webhook_service.store.cursor import Cursor
from webhook_service.store.scripts import (
    APPLY_AND_INDEX_STREAM_EVENT,
    APPLY_GLOBAL_EVENT,
    APPLY_STREAM_EVENT,
    FORGET_STREAM,
    FORGET_STREAM_INDEX,
    INDEX_STREAM_EVENT,
)

logger = logging.getLogger(__name__)
# Livepeer retries for ~24 h and operators may resend from its log later still.
CLAIM_TTL_SECONDS = 3 * 24 * 3600
TIMELINE_MAX = 100
SESSIONS_MAX = 20
GLOBAL_EVENTS_MAX = 10_000
# How long an asset failure is remembered for the recording diagnosis.
ASSET_FAILURE_TTL_SECONDS = 30 * 24 * 3600
# Rejections are counted in one-minute buckets; the window is the last hour.
REJECTION_WINDOW_MINUTES = 60
_BUCKET_TTL_SECONDS = (REJECTION_WINDOW_MINUTES + 5) * 60
# A reconcile checkpoint outlives a weekend: long enough to resume, short enough to stay small.
RECONCILE_TTL_SECONDS = 7 * 24 * 3600
_APPLIED_BATCH = 500  # candidates per pipeline when asking which event ids were applied
StateFilter = Literal["active", "idle"] | None
_STREAM_PARTS = ("stream", "timeline", "events", "sessions")  # what retention deletes


class StorageError(Exception):
    """Raised when Redis is unreachable, too slow, or refuses a command."""


@dataclass(frozen=True)
class ApplyResult:
    """What applying a delivery did: `duplicate` is true when the event id was seen before."""

    duplicate: bool


class _Utf8:
    @staticmethod
    def encode(value: str) -> bytes:
        return value.encode("utf-8")


class ClusterOnDemand:
    """A RedisCluster client made when a node first answers, so a worker boots without one.

    RedisCluster loads the slot map when it is made and raises if no node answers; raised in a
    gunicorn worker's boot, that halts the whole server. Until a node answers, every call
    raises RedisClusterException (a 503, as in any outage); one attempt a second is made, so
    requests in between fail at once instead of each waiting for the connect timeout.
    """

    RETRY_SECONDS = 1.0

    def __init__(self, url: str, options: dict[str, Any]) -> None:
        self._url = url
        self._options = options
        self._client: RedisCluster | None = None
        self._lock = threading.Lock()
        self._failed_at = float("-inf")
        try:
            self._connected()
        except (RedisClusterException, redis.RedisError, OSError) as error:
            logger.warning(
                "no Redis Cluster node answers yet (%s): trying on use, at most once a second",
                type(error).__name__,
            )

    def _connected(self) -> RedisCluster:
        client = self._client
        if client is not None:
            return client
        with self._lock:
            if self._client is None:
                if time.monotonic() - self._failed_at < self.RETRY_SECONDS:
                    raise RedisClusterException("no Redis Cluster node answered a moment ago")
                try:
                    self._client = RedisCluster.from_url(self._url, **self._options)
                except Exception:
                    self._failed_at = time.monotonic()
                    raise
            return self._client

    def register_script(self, script: str) -> Script:
        """A script whose SHA is known before any node answers (it is hashed here)."""
        return Script(self, script)  # type: ignore[arg-type]

    def get_encoder(self) -> Any:
        """What Script hashes its text with: the client's encoder, or before there is a
        client, RedisCluster's default (UTF-8)."""
        client: Any = self._client
        return client.get_encoder() if client is not None else _Utf8()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connected(), name)


def connect(settings: Settings) -> redis.Redis | ClusterOnDemand:
    """Build a Redis client from settings: short timeouts, one retry on a dropped connection."""
    if settings.redis_url is None:
        raise StorageError("no REDIS_URL: start the service with `livepeer-webhooks serve`")
    options: dict[str, Any] = {
        "socket_timeout": settings.redis_timeout_seconds,
        "socket_connect_timeout": settings.redis_timeout_seconds,
        # One immediate retry heals a pooled connection that Redis closed (restart, idle
        # timeout). Re-running a script is safe: a repeated apply is detected as a duplicate.
        "retry": Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
        "health_check_interval": 30,
    }
    if settings.redis_url.startswith("rediss://"):
        options["ssl_cert_reqs"] = settings.redis_ssl_cert_reqs
    if settings.redis_cluster:
        options.pop("health_check_interval")
        return ClusterOnDemand(settings.redis_url, options)
    return redis.Redis.from_url(settings.redis_url, **options)


@contextmanager
def _redis_errors() -> Iterator[None]:
    try:
        yield
    except (redis.RedisError, RedisClusterException, OSError) as error:
        # RedisClusterException is no RedisError: raised when no cluster node answers.
        # The message can name a host but never carries the URL's password.
        if _certificate_rejected(error):
            raise StorageError(
                "Redis TLS certificate verification failed (self-signed?): "
                "set REDIS_SSL_CERT_REQS=none for Heroku Redis"
            ) from error
        raise StorageError(f"Redis failed: {type(error).__name__}") from error


def _certificate_rejected(error: BaseException) -> bool:
    """True when the TLS handshake failed on the server's certificate (redis-py wraps the
    ssl error in a ConnectionError, so look down the chain and at the OpenSSL reason)."""
    cause: BaseException | None = error
    for _ in range(5):
        if cause is None:
            break
        if isinstance(cause, ssl.SSLCertVerificationError):
            return True
        cause = cause.__cause__ or cause.__context__
    return "CERTIFICATE_VERIFY_FAILED" in str(error)


class Store:
    """Stream state, timelines and indexes in Redis, behind the key layout in the module doc."""

    def __init__(
        self, client: redis.Redis | RedisCluster | ClusterOnDemand, prefix: str = "lp"
    ) -> None:
        # Any: redis-py's return types are unions over decode_responses and cluster mode.
        self._client: Any = client
        self._prefix = prefix
        self._cluster = isinstance(client, RedisCluster | ClusterOnDemand)
        self._apply_and_index = client.register_script(APPLY_AND_INDEX_STREAM_EVENT)
        self._apply_stream = client.register_script(APPLY_STREAM_EVENT)  # cluster
        self._index_stream = client.register_script(INDEX_STREAM_EVENT)  # cluster
        self._apply_global = client.register_script(APPLY_GLOBAL_EVENT)
        self._forget_stream = client.register_script(FORGET_STREAM)
        self._forget_index = client.register_script(FORGET_STREAM_INDEX)
        self._index_keys = [
            self.global_key(part)
            for part in (
                "streams",
                "streams:active",
                "streams:idle",
                "versions",
                "events",
                "event-data",
                "delivery-times",
            )
        ]

    # Keys --------------------------------------------------------------------------------
    def stream_key(self, stream_id: str, part: str) -> str:
        return f"{self._prefix}:{{{stream_id}}}:{part}"

    def global_key(self, part: str) -> str:
        return f"{self._prefix}:{{~global}}:{part}"

    def _global_index_keys(self) -> list[str]:
        """The keys of the global index step, in its KEYS order (made once: every event
        passes them)."""
        return self._index_keys

    # Writes ------------------------------------------------------------------------------
    def apply(self, update: StreamUpdate) -> ApplyResult:
        """Apply an event to its stream and the indexes (one script on a single Redis)."""
        with _redis_errors():
            if update.stream_id is None:
                keys = [
                    self.global_key("events"),
                    self.global_key("event-data"),
                    self.global_key(f"seen:{update.event_id}"),
                    self.global_key("delivery-times"),
                ]
                if update.failed_asset_id:
                    keys.append(self.global_key(f"asset-failed:{update.failed_asset_id}"))
                args = [*self._global_args(update), CLAIM_TTL_SECONDS, update.event]
                duplicate = self._apply_global(keys=keys, args=[*args, ASSET_FAILURE_TTL_SECONDS])
                return ApplyResult(duplicate=bool(duplicate))
            if self._cluster:
                return self._apply_cluster(update)
            return self._apply_single(update)

    def _stream_args(self, update: StreamUpdate) -> tuple[list[str], list[Any]]:
        sid = update.stream_id
        assert sid is not None
        keys = [
            self.stream_key(sid, "stream"),
            self.stream_key(sid, "timeline"),
            self.stream_key(sid, "events"),
            self.stream_key(sid, f"seen:{update.event_id}"),
            self.stream_key(sid, "sessions"),
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

    def _apply_single(self, update: StreamUpdate) -> ApplyResult:
        """One round trip: a single script applies the event to its stream and the indexes."""
        keys, args = self._stream_args(update)
        answer = self._apply_and_index(keys=[*keys, *self._global_index_keys()], args=args)
        return ApplyResult(duplicate=bool(answer[0]))

    def _run_pipelined(self, *calls: tuple[Any, list[str], list[Any]]) -> list[Any]:
        """EVALSHA the scripts in one pipeline; load them and retry once if Redis lost them.

        redis-py's own pipeline script support asks SCRIPT EXISTS first: a second round trip.
        """
        for attempt in range(2):
            pipe = self._client.pipeline(transaction=False)
            for script, keys, args in calls:
                pipe.evalsha(script.sha, len(keys), *keys, *args)
            results = pipe.execute(raise_on_error=False)
            errors = [r for r in results if isinstance(r, Exception)]
            if not errors:
                return list(results)
            if attempt == 0 and all(isinstance(e, redis.exceptions.NoScriptError) for e in errors):
                for script, _, _ in calls:
                    self._client.script_load(script.script)
                continue
            raise errors[0]
        raise AssertionError("unreachable")

    def _apply_cluster(self, update: StreamUpdate) -> ApplyResult:
        """Two round trips: the stream's slot, then the global slot with what the first gave."""
        keys, args = self._stream_args(update)
        duplicate, version, state, last_at = self._apply_stream(keys=keys, args=args)
        index_args = [*self._global_args(update), update.stream_id or "", version, state, last_at]
        self._index_stream(keys=self._global_index_keys(), args=index_args)
        return ApplyResult(duplicate=bool(duplicate))

    def record_rejection(self, reason: str, now_ms: int) -> None:
        """Count a rejected delivery by reason in this minute's bucket (one round trip)."""
        bucket = self.global_key(f"rejections:{now_ms // 60_000}")
        with _redis_errors():
            pipe = self._client.pipeline(transaction=False)
            pipe.hincrby(bucket, reason, 1)
            pipe.expire(bucket, _BUCKET_TTL_SECONDS)
            pipe.hset(self.global_key("delivery-times"), f"rejected:{reason}", now_ms)
            pipe.execute()

    def delivery_stats(self, now_ms: int) -> tuple[dict[str, int], dict[str, int], int | None]:
        """Rejections by reason over the last hour, newest rejection per reason, last accepted."""
        minute = now_ms // 60_000
        with _redis_errors():
            pipe = self._client.pipeline(transaction=False)
            for m in range(minute - REJECTION_WINDOW_MINUTES + 1, minute + 1):
                pipe.hgetall(self.global_key(f"rejections:{m}"))
            pipe.hgetall(self.global_key("delivery-times"))
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

    def failed_assets(self, asset_ids: list[str]) -> dict[str, str]:
        """asset id -> the event that failed it (asset.failed / task.failed), for known ids."""
        if not asset_ids:
            return {}
        with _redis_errors():
            values = self._client.mget([self.global_key(f"asset-failed:{a}") for a in asset_ids])
        return {a: v.decode() for a, v in zip(asset_ids, values, strict=True) if v is not None}

    def count_active(self) -> int:
        """How many streams are live now, from the index (O(1))."""
        with _redis_errors():
            return int(self._client.zcard(self.global_key("streams:active")))

    # Failed authentication ---------------------------------------------------------------
    def auth_failures(self, client: str) -> tuple[int, int]:
        """(wrong /api credentials from `client` in its current window, seconds it has left)."""
        key = self.global_key(f"auth-fail:{client}")
        with _redis_errors():
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
        key = self.global_key(f"auth-fail:{client}")
        with _redis_errors():
            pipe = self._client.pipeline(transaction=False)
            pipe.set(key, 0, ex=window_s, nx=True)
            pipe.incr(key)
            pipe.ttl(key)
            _, count, ttl = pipe.execute()
            if ttl < 0:  # it expired between SET and INCR, and INCR made it without expiry
                self._client.expire(key, window_s)
        return int(count)

    # Reads -------------------------------------------------------------------------------
    def ping(self) -> bool:
        """True when Redis answers."""
        with _redis_errors():
            return bool(self._client.ping())

    def get_stream(self, stream_id: str) -> dict[str, Any] | None:
        """The stream's stored attributes and sessions, or None if no event was ever applied."""
        return self.get_streams([stream_id])[0]

    def get_streams(self, stream_ids: list[str]) -> list[dict[str, Any] | None]:
        with _redis_errors():
            pipe = self._client.pipeline(transaction=False)
            for sid in stream_ids:
                pipe.hgetall(self.stream_key(sid, "stream"))
                pipe.hvals(self.stream_key(sid, "sessions"))
            raw = pipe.execute()
        streams: list[dict[str, Any] | None] = []
        for i, sid in enumerate(stream_ids):
            fields, sessions = raw[2 * i], raw[2 * i + 1]
            streams.append(_decode_stream(sid, fields, sessions) if fields else None)
        return streams

    def stream_events(self, stream_id: str, limit: int) -> list[dict[str, Any]]:
        """The stream's timeline, newest createdAt first."""
        with _redis_errors():
            ids = self._client.zrevrange(self.stream_key(stream_id, "timeline"), 0, limit - 1)
            if not ids:
                return []
            records = self._client.hmget(self.stream_key(stream_id, "events"), ids)
        return [json.loads(r) for r in records if r is not None]

    def list_streams(
        self, state: StateFilter, limit: int, cursor: Cursor | None
    ) -> tuple[list[dict[str, Any]], Cursor | None]:
        """A page of streams, most recent last_event_at first, from the index (no SCAN)."""
        index = self.global_key(f"streams:{state}" if state else "streams")
        with _redis_errors():
            page, after = self._page(index, limit, cursor)
        streams = [s for s in self.get_streams([member for member, _ in page]) if s]
        return streams, after

    def list_events(
        self, limit: int, cursor: Cursor | None
    ) -> tuple[list[dict[str, Any]], Cursor | None]:
        """A page of the global timeline, newest createdAt first."""
        with _redis_errors():
            page, after = self._page(self.global_key("events"), limit, cursor)
            if not page:
                return [], None
            records = self._client.hmget(
                self.global_key("event-data"), [member for member, _ in page]
            )
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

    # Reconcile and retention -------------------------------------------------------------
    def applied_event_ids(self, candidates: Sequence[tuple[str, str | None]]) -> set[str]:
        """The event ids among (event id, stream id or None) pairs that were applied here.

        Applied means a live dedupe claim (3 days) or a record still in the stream's timeline
        or the global one; the stream's keys are asked only when its id is known. Every
        command names one key, so this is one pipelined round trip on a Cluster too.
        """
        applied: set[str] = set()
        for start in range(0, len(candidates), _APPLIED_BATCH):
            batch = candidates[start : start + _APPLIED_BATCH]
            with _redis_errors():
                pipe = self._client.pipeline(transaction=False)
                for event_id, stream_id in batch:
                    pipe.exists(self.global_key(f"seen:{event_id}"))
                    pipe.hexists(self.global_key("event-data"), event_id)
                    if stream_id:
                        pipe.exists(self.stream_key(stream_id, f"seen:{event_id}"))
                        pipe.hexists(self.stream_key(stream_id, "events"), event_id)
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
        with _redis_errors():
            found = self._client.hmget(self.global_key(f"reconcile:{webhook_id}"), event_ids)
        return {eid for eid, log_id in zip(event_ids, found, strict=True) if log_id is not None}

    def mark_resent(self, webhook_id: str, event_id: str, log_id: str) -> None:
        """Note a resend in the webhook's reconcile checkpoint (one round trip)."""
        key = self.global_key(f"reconcile:{webhook_id}")
        with _redis_errors():
            pipe = self._client.pipeline(transaction=False)
            pipe.hset(key, event_id, log_id)
            pipe.expire(key, RECONCILE_TTL_SECONDS)
            pipe.execute()

    def try_lock(self, name: str, seconds: int) -> bool:
        """Take the named lock unless someone holds it; it is never released, only expires."""
        with _redis_errors():
            return bool(self._client.set(self.global_key(f"lock:{name}"), "1", nx=True, ex=seconds))

    def forget_stale_streams(self, cutoff_ms: int, limit: int) -> int:
        """Forget up to `limit` streams whose newest event is at or before `cutoff_ms`.

        Bounded work, no SCAN: the oldest entries of the `streams` index (scored by
        last_event_at), then per stream its keys (its own slot), then the index entries (the
        global slot). Each step re-checks the time, so a stream that got an event meanwhile
        stays. Keys go before index entries: a crash in between leaves index entries that the
        next sweep finds again, never keys that no sweep could find.
        """
        with _redis_errors():
            raw = self._client.zrangebyscore(
                self.global_key("streams"), "-inf", cutoff_ms, start=0, num=limit
            )
            ids = [member.decode() for member in raw]
            if not ids:
                return 0
            calls = [
                (
                    self._forget_stream,
                    [self.stream_key(sid, part) for part in _STREAM_PARTS],
                    [cutoff_ms],
                )
                for sid in ids
            ]
            if self._cluster:  # one slot per stream: a script each
                lasts = [script(keys=keys, args=args) for script, keys, args in calls]
            else:
                lasts = self._run_pipelined(*calls)
            pairs: list[Any] = []
            for sid, last in zip(ids, lasts, strict=True):
                pairs.extend((sid, last or "0"))  # 0: the stream's keys are gone
            index = ("streams", "streams:active", "streams:idle", "versions")
            keys = [self.global_key(part) for part in index]
            removed = self._forget_index(keys=keys, args=[cutoff_ms, *pairs])
        return int(removed)


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
        "created_at": _load(get(b"created_at")),
        "first_received_at": _int(get(b"first_received_at")),
        "last_received_at": _int(get(b"last_received_at")),
        "sessions": decoded_sessions,
    }
