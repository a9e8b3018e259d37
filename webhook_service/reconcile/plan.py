"""Which of Livepeer's failed deliveries to resend, and since when (pure: no Redis, no HTTP).

`runner.Reconciler` runs these choices against the Livepeer API and the store; `failures`
names why a delivery could not be recovered.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from webhook_service.ingest.events import TOKEN_PATTERN
from webhook_service.livepeer.facts import WebhookLogEntry
from webhook_service.reconcile.failures import FAILURE_KINDS, FailureKind
from webhook_service.urls import same_url

_TOKEN = re.compile(TOKEN_PATTERN)
_DURATION = re.compile(r"^(\d{1,6})([mhd])$")
_UNIT_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000}


@dataclass(frozen=True)
class Candidate:
    """A failed delivery that may need resending: the newest failed log row of its event id."""

    log_id: str
    event_id: str
    stream_id: str | None
    event: str | None
    created_at_ms: int
    request_url: str | None = None  # where the row went, and where its resend would go


def _no_failures() -> dict[FailureKind, int]:
    return dict.fromkeys(FAILURE_KINDS, 0)


@dataclass
class Summary:
    """The contract's four counts and `failed` by kind (they add up to it); `found` exceeds
    the other three summed when a run stopped early (a cap or an interruption): running again
    continues."""

    found: int = 0
    already_applied: int = 0
    resent: int = 0
    failures: dict[FailureKind, int] = field(default_factory=_no_failures)

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "found": self.found,
            "already_applied": self.already_applied,
            "resent": self.resent,
            "failed": self.failed,
            "failures": dict(self.failures),
        }


class Plan(NamedTuple):
    """What a run does: resend `todo`, report `elsewhere` as `old_url`; `summary` counts both."""

    todo: list[Candidate]
    elsewhere: list[Candidate]
    summary: Summary


def failed_candidates(entries: Iterable[WebhookLogEntry], since_ms: int) -> list[Candidate]:
    """One candidate per event id among the failed rows created at or after `since_ms`, oldest
    event first (so a capped run makes progress from the start of the outage).

    Livepeer logs every attempt, so an event that failed 30 times has 30 rows: the newest is
    kept. Rows whose body has no usable event id are left out: ingest would refuse them anyway.
    """
    chosen: dict[str, Candidate] = {}
    for entry in entries:
        created = entry.created_at_ms
        if not isinstance(created, int) or created < since_ms or not entry.failed:
            continue
        event_id = entry.event_id
        if not isinstance(event_id, str) or not _TOKEN.match(event_id):
            continue
        stream_id = entry.stream_id if _TOKEN.match(entry.stream_id or "") else None
        known = chosen.get(event_id)
        if known is None or created > known.created_at_ms:
            chosen[event_id] = Candidate(
                entry.id, event_id, stream_id, entry.event, created, entry.request_url
            )
    return sorted(chosen.values(), key=lambda c: (c.created_at_ms, c.event_id))


def plan(
    candidates: Sequence[Candidate],
    applied: set[str],
    resent_before: set[str],
    public_url: str | None = None,
) -> Plan:
    """What to resend: candidates neither applied here nor resent by an earlier (interrupted)
    run (those count as `resent` again, so a resumed run reports the whole recovery), except
    those whose row went to another URL than `public_url`: `old_url`, never resent."""
    summary = Summary(found=len(candidates))
    todo: list[Candidate] = []
    away: list[Candidate] = []
    for candidate in candidates:
        if candidate.event_id in applied:
            summary.already_applied += 1
        elif candidate.event_id in resent_before:
            summary.resent += 1
        elif went_elsewhere(candidate, public_url):
            summary.failures["old_url"] += 1
            away.append(candidate)
        else:
            todo.append(candidate)
    return Plan(todo, away, summary)


def went_elsewhere(candidate: Candidate, public_url: str | None) -> bool:
    """Whether the row's `request.url` is known and is not PUBLIC_URL (by `urls.same_url`).

    A resend goes to that URL (cannon.ts resendWebhook), not to the webhook's current one.
    Without PUBLIC_URL, or on a row without a URL, nothing tells: the row is resent.
    """
    if not public_url or not candidate.request_url:
        return False
    return not same_url(candidate.request_url, public_url)


def parse_since(text: str, now_ms: int) -> int:
    """ISO-8601 with a timezone (`2026-11-25T18:00:00Z`) or a duration back from now (`90m`,
    `24h`, `3d`), in ms. Raises ValueError saying what is accepted."""
    text = text.strip()
    duration = _DURATION.match(text)
    if duration:
        return now_ms - int(duration.group(1)) * _UNIT_MS[duration.group(2)]
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{text[:40]!r} is not an ISO-8601 time (2026-11-25T18:00:00Z) or a duration "
            "(90m, 24h, 3d)"
        ) from None
    if moment.tzinfo is None:
        # A time without a zone is ambiguous on a server: UTC or the operator's local time?
        raise ValueError("give the time zone, e.g. 2026-11-25T18:00:00Z")
    return since_ms(moment, now_ms)


def since_ms(moment: datetime, now_ms: int) -> int:
    """`moment` in ms; raises ValueError for a time in the future (nothing can have failed)."""
    try:
        value = int(moment.astimezone(UTC).timestamp() * 1000)
    except (OverflowError, ValueError, OSError):
        raise ValueError("the time is out of range") from None
    if value > now_ms:
        raise ValueError("the time is in the future")
    return value
