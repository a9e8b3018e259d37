"""Is a stream live now, and who says so (pure): the one rule every check uses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from webhook_service.diagnostics.facts import LocalStream
from webhook_service.livepeer.facts import ApiStream

LiveSource = Literal["api", "webhooks"]


@dataclass(frozen=True)
class Liveness:
    """Live or not (None: nobody knows), the source that decided, and when it went live."""

    live: bool | None
    source: LiveSource | None
    since_ms: int | None


def liveness(api_stream: ApiStream | None, local: LocalStream | None) -> Liveness:
    """The API (fresher) wins over this service's webhook records; neither: unknown."""
    since = local.last_started_at_ms if local is not None else None
    if api_stream is not None and api_stream.is_active is not None:
        return Liveness(api_stream.is_active, "api", since)
    if local is not None:
        return Liveness(local.state == "active", "webhooks", since)
    return Liveness(None, None, since)
