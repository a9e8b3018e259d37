"""Is a stream live now, and who says so (pure): the one rule every check uses.

Livepeer calls a stream active while media arrives; its clean-up job closes a stream whose
`lastSeen` is older than ACTIVE_TIMEOUT (stream.ts, shouldCleanUpIsActive). Until it runs the
API may still say `isActive`: such a stream is not live, in every check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from webhook_service.diagnostics.facts import LocalStream
from webhook_service.livepeer.facts import ApiStream

LiveSource = Literal["api", "webhooks"]
ACTIVE_TIMEOUT_MS = 90_000  # stream.ts ACTIVE_TIMEOUT


@dataclass(frozen=True)
class Liveness:
    """Live or not (None: nobody knows), the source that decided, and when it went live."""

    live: bool | None
    source: LiveSource | None
    since_ms: int | None
    # The API says active, but its lastSeen is older than ACTIVE_TIMEOUT: no media arrives,
    # and the session stays open until Livepeer's clean-up closes it.
    stuck: bool = False
    last_seen_ms: int | None = None


def liveness(api_stream: ApiStream | None, local: LocalStream | None, now_ms: int) -> Liveness:
    """The API (fresher) wins over this service's webhook records; neither: unknown."""
    since = local.last_started_at_ms if local is not None else None
    if api_stream is not None and api_stream.is_active is not None:
        seen = api_stream.last_seen_ms
        stuck = bool(
            api_stream.is_active and seen is not None and now_ms - seen > ACTIVE_TIMEOUT_MS
        )
        return Liveness(api_stream.is_active and not stuck, "api", since, stuck, seen)
    if local is not None:
        return Liveness(local.state == "active", "webhooks", since)
    return Liveness(None, None, since)
