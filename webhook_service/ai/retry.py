"""Retrying a cold AI model: the guide's backoff schedule and a helper that retries only the
answers of a loading model: a gateway's 503, and Livepeer Studio's 500 "Failed to generate ..."
(Studio answers so for every gateway 5xx, the cold model's 503 included).

Pure of I/O: the attempt, the sleep and the retry report are callables the caller passes in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from webhook_service.ai.studio import generate_failed_message

T = TypeVar("T")

# Livepeer's AI troubleshooting guide: 5 s first, x1.5 each time, capped at 60 s, 5 retries.
INITIAL_DELAY_SECONDS = 5.0
BACKOFF_FACTOR = 1.5
MAX_DELAY_SECONDS = 60.0
MAX_RETRIES = 5
# A cold load takes 30 s to 5 minutes; the schedule gives up after about 66 s of waiting.
COLD_LOAD_MAX_SECONDS = 300
RETRIED_STATUS = 503


def backoff_delays(
    initial: float = INITIAL_DELAY_SECONDS,
    factor: float = BACKOFF_FACTOR,
    cap: float = MAX_DELAY_SECONDS,
    retries: int = MAX_RETRIES,
) -> tuple[float, ...]:
    """The wait before each retry: `initial`, then times `factor`, each at most `cap`."""
    delays: list[float] = []
    delay = initial
    for _ in range(max(retries, 0)):
        delays.append(min(delay, cap))
        delay *= factor
    return tuple(delays)


COLD_MODEL_DELAYS: tuple[float, ...] = backoff_delays()  # (5, 7.5, 11.25, 16.875, 25.3125)


class StatusError(Exception):
    """Raised by an attempt whose server answered a non-2xx HTTP status; carries the answer."""

    def __init__(self, status: int, body: bytes = b"", content_type: str | None = None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.body = body
        self.content_type = content_type


def is_retried(error: StatusError) -> bool:
    """Whether waiting may help: a 503, or Studio's 500 "Failed to generate <pipeline>"."""
    if error.status == RETRIED_STATUS:
        return True
    return generate_failed_message(error.status, error.body) is not None


def retry_unavailable(
    attempt: Callable[[], T],
    *,
    sleep: Callable[[float], None],
    delays: tuple[float, ...] = COLD_MODEL_DELAYS,
    on_retry: Callable[[int, float, StatusError], None] | None = None,
) -> T:
    """Call `attempt` until it returns, retrying a `StatusError` that `is_retried` after each of
    `delays`.

    Any other exception, and the last retried error once `delays` are used up, is raised at
    once: only "the model is loading" gets better by waiting. `on_retry(number, delay, error)` is
    told before each wait (number counts from 1).
    """
    for number, delay in enumerate(delays, start=1):
        try:
            return attempt()
        except StatusError as error:
            if not is_retried(error):
                raise
            if on_retry is not None:
                on_retry(number, delay, error)
            sleep(delay)
    return attempt()
