"""Redis work per accepted event (INFO commandstats / stats deltas) and memory per stream.

Round trips: Redis counts every read event on a client socket (`total_reads_processed`); a
pipeline that redis-py writes in one `sendall` arrives as one read, so reads per accepted event
is the number of round trips per event (a value a little above 1 means a pipeline was split
across TCP segments, not a second round trip). `total_commands_processed` counts top-level
commands only (the EVALSHAs); `cmdstat_*` also counts the commands the scripts run, which is
the "bounded number of commands" the issue asks for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis

_STATS = ("total_commands_processed", "total_reads_processed", "total_writes_processed")
# Commands issued by scripts (they appear in commandstats, not in total_commands_processed).
TOP_LEVEL = ("evalsha", "eval")


@dataclass
class RedisSnapshot:
    commands: dict[str, int]
    stats: dict[str, int]


def reset(client: redis.Redis) -> None:
    client.config_resetstat()


def snapshot(client: redis.Redis) -> RedisSnapshot:
    raw = client.info("commandstats")
    commands = {
        name.removeprefix("cmdstat_"): int(value["calls"])
        for name, value in raw.items()
        if isinstance(value, dict)
    }
    stats = client.info("stats")
    return RedisSnapshot(commands, {k: int(stats[k]) for k in _STATS})


def per_event(before: RedisSnapshot, after: RedisSnapshot, events: int) -> dict[str, Any]:
    """Calls per accepted event by command, top-level commands and round trips per event."""
    # This harness's own INFO / CONFIG calls are not the service's work.
    own = {"info", "config|resetstat", "config", "ping", "hello", "client|setinfo"}
    calls = {
        name: after.commands.get(name, 0) - before.commands.get(name, 0)
        for name in after.commands
        if name not in own
    }
    calls = {k: v for k, v in calls.items() if v > 0}
    top = sum(v for k, v in calls.items() if k in TOP_LEVEL)
    own_commands = 2  # the INFO calls of `after` issued before its stats were read
    delta = {k: after.stats[k] - before.stats[k] for k in _STATS}
    n = max(events, 1)
    return {
        "events": events,
        "by_command": {k: round(v / n, 3) for k, v in sorted(calls.items(), key=lambda x: -x[1])},
        "script_commands_per_event": round(
            sum(v for k, v in calls.items() if k not in TOP_LEVEL) / n, 2
        ),
        "top_level_commands_per_event": round(top / n, 3),
        "commands_processed_per_event": round(
            (delta["total_commands_processed"] - own_commands) / n, 3
        ),
        "round_trips_per_event": round((delta["total_reads_processed"] - own_commands) / n, 3),
    }


def memory_of(client: redis.Redis, keys: list[bytes | str]) -> int:
    """Exact MEMORY USAGE (all elements sampled) summed over keys."""
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.memory_usage(key, samples=0)
    return sum(x or 0 for x in pipe.execute())


def stream_memory(client: redis.Redis, prefix: str, stream_id: str) -> dict[str, int]:
    """Bytes of a stream's keys: the bounded ones (hash, timeline, events, sessions) and the
    dedupe claims (one per event id applied in the last CLAIM_TTL_SECONDS)."""
    pattern = f"{prefix}:{{{stream_id}}}:*"
    keys = list(client.scan_iter(match=pattern, count=1000))
    claims = [k for k in keys if b":seen:" in k]
    bounded = [k for k in keys if b":seen:" not in k]
    by_part = {k.decode().rsplit(":", 1)[1]: memory_of(client, [k]) for k in bounded}
    return {
        "bounded_bytes": sum(by_part.values()),
        **{f"{part}_bytes": size for part, size in sorted(by_part.items())},
        "claims": len(claims),
        "claims_bytes": memory_of(client, claims),
    }


def used_memory(client: redis.Redis) -> int:
    return int(client.info("memory")["used_memory"])
