"""The Verdict and Diagnosis every check answers (contract), and the order of statuses (pure).

One type for both the answers and their schema: pydantic dataclasses, so /openapi.json shows
exactly what the routes send.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, field
from typing import Any, Literal

from pydantic.dataclasses import dataclass

Status = Literal["ok", "warn", "fail", "unknown"]
Check = Literal["rtmp", "hls", "playback", "recording", "webhooks", "ai"]
# Worst first: a diagnosis reports the worst of its verdicts.
STATUS_ORDER: tuple[Status, ...] = ("fail", "warn", "unknown", "ok")
STREAM_CHECKS: tuple[Check, ...] = ("rtmp", "hls", "playback", "recording")
# Checks without an account row say why they cannot decide (DESIGN.md, under the table).
ACCOUNT_SUSPENDED_REASON = (
    'the Livepeer account is suspended (the API answers 403 "user is suspended"): its streams '
    "never go live and Livepeer sends none of its events"
)
ACCOUNT_SUSPENDED_FIX = "Contact Livepeer support about the suspension; see the rtmp check."
STUCK_NOTE = (
    "the Livepeer API still says isActive, but its lastSeen is over 90 s old: no media arrives; "
    "Livepeer's clean-up closes the session (stream.ts ACTIVE_TIMEOUT)"
)


@dataclass(frozen=True)
class Verdict:
    """One check's answer (contract): a stable code, a cause and a fix for a person, evidence."""

    check: Check
    status: Status
    code: str
    cause: str
    fix: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The JSON object a route answers with."""
        return asdict(self)


@dataclass(frozen=True)
class Diagnosis:
    """Every stream check; `status` is the worst of the verdicts (fail > warn > unknown > ok)."""

    stream_id: str
    status: Status
    verdicts: list[Verdict]

    def as_dict(self) -> dict[str, Any]:
        """The JSON object a route answers with."""
        return asdict(self)


def worst(statuses: Iterable[Status]) -> Status:
    """The worst status present (fail > warn > unknown > ok); `ok` for none."""
    present = set(statuses)
    return next((s for s in STATUS_ORDER if s in present), "ok")


def unknown(check: Check, reason: str, fix: str, **evidence: Any) -> Verdict:
    """`<check>.unknown`: the facts needed could not be gathered; `reason` says why."""
    return Verdict(
        check,
        "unknown",
        f"{check}.unknown",
        f"Not enough facts to decide: {reason}.",
        fix,
        {"reason": reason, **evidence},
    )
