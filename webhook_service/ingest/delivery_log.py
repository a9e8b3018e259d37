"""The delivery log (pure): one entry per answered delivery, rejected ones included, as the
store keeps it and `GET /api/deliveries` shows it. Never a body, a header value or a secret."""

from __future__ import annotations

import re
from dataclasses import dataclass

# What happened to a request on the ingest route: the `outcome` of livepeer_webhooks_total.
INGEST_OUTCOMES = (
    "accepted",
    "duplicate",
    "bad_signature",
    "stale",
    "malformed",
    "too_large",
    "storage_error",
)
# The `outcome` filter: any of those (`storage_error` lists nothing: Redis is what failed), or a
# request with another method than POST.
FILTER_OUTCOMES = (*INGEST_OUTCOMES, "wrong_method")
# Which log holds an outcome. A delivery whose signature verified goes to the verified log;
# the rest (anyone can send them) to one with a smaller cap of its own, so junk cannot push
# verified deliveries out. A `malformed` body can be either: signed and unparsable, or unread.
VERIFIED_ONLY = frozenset({"accepted", "duplicate", "stale"})
UNVERIFIED_ONLY = frozenset({"bad_signature", "too_large", "wrong_method", "storage_error"})
# Why a request to the ingest route with another method is listed (`reason`).
REDIRECTED_GET = "redirected_get"  # also the rejection counter the webhooks check reads
WRONG_METHOD = "wrong_method"
# The longest value an entry keeps of each text: memory is bounded whatever a sender posts.
_MAX_TEXT = {"detail": 300, "remote_addr": 64, "request_id": 128, "event": 128}
_MAX_DEFAULT = 256
# Field names in Redis: one letter each (every entry repeats them). store/scripts.py's
# `log_delivery` writes accepted entries with the same letters.
_STORED_NAMES = {
    "outcome": "o",
    "reason": "r",
    "detail": "d",
    "event_id": "e",
    "event": "n",
    "stream_id": "s",
    "request_id": "q",
    "remote_addr": "a",
}
_FIELD_OF = {letter: name for name, letter in _STORED_NAMES.items()}


@dataclass(frozen=True)
class Origin:
    """Who sent a delivery, as its log entry shows it."""

    request_id: str = ""
    remote_addr: str | None = None


UNKNOWN_ORIGIN = Origin()  # a delivery applied outside a request (tests, tools)


@dataclass(frozen=True)
class DeliveryEntry:
    """One answered delivery. `reason` and `detail` only for a rejection; the event's id, name
    and stream only once the signature verified (an unverified sender's words are not shown)."""

    outcome: str
    request_id: str = ""
    remote_addr: str | None = None
    reason: str | None = None
    detail: str | None = None
    event_id: str | None = None
    event: str | None = None
    stream_id: str | None = None
    verified: bool = True  # which log it goes to; not stored (the log it is in says it)

    def stored_fields(self) -> dict[str, str]:
        """The entry as stream-entry fields: one letter per field, empty ones left out."""
        stored = {}
        for name, letter in _STORED_NAMES.items():
            value = getattr(self, name)
            if value:
                stored[letter] = value[: _MAX_TEXT.get(name, _MAX_DEFAULT)]
        return stored

    @classmethod
    def from_stored(cls, stored: dict[bytes, bytes], verified: bool) -> DeliveryEntry:
        """The entry back from its stream-entry fields (unknown letters are ignored)."""
        known = {
            _FIELD_OF[letter.decode()]: value.decode("utf-8", "replace")
            for letter, value in stored.items()
            if letter.decode("latin-1") in _FIELD_OF
        }
        known.setdefault("outcome", "unknown")
        return cls(verified=verified, **known)


def logs_for(outcome: str | None) -> tuple[bool, ...]:
    """Which logs (True: verified) can hold entries with `outcome` (None: any)."""
    if outcome in VERIFIED_ONLY:
        return (True,)
    if outcome in UNVERIFIED_ONLY:
        return (False,)
    return (True, False)


def wrong_method_entry(method: str, signed: bool, origin: Origin) -> DeliveryEntry:
    """The entry of a request to the ingest route with another method than POST.

    A GET or HEAD carrying Livepeer-Signature is a delivery a redirect turned into a GET
    (Livepeer's cannon.ts posts with node-fetch v2, which follows a 301/302/303 with a
    bodyless GET); it never verifies (there is no body), so it goes to the unverified log.
    """
    shown = method if method.isalpha() and len(method) <= 10 else "another method"
    if signed and method in ("GET", "HEAD"):
        reason = REDIRECTED_GET
        detail = (
            f"a {method} with Livepeer-Signature: a redirect (301, 302 or 303) turned "
            "Livepeer's POST into a GET; register the final URL as the webhook URL"
        )
    else:
        reason = WRONG_METHOD
        detail = f"{shown} is not a delivery: Livepeer delivers webhooks with POST"
    return DeliveryEntry(
        "wrong_method", origin.request_id, origin.remote_addr, reason, detail, verified=False
    )


class DeliveryCursorError(ValueError):
    """A cursor of the delivery log this service did not issue."""


@dataclass(frozen=True, order=True)
class LogPosition:
    """Where an entry sits in the merged, newest-first listing: its stream entry id (Redis's
    `<ms>-<seq>`) and its log; at equal ids the verified log's entry comes first."""

    ms: int
    seq: int
    verified: bool

    @property
    def entry_id(self) -> str:
        return f"{self.ms}-{self.seq}"

    def encode(self) -> str:
        return f"{self.entry_id}.{'v' if self.verified else 'u'}"

    @classmethod
    def decode(cls, text: str) -> LogPosition:
        match = _CURSOR.fullmatch(text)
        if match is None:
            raise DeliveryCursorError("cursor is not one this service issued")
        ms, seq, log = match.groups()
        return cls(int(ms), int(seq), log == "v")

    @classmethod
    def of(cls, entry_id: bytes | str, verified: bool) -> LogPosition:
        ms, _, seq = (entry_id.decode() if isinstance(entry_id, bytes) else entry_id).partition("-")
        return cls(int(ms), int(seq or 0), verified)

    def upper_bound(self, verified: bool) -> str:
        """XREVRANGE's `end` for the log `verified` when resuming after this position: entries
        strictly older, but the other log's entry at the same id if it comes later in order."""
        later_at_same_id = self.verified and not verified
        return self.entry_id if later_at_same_id else f"({self.entry_id}"


_CURSOR = re.compile(r"(\d{1,16})-(\d{1,19})\.([vu])")
