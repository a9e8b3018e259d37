"""What a Livepeer API call answers: a value, a 404, or an error saying why neither (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from webhook_service.livepeer.facts import ApiStream, WebhookLogEntry

T = TypeVar("T")
# What every API call of a suspended account answers (middleware/auth.ts: 403 "user is
# suspended"): an account verdict, not "forbidden for this API key".
ACCOUNT_SUSPENDED = 'the Livepeer account is suspended (HTTP 403 "user is suspended")'


@dataclass(frozen=True)
class ApiResult(Generic[T]):
    """A value, or `not_found` (HTTP 404), or an `error` saying why the API gave neither."""

    value: T | None = None
    not_found: bool = False
    error: str | None = None
    status: int | None = None  # HTTP status of the last response, when there was one
    incomplete: bool = False  # a list had more pages than the client follows

    @property
    def account_suspended(self) -> bool:
        """Whether Livepeer refused the call because the account is suspended."""
        return self.error == ACCOUNT_SUSPENDED


@dataclass(frozen=True)
class StreamResult(ApiResult[ApiStream]):
    """A stream lookup; `key_matches` compares a given key with the API's (never kept)."""

    key_matches: bool | None = None  # None: no key given, or the API did not show one


@dataclass(frozen=True)
class ResendResult(ApiResult[bool]):
    """A resend: `value` says whether the receiver answered 2xx; `row` is the new log row
    Livepeer answers with (cannon.ts resendWebhook), None when the answer was not one."""

    row: WebhookLogEntry | None = None


@dataclass(frozen=True)
class WebhookLogPage:
    entries: tuple[WebhookLogEntry, ...]
    next_url: str | None  # pass back as `next_url` for the next (older) page
