"""The cold-model retry schedule and helper, on an injected clock (no test really waits)."""

from __future__ import annotations

import pytest

from webhook_service.ai.retry import (
    COLD_MODEL_DELAYS,
    StatusError,
    backoff_delays,
    is_retried,
    retry_unavailable,
)

STUDIO_500 = b'{"errors": ["Failed to generate image-to-image"]}'


class FakeClock:
    """A clock that moves only when slept on, recording every sleep."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class Script:
    """An attempt that plays a scripted list: exceptions are raised, other values returned."""

    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.calls = 0

    def __call__(self):
        self.calls += 1
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def test_the_guides_schedule():
    """5 s, x1.5, five retries: exactly [5, 7.5, 11.25, 16.875, 25.3125], about 66 s in all."""
    assert COLD_MODEL_DELAYS == (5, 7.5, 11.25, 16.875, 25.3125)
    assert sum(COLD_MODEL_DELAYS) == 65.9375  # exact in binary floating point


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"initial": 30.0}, (30, 45, 60, 60, 60)),
        ({"initial": 1.0, "factor": 2.0, "retries": 3}, (1, 2, 4)),
        ({"retries": 0}, ()),
        ({"initial": 100.0, "retries": 2}, (60, 60)),
    ],
)
def test_schedule_is_capped_at_60_s(kwargs, expected):
    """Each delay is the previous times the factor, never more than the 60 s cap."""
    assert backoff_delays(**kwargs) == expected


def test_503_twice_then_success_waits_5_then_7_5():
    """Two 503s are retried after 5 s and 7.5 s; the third attempt's answer is returned."""
    clock = FakeClock()
    attempt = Script(StatusError(503), StatusError(503), "answer")
    assert retry_unavailable(attempt, sleep=clock.sleep) == "answer"
    assert attempt.calls == 3
    assert clock.slept == [5, 7.5]
    assert clock.now == 12.5


def test_503_every_time_gives_up_after_five_retries():
    """Six attempts, the full schedule slept, then the last 503 is raised."""
    clock = FakeClock()
    attempt = Script(*[StatusError(503, b"loading") for _ in range(6)], "never reached")
    with pytest.raises(StatusError) as raised:
        retry_unavailable(attempt, sleep=clock.sleep)
    assert raised.value.status == 503 and raised.value.body == b"loading"
    assert attempt.calls == 6
    assert clock.slept == list(COLD_MODEL_DELAYS)


@pytest.mark.parametrize("status", [400, 401, 422, 429, 500, 502, 504])
def test_other_statuses_are_raised_at_once(status):
    """Only 503 is retried: any other status is raised without a wait."""
    clock = FakeClock()
    attempt = Script(StatusError(status), "never reached")
    with pytest.raises(StatusError) as raised:
        retry_unavailable(attempt, sleep=clock.sleep)
    assert raised.value.status == status
    assert attempt.calls == 1 and clock.slept == []


def test_other_errors_are_raised_at_once_even_after_a_503():
    """A timeout after a 503 ends the retries at once (it is not a loading model)."""
    clock = FakeClock()
    attempt = Script(StatusError(503), TimeoutError("hung"), "never reached")
    with pytest.raises(TimeoutError):
        retry_unavailable(attempt, sleep=clock.sleep)
    assert attempt.calls == 2 and clock.slept == [5]


def test_on_retry_hears_each_retry_before_its_wait():
    """on_retry gets (number from 1, delay, the 503) before each sleep."""
    clock = FakeClock()
    heard = []

    def on_retry(number, delay, error):
        heard.append((number, delay, error.status, clock.now))

    attempt = Script(StatusError(503), StatusError(503), "ok")
    retry_unavailable(attempt, sleep=clock.sleep, on_retry=on_retry)
    assert heard == [(1, 5, 503, 0.0), (2, 7.5, 503, 5.0)]


def test_custom_delays_and_no_delays():
    """`delays` replaces the schedule; with none, a 503 is raised after one attempt."""
    clock = FakeClock()
    assert retry_unavailable(Script(StatusError(503), 1), sleep=clock.sleep, delays=(0.5,)) == 1
    assert clock.slept == [0.5]
    with pytest.raises(StatusError):
        retry_unavailable(Script(StatusError(503)), sleep=clock.sleep, delays=())


def test_success_at_once_never_sleeps():
    """A first answer is returned as is, without touching the clock."""
    clock = FakeClock()
    assert retry_unavailable(Script({"images": []}), sleep=clock.sleep) == {"images": []}
    assert clock.slept == []


def test_studios_generate_failed_is_retried_like_a_503():
    """generate.ts, proxyGenerate: a cold model's 503 reaches Studio users as 500 "Failed to
    generate <type>", so that answer is retried on the same schedule."""
    clock = FakeClock()
    attempt = Script(StatusError(500, STUDIO_500), StatusError(503), "answer")
    assert retry_unavailable(attempt, sleep=clock.sleep) == "answer"
    assert attempt.calls == 3 and clock.slept == [5, 7.5]


def test_studios_generate_failed_every_time_gives_up_after_five_retries():
    """proxyGenerate's 500 six times: the full schedule slept, then that 500 is raised."""
    clock = FakeClock()
    attempt = Script(*[StatusError(500, STUDIO_500) for _ in range(6)])
    with pytest.raises(StatusError) as raised:
        retry_unavailable(attempt, sleep=clock.sleep)
    assert raised.value.status == 500 and raised.value.body == STUDIO_500
    assert attempt.calls == 6 and clock.slept == list(COLD_MODEL_DELAYS)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, b'{"errors": ["Internal server error: Error"]}'),  # errorHandler.ts
        (500, b'{"errors": ["AI Gateway URL is not set"]}'),  # proxyGenerate, no gateway URL
        (500, b'{"detail": {"msg": "Failed to generate"}}'),  # the runner's own 500 (an admin)
        (500, b"Failed to generate image-to-image"),  # not Studio's JSON
        (500, b""),
        (502, STUDIO_500),  # proxyGenerate always answers 500
        (422, STUDIO_500),
    ],
)
def test_nothing_else_new_is_retried(status, body):
    """Only proxyGenerate's exact "Failed to generate" 500 joins the 503: other 500s of Studio
    (errorHandler.ts, proxyGenerate) and other statuses with that body are raised at once."""
    clock = FakeClock()
    assert not is_retried(StatusError(status, body))
    attempt = Script(StatusError(status, body), "never reached")
    with pytest.raises(StatusError):
        retry_unavailable(attempt, sleep=clock.sleep)
    assert attempt.calls == 1 and clock.slept == []
