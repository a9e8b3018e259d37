"""Accept one delivery: verify, parse, judge freshness, apply. No HTTP and no Redis here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from webhook_service.config import Secret
from webhook_service.ingest import events, signature
from webhook_service.ingest.delivery_log import UNKNOWN_ORIGIN, DeliveryEntry, Origin
from webhook_service.ingest.events import Delivery, EventError, FreshnessError
from webhook_service.ingest.signature import SignatureError
from webhook_service.ingest.stream_update import StreamUpdate, build_update

RejectedOutcome = Literal["bad_signature", "stale", "malformed"]
# Why a signature was refused, as the `webhooks` diagnosis counts it.
SIGNATURE_REASONS = {
    "missing": "missing_signature",
    "malformed": "malformed_signature",
    "mismatch": "signature_mismatch",
}


class DeliveryRejected(Exception):
    """Raised for a delivery the contract refuses (Livepeer gives up on it): why, in the words
    of the metrics (`outcome`), the `webhooks` diagnosis (`reason`) and a person (`detail`)."""

    def __init__(
        self,
        outcome: RejectedOutcome,
        reason: str,
        detail: str,
        event_label: str = "unknown",
        delivery: Delivery | None = None,
    ) -> None:
        super().__init__(detail)
        self.outcome: RejectedOutcome = outcome
        self.reason = reason
        self.detail = detail
        self.event_label = event_label  # the event's metric label, once it was verified
        self.delivery = delivery  # the parsed delivery, when it verified and parsed

    def log_entry(self, origin: Origin) -> DeliveryEntry:
        """The delivery log's entry for this refusal (the event only once it verified)."""
        delivery = self.delivery
        return DeliveryEntry(
            self.outcome,
            origin.request_id,
            origin.remote_addr,
            self.reason,
            self.detail,
            delivery.id if delivery else None,
            delivery.event if delivery else None,
            delivery.stream_id if delivery else None,
            verified=self.outcome != "bad_signature",
        )


class ApplyOutcome(Protocol):
    @property
    def duplicate(self) -> bool: ...


class EventSink(Protocol):
    def apply(self, update: StreamUpdate) -> ApplyOutcome:
        """Store the update. Raises EventError when its input cannot be stored (nothing is
        written then), anything else when storage fails."""
        ...


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

    def receive(
        self, body: bytes, header: str | None, now_ms: int, origin: Origin = UNKNOWN_ORIGIN
    ) -> Receipt:
        """Verify and apply a delivery; `origin` goes into its delivery log entry.

        Raises DeliveryRejected for every refusal, and whatever the sink raises when storage
        fails (the store's StorageError).
        """
        try:
            header_t = signature.verify(body, header, self._secrets)
        except SignatureError as error:
            reason = SIGNATURE_REASONS[error.reason]
            raise DeliveryRejected("bad_signature", reason, error.detail) from None
        try:
            delivery = events.parse_delivery(body)
        except EventError as error:
            raise DeliveryRejected("malformed", "malformed", str(error)) from None
        try:
            events.check_freshness(delivery, header_t, now_ms, self._tolerance)
        except FreshnessError as error:
            reason = "stale" if error.reason == "stale" else "timestamp_mismatch"
            raise DeliveryRejected(
                error.reason, reason, error.detail, error.event, delivery
            ) from None
        try:
            result = self._sink.apply(build_update(delivery, now_ms, origin))
        except EventError as error:  # the store refused the input, having written nothing
            label = delivery.metric_name
            raise DeliveryRejected("malformed", "malformed", str(error), label, delivery) from None
        return Receipt(delivery, result.duplicate)
