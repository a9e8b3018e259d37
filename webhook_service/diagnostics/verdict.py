"""The Verdict and Diagnosis shapes every check returns (contract), and status ordering (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["ok", "warn", "fail", "unknown"]
Check = Literal["rtmp", "hls", "playback", "recording", "webhooks", "ai"]
# Worst first: a diagnosis reports the worst of its verdicts.
STATUS_ORDER: tuple[Status, ...] = ("fail", "warn", "unknown", "ok")
STREAM_CHECKS: tuple[Check, ...] = ("rtmp", "hls", "playback", "recording")


@dataclass(frozen=True)
class Verdict:
    """One check's answer: a stable code, a cause and a fix for a person, and the evidence."""

    check: Check
    status: Status
    code: str
    cause: str
    fix: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "status": self.status,
            "code": self.code,
            "cause": self.cause,
            "fix": self.fix,
            "evidence": self.evidence,
        }


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
