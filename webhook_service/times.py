"""Time as the service handles it (pure but for `now_ms`): epoch milliseconds, shown as ISO 8601."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now_ms() -> int:
    """The wall clock in milliseconds since the epoch (Livepeer's unit)."""
    return time.time_ns() // 1_000_000


def iso_from_ms(ms: float | None) -> str | None:
    """Milliseconds since the epoch as ISO-8601 UTC with millisecond precision (`...Z`).

    None for None and for a time no calendar date holds: a delivery or an API answer may carry
    any number (a stream's `createdAt`, a token's `exp`), and one such value must not fail a read.
    """
    if ms is None or isinstance(ms, bool):
        return None
    try:
        moment = datetime.fromtimestamp(round(ms) / 1000, tz=UTC)
    except (OverflowError, ValueError, OSError):
        return None
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
