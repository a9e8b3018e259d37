"""Accept one delivery: verify, parse, judge freshness, apply. No HTTP and no Redis here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from webhook_service.config import Secret
from webhook_service.ingest import events, signature
from webhook_service.ingest.events import Delivery
from webhook_service.ingest.stream_update import StreamUpdate, build_update


class ApplyOutcome(Protocol):
    @property
    def duplicate(self) -> bool: ...


class EventSink(Protocol):
    def apply(self, update: StreamUpdate) -> ApplyOutcome: ...


@dataclass(frozen=True)
class Receipt:
    """An applied delivery: the event and whether it had been applied before."""

    delivery: Delivery
    duplicate: bool


class Receiver:
    """Checks a delivery in the contract's order and hands it to the store."""

    def __init__(self, secrets: Sequence[Secret], tolerance_seconds: int, sink: EventSink) -> None:
        self._secrets = tuple(s.reveal() for s in secrets)
        self._tolerance = tolerance_seconds
        self._sink = sink

    def receive(self, body: bytes, header: str | None, now_ms: int) -> Receipt:
        """Verify and apply a delivery; raises the core's errors for every rejection.

        Raises signature.SignatureError, events.EventError, events.FreshnessError, and whatever
        the sink raises when storage fails.
        """
        header_t = signature.verify(body, header, self._secrets)
        delivery = events.parse_delivery(body)
        events.check_freshness(delivery, header_t, now_ms, self._tolerance)
        result = self._sink.apply(build_update(delivery, received_at_ms=now_ms))
        return Receipt(delivery, result.duplicate)
