"""The only code that speaks Redis: applying events, reading state, bookkeeping.

The key layout is in `store.keys`, the Lua scripts in `store.scripts`. A Store takes its client
as an argument (`connect(settings)` builds one); every Redis failure surfaces as StorageError.
"""

from __future__ import annotations

from webhook_service.store.apply import (
    ASSET_FAILURE_TTL_SECONDS,
    CLAIM_TTL_SECONDS,
    GLOBAL_EVENTS_MAX,
    SESSIONS_MAX,
    TIMELINE_MAX,
    Apply,
    ApplyResult,
)
from webhook_service.store.connection import StorageError, close, connect
from webhook_service.store.maintenance import RECONCILE_TTL_SECONDS, Maintenance
from webhook_service.store.reads import REJECTION_WINDOW_MINUTES, Reads, StateFilter

__all__ = [
    "ASSET_FAILURE_TTL_SECONDS",
    "CLAIM_TTL_SECONDS",
    "GLOBAL_EVENTS_MAX",
    "RECONCILE_TTL_SECONDS",
    "REJECTION_WINDOW_MINUTES",
    "SESSIONS_MAX",
    "TIMELINE_MAX",
    "ApplyResult",
    "StateFilter",
    "StorageError",
    "Store",
    "close",
    "connect",
]


class Store(Apply, Reads, Maintenance):
    """Stream state, timelines, indexes and counters in Redis (key layout: store.keys)."""

    def close(self) -> None:
        """Close the client's connections (the app closes its store on shutdown)."""
        close(self._client)
