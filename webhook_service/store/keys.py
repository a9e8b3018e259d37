"""Every Redis key the service uses, built here and nowhere else (pure).

Layout (every key starts with the configured prefix `p`):

    p:{<stream id>}:stream          hash    stream attributes, state, version
    p:{<stream id>}:timeline        zset    event id by createdAt (bounded)
    p:{<stream id>}:events          hash    event id -> record JSON (same ids as the timeline)
    p:{<stream id>}:sessions        hash    session id -> session JSON (bounded)
    p:{<stream id>}:seen:<event>    string  dedupe claim; expires after CLAIM_TTL_SECONDS
    p:{~global}:streams             zset    stream id by last_event_at (also :active, :idle)
    p:{~global}:versions            hash    stream id -> stream version last indexed
    p:{~global}:events              zset    event id by createdAt, all streams and assets (bounded)
    p:{~global}:event-data          hash    event id -> record JSON
    p:{~global}:seen:<event>        string  dedupe claim of an event that has no stream
    p:{~global}:delivery-times      hash    "accepted" and "rejected:<reason>" -> newest time (ms)
    p:{~global}:deliveries          stream  one entry per delivery whose signature verified
                                            (about the last 10,000); field names in
                                            ingest/delivery_log.py
    p:{~global}:deliveries:unverified
                                    stream  the other answered requests to the ingest route
                                            (about the last 2,000): a cap of their own
    p:{~global}:rejections:<minute> hash    reason -> count in that minute; expires after 65 min
    p:{~global}:asset-failed:<a>    string  the latest event that failed or deleted asset <a> (a
                                            recording's asset id is its session id); expires
                                            with the stream retention
    p:{~global}:reconcile:<hook>    hash    event id -> log id reconcile had Livepeer resend to
                                            webhook <hook>; lets an interrupted run resume
    p:{~global}:lock:<name>         string  SET NX EX throttle (one retention sweep per interval)
    p:{~global}:auth-fail:<client>  string  wrong /api credentials from one client (an IPv4
                                            address, an IPv6 /64 or "unknown") in its window

Keys of one stream share a hash tag, so one Lua script applies an event on a Redis Cluster;
global keys share theirs, so each global step is one script too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

GLOBAL_TAG = "~global"


@dataclass(frozen=True)
class Keys:
    """The key names under one prefix; a Store owns one of these."""

    prefix: str
    # The stream indexes (all, active, idle, versions): what retention's index step cleans.
    stream_index: tuple[str, ...] = field(init=False)
    # The global index step's KEYS, in its order: made once, every event passes them.
    index: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        streams = (self.streams(None), self.streams("active"), self.streams("idle"), self.versions)
        object.__setattr__(self, "stream_index", streams)
        index = (*streams, self.events, self.event_data, self.delivery_times, self.deliveries)
        object.__setattr__(self, "index", index)

    # One stream's keys (its own hash slot) ------------------------------------------------
    def _stream(self, stream_id: str, part: str) -> str:
        return f"{self.prefix}:{{{stream_id}}}:{part}"

    def stream(self, stream_id: str) -> str:
        return self._stream(stream_id, "stream")

    def timeline(self, stream_id: str) -> str:
        return self._stream(stream_id, "timeline")

    def stream_events(self, stream_id: str) -> str:
        return self._stream(stream_id, "events")

    def sessions(self, stream_id: str) -> str:
        return self._stream(stream_id, "sessions")

    def stream_claim(self, stream_id: str, event_id: str) -> str:
        return self._stream(stream_id, f"seen:{event_id}")

    def stream_state_keys(self, stream_id: str) -> list[str]:
        """What forgetting a stream deletes (its claims expire by themselves)."""
        return [
            self.stream(stream_id),
            self.timeline(stream_id),
            self.stream_events(stream_id),
            self.sessions(stream_id),
        ]

    # Global keys (the {~global} slot) ------------------------------------------------------
    def _global(self, part: str) -> str:
        return f"{self.prefix}:{{{GLOBAL_TAG}}}:{part}"

    def streams(self, state: str | None) -> str:
        """The stream index by last_event_at: all streams, or those in `state`."""
        return self._global(f"streams:{state}" if state else "streams")

    @property
    def versions(self) -> str:
        return self._global("versions")

    @property
    def events(self) -> str:
        return self._global("events")

    @property
    def event_data(self) -> str:
        return self._global("event-data")

    @property
    def delivery_times(self) -> str:
        return self._global("delivery-times")

    @property
    def deliveries(self) -> str:
        """The delivery log of deliveries whose signature verified."""
        return self._global("deliveries")

    @property
    def unverified_deliveries(self) -> str:
        """The delivery log of everything else answered on the ingest route."""
        return self._global("deliveries:unverified")

    def delivery_log(self, verified: bool) -> str:
        return self.deliveries if verified else self.unverified_deliveries

    def global_claim(self, event_id: str) -> str:
        return self._global(f"seen:{event_id}")

    def rejections(self, minute: int) -> str:
        return self._global(f"rejections:{minute}")

    def asset_outcome(self, asset_id: str) -> str:
        # The key keeps its first name: markers written before asset.deleted was kept still count.
        return self._global(f"asset-failed:{asset_id}")

    def reconcile(self, webhook_id: str) -> str:
        return self._global(f"reconcile:{webhook_id}")

    def lock(self, name: str) -> str:
        return self._global(f"lock:{name}")

    def auth_failures(self, client: str) -> str:
        return self._global(f"auth-fail:{client}")
