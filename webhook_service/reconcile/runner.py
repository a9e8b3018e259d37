"""Run a reconcile: read our webhook's failed deliveries from Livepeer's log, ask the store which
events were never applied here, and have Livepeer resend those at a bounded rate (they come
back signed, through the normal ingest route). A delivery that cannot be recovered is counted
by kind (`failures`): Livepeer resends to the row's URL with the webhook's old secret.

The API client and the store are passed in (LivepeerApi, Store), so no Redis or HTTP code is
imported here; the choices themselves are the pure functions of `reconcile`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from webhook_service.livepeer.facts import ApiWebhook, WebhookLogEntry
from webhook_service.reconcile.failures import FailureKind, elsewhere, refusal, resend_failure
from webhook_service.reconcile.plan import Candidate, Summary, failed_candidates, plan

if TYPE_CHECKING:
    from webhook_service.livepeer.results import ApiResult, ResendResult, WebhookLogPage

# Livepeer's API is shared by the whole account: a few resends a second finish a day-long outage
# (~1 event a minute per stream) in minutes without tripping its rate limits (HTTP 429).
DEFAULT_RATE = 5.0
LOG_PAGE_SIZE = 100
CALL_SECONDS = 10.0  # one API call; a resend waits for Livepeer's delivery to this receiver
# What became of one event: a failure is reported by its kind (reconcile.failures).
Outcome = Literal["would_resend", "resent"] | FailureKind
ErrorKind = Literal["usage", "not_found", "upstream"]
_STOP_STATUSES = frozenset({401, 403, 429})  # key refused, or rate limited: stop the run


class ReconcileError(Exception):
    """Raised when our webhook cannot be chosen or its log cannot be read; `kind` says why."""

    def __init__(self, kind: ErrorKind, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


@dataclass(frozen=True)
class Limits:
    """How much one run may do: resends per second, log pages, resends, a monotonic deadline."""

    rate: float = DEFAULT_RATE
    page_size: int = LOG_PAGE_SIZE
    max_pages: int | None = None
    max_resends: int | None = None
    deadline: float | None = None


class LogApi(Protocol):
    """The Livepeer API calls reconcile needs (LivepeerApi has them)."""

    def find_webhook(self, url: str, *, deadline: float) -> ApiResult[ApiWebhook]: ...

    def webhook_log(
        self,
        webhook_id: str,
        *,
        deadline: float,
        limit: int = ...,
        next_url: str | None = ...,
        failed_only: bool = ...,
    ) -> ApiResult[WebhookLogPage]: ...

    def resend(self, webhook_id: str, log_id: str, *, deadline: float) -> ResendResult: ...


class ReconcileStore(Protocol):
    """What reconcile reads and writes in Redis (Store has it)."""

    def applied_event_ids(self, candidates: Sequence[tuple[str, str | None]]) -> set[str]: ...

    def resent_event_ids(self, webhook_id: str, event_ids: Sequence[str]) -> set[str]: ...

    def mark_resent(self, webhook_id: str, event_id: str, log_id: str) -> None: ...


Report = Callable[[Candidate, Outcome, str], None]


class Reconciler:
    """Reads our webhook's log, asks the store what is missing, resends it at a bounded rate."""

    def __init__(
        self,
        api: LogApi,
        store: ReconcileStore,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._api = api
        self._store = store
        self._clock = clock
        self._sleep = sleep
        self._next_at: float | None = None  # when the next resend may start (monotonic)

    def find_webhook(self, webhook_id: str | None, public_url: str | None, limits: Limits) -> str:
        """The given webhook id, else the webhook whose URL is PUBLIC_URL (normalised)."""
        if webhook_id:
            return webhook_id
        if not public_url:
            raise ReconcileError("usage", "give webhook_id, or set PUBLIC_URL to find our webhook")
        found = self._api.find_webhook(public_url, deadline=self._call_deadline(limits))
        if found.value is not None:
            return found.value.id
        if found.not_found:
            raise ReconcileError(
                "not_found", "no webhook of LIVEPEER_API_KEY's project has PUBLIC_URL"
            )
        raise ReconcileError("upstream", f"listing webhooks failed: {found.error}")

    def run(
        self,
        webhook_id: str,
        since: int,
        *,
        public_url: str | None = None,
        dry_run: bool = False,
        limits: Limits | None = None,
        report: Report | None = None,
    ) -> Summary:
        """Resend (or, dry, list) the failed deliveries since `since` (ms) missing here; those
        that went to another URL than `public_url` are reported as `old_url`, never resent."""
        limits = limits or Limits()
        candidates = failed_candidates(self._read_log(webhook_id, since, limits), since)
        pairs = [(c.event_id, c.stream_id) for c in candidates]
        applied = self._store.applied_event_ids(pairs)
        missing = [c.event_id for c in candidates if c.event_id not in applied]
        resent_before = self._store.resent_event_ids(webhook_id, missing)
        todo, away, summary = plan(candidates, applied, resent_before, public_url)
        for candidate in away:
            _tell(report, candidate, "old_url", elsewhere(candidate.request_url))
        for attempts, candidate in enumerate(todo):
            if dry_run:
                _tell(report, candidate, "would_resend", "")
            elif not self._may_resend(attempts, limits):
                break
            elif not self._resend_one(webhook_id, candidate, summary, limits, report):
                break
        return summary

    def _read_log(self, webhook_id: str, since: int, limits: Limits) -> list[WebhookLogEntry]:
        """Failed rows, newest first, page after page until one reaches back past `since`."""
        entries: list[WebhookLogEntry] = []
        next_url: str | None = None
        pages = 0
        while limits.max_pages is None or pages < limits.max_pages:
            page = self._api.webhook_log(
                webhook_id,
                deadline=self._call_deadline(limits),
                limit=limits.page_size,
                next_url=next_url,
                failed_only=True,
            )
            pages += 1
            if page.not_found:
                raise ReconcileError("not_found", f"Livepeer has no webhook {webhook_id[:128]!r}")
            if page.value is None:
                raise ReconcileError("upstream", f"reading the webhook log failed: {page.error}")
            entries.extend(page.value.entries)
            next_url = page.value.next_url
            times = [e.created_at_ms for e in page.value.entries if e.created_at_ms is not None]
            if next_url is None or (times and min(times) < since):
                break
        return entries

    def _resend_one(
        self,
        webhook_id: str,
        candidate: Candidate,
        summary: Summary,
        limits: Limits,
        report: Report | None,
    ) -> bool:
        """Resend one event; False when the API refuses the key or rate-limits: every further
        call would fail the same way, so the run stops (run it again later)."""
        deadline = self._call_deadline(limits)
        result = self._api.resend(webhook_id, candidate.log_id, deadline=deadline)
        if result.value is True:
            # Recorded at once: a run interrupted after this line does not resend it again.
            self._store.mark_resent(webhook_id, candidate.event_id, candidate.log_id)
            summary.resent += 1
            _tell(report, candidate, "resent", "")
            return True
        kind: FailureKind = "other"
        if result.value is False:  # Livepeer resent it; its new log row says how we answered
            kind, reason = resend_failure(result.row), refusal(result.row)
        else:
            gone = "the log row is gone (HTTP 404)"
            reason = gone if result.not_found else f"the Livepeer API call failed: {result.error}"
        summary.failures[kind] += 1
        _tell(report, candidate, kind, reason)
        return result.status not in _STOP_STATUSES

    def _may_resend(self, attempts: int, limits: Limits) -> bool:
        """Wait for the rate limit; False once the run's cap or deadline is reached."""
        if limits.max_resends is not None and attempts >= limits.max_resends:
            return False
        self._pace(limits.rate)
        return limits.deadline is None or self._clock() < limits.deadline

    def _pace(self, rate: float) -> None:
        """Sleep so that resends start at least 1/rate seconds apart."""
        now = self._clock()
        start = now if self._next_at is None else max(now, self._next_at)
        if start > now:
            self._sleep(start - now)
        self._next_at = start + 1.0 / rate

    def _call_deadline(self, limits: Limits) -> float:
        deadline = self._clock() + CALL_SECONDS
        return deadline if limits.deadline is None else min(deadline, limits.deadline)


def _tell(report: Report | None, candidate: Candidate, outcome: Outcome, detail: str) -> None:
    if report is not None:
        report(candidate, outcome, detail)
