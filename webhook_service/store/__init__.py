"""The only code that speaks Redis: applying events, reading state, bookkeeping.

The key layout is in `store.keys`, the Lua scripts in `store.scripts`. A Store takes its client
as an argument (`connect(settings)` builds one); every Redis failure surfaces as StorageError.
"""

from __future__ import annotations

import svcs

from webhook_service.config import Settings
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
from webhook_service.store.deliveries import DeliveryLog, LoggedDelivery
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
    "LoggedDelivery",
    "StateFilter",
    "StorageError",
    "Store",
    "close",
    "connect",
    "register",
]


class Store(Apply, Reads, DeliveryLog, Maintenance):
    """Stream state, timelines, indexes and counters in Redis (key layout: store.keys)."""

    def close(self) -> None:
        """Close the client's connections (the app closes its store on shutdown)."""
        close(self._client)


def _require_answer(store: Store) -> None:
    """The readiness ping: raises StorageError unless Redis answers."""
    if not store.ping():
        raise StorageError("Redis did not answer PING")


def register(registry: svcs.Registry, settings: Settings, store: Store | None = None) -> Store:
    """Register the app's Store (`store`, else one on REDIS_URL): pinged for readiness,
    closed with the registry."""
    store = store or Store(connect(settings), settings.redis_key_prefix)
    registry.register_value(Store, store, ping=_require_answer, on_registry_close=store.close)
    return store
