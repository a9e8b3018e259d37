"""The hung-AI-job checklist behind `ai-check`: is the gateway reachable, does a minimal call
work, does the pipeline's warm model work. Every request has a timeout; 503 is retried.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from webhook_service.ai.payloads import default_model, minimal_request
from webhook_service.ai.retry import COLD_MODEL_DELAYS, StatusError, retry_unavailable
from webhook_service.diagnostics.ai import AiFacts, diagnose_ai, warm_model
from webhook_service.diagnostics.verdict import Verdict

# The gateway is named by the operator on the command line, so these requests deliberately do
# not go through probe.Prober's host allowlist: that guards server routes against SSRF (a URL
# from a request body), and a CLI run by the operator has no such attacker.
DEFAULT_GET_TIMEOUT = 10.0
DEFAULT_POST_TIMEOUT = 30.0
MAX_BODY_BYTES = 65_536
Outcome = Literal["pass", "fail", "skip"]

NEXT_GATEWAY = (
    "Check the gateway itself: is its process running and listening on that host and port "
    "(self-hosted: `livepeer_cli -status`; a proxy or firewall in between)? Then run again."
)
NEXT_ROUTE = (
    "Check --gateway is the gateway's base URL (Livepeer Studio: "
    "https://livepeer.studio/api/beta/generate, community: https://dream-gateway.livepeer.cloud) "
    "and --pipeline the route name."
)
NEXT_ORCHESTRATORS = (
    "Self-hosted gateway: `livepeer_cli -status` (gateway up, ticket broker deposit and reserve "
    "funded); then check that orchestrators advertise this pipeline and model in their "
    "capabilities (their -aiModels config), and the gateway's log for the job."
)


@dataclass(frozen=True)
class Timing:
    """The clock and sleep the checklist uses (tests pass fast ones)."""

    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic


@dataclass(frozen=True)
class Answer:
    """An HTTP answer from the gateway, body bounded to MAX_BODY_BYTES."""

    status: int
    body: bytes
    content_type: str | None


class NoAnswerError(Exception):
    """Raised when the gateway gave no HTTP answer; `kind` is "hung" or "unreachable"."""

    def __init__(self, kind: Literal["hung", "unreachable"], detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


class Gateway:
    """An AI gateway at a base URL; every request times out, nothing is retried or redirected."""

    def __init__(
        self,
        base_url: str,
        *,
        get_timeout: float = DEFAULT_GET_TIMEOUT,
        post_timeout: float = DEFAULT_POST_TIMEOUT,
        token: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.get_timeout, self.post_timeout = get_timeout, post_timeout
        self._headers = {"User-Agent": "livepeer-webhooks ai-check"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._pool = urllib3.PoolManager(retries=False)

    def url(self, pipeline: str) -> str:
        return f"{self.base_url}/{pipeline}"

    def get(self, pipeline: str) -> Answer:
        """GET the pipeline route (a live gateway answers 405: the route takes POST only)."""
        return self._send("GET", pipeline, None, None, self.get_timeout)

    def post(self, pipeline: str, body: bytes, content_type: str) -> Answer:
        """POST a request to the pipeline route."""
        return self._send("POST", pipeline, body, content_type, self.post_timeout)

    def _send(
        self, method: str, pipeline: str, body: bytes | None, ctype: str | None, timeout: float
    ) -> Answer:
        headers = dict(self._headers, **({"Content-Type": ctype} if ctype else {}))
        connect = min(timeout, DEFAULT_GET_TIMEOUT)
        limit = urllib3.Timeout(connect=connect, read=timeout)
        try:
            response = self._pool.request(
                method,
                self.url(pipeline),
                body=body,
                headers=headers,
                timeout=limit,
                redirect=False,
                preload_content=False,
            )
            try:
                content = response.read(MAX_BODY_BYTES)
            finally:
                response.close()  # not back to the pool: the rest of a long body is unread
        except ReadTimeoutError:
            raise NoAnswerError("hung", f"no answer within {timeout:g} s") from None
        except NewConnectionError as error:  # before ConnectTimeoutError: it subclasses it
            raise NoAnswerError("unreachable", _reason(error)) from None
        except ConnectTimeoutError:
            raise NoAnswerError("unreachable", f"no connection within {connect:g} s") from None
        except SSLError as error:
            raise NoAnswerError("unreachable", f"TLS failed: {_reason(error)}") from None
        except ProtocolError:
            raise NoAnswerError("unreachable", "the connection closed without an answer") from None
        except HTTPError as error:
            raise NoAnswerError("unreachable", _reason(error)) from None
        return Answer(response.status, content, response.headers.get("Content-Type"))


def _reason(error: Exception) -> str:
    text = str(error)
    if "Name or service not known" in text or "NameResolution" in type(error).__name__:
        return "DNS lookup failed"
    if "Connection refused" in text:
        return "connection refused (nothing listens on that port)"
    return text.rpartition(": ")[2][:200] or type(error).__name__


@dataclass(frozen=True)
class Finding:
    """What one step found, before the checklist adds its number, name and timing."""

    outcome: Outcome
    summary: str
    next_check: str | None = None
    verdict: Verdict | None = None
    retries: int = 0


@dataclass(frozen=True)
class StepResult:
    """One checklist step as run: its number and name, how long it took, and what it found."""

    number: int
    name: str
    seconds: float
    found: Finding


@dataclass
class Checklist:
    """Runs the steps in order against one gateway, stopping at the first that fails."""

    gateway: Gateway
    pipeline: str
    model_id: str | None = None
    timing: Timing = field(default_factory=Timing)
    on_retry: Callable[[int, float, StatusError], None] | None = None

    def run(self, report: Callable[[StepResult], None]) -> list[StepResult]:
        """Run every step until one fails; `report` hears of each as it ends."""
        steps = (
            ("reachable", self.reachable),
            ("minimal POST", self.minimal_call),
            ("warm model", self.warm_call),
        )
        done: list[StepResult] = []
        for number, (name, step) in enumerate(steps, start=1):
            started = self.timing.monotonic()
            found = step()
            seconds = max(self.timing.monotonic() - started, 0.0)
            done.append(StepResult(number, name, seconds, found))
            report(done[-1])
            if found.outcome == "fail":
                break
        return done

    @property
    def first_model(self) -> str | None:
        """The minimal call's model: the one asked for, else the warm (or default) model."""
        return self.model_id or default_model(self.pipeline)

    def reachable(self) -> Finding:
        """GET on the pipeline route must answer 405: the gateway is up and serves the route."""
        path = f"/{self.pipeline}"
        try:
            answer = self.gateway.get(self.pipeline)
        except NoAnswerError as error:
            return Finding("fail", f"GET {path}: {error}", NEXT_GATEWAY)
        if answer.status == 405:
            return Finding("pass", f"GET {path} answered 405: the route exists (it takes POST)")
        if answer.status == 404:
            return Finding("fail", f"GET {path} answered 404: no such route here", NEXT_ROUTE)
        text = f"GET {path} answered {answer.status}, not 405: is this an AI gateway?"
        return Finding("fail", text, f"{NEXT_ROUTE} {NEXT_GATEWAY}")

    def minimal_call(self) -> Finding:
        """A minimal POST with the model asked for (or the warm model)."""
        return self._call(self.first_model)

    def warm_call(self) -> Finding:
        """The same POST with the pipeline's warm model, unless the last step already used it."""
        warm = warm_model(self.pipeline)
        if warm is None:
            return Finding("skip", f"no warm model is known for {self.pipeline}")
        if self.first_model == warm:
            return Finding("skip", f"the minimal POST already used the warm model {warm}")
        return self._call(warm)

    def _call(self, model_id: str | None) -> Finding:
        """POST the minimal request, retrying 503 on the cold-model schedule."""
        body, ctype = minimal_request(self.pipeline, model_id)
        asked = f"POST with model {model_id or '(the gateway default)'}"
        retries: list[int] = []

        def attempt() -> Answer:
            answer = self.gateway.post(self.pipeline, body, ctype)
            if not 200 <= answer.status < 300:
                raise StatusError(answer.status, answer.body, answer.content_type)
            return answer

        def retried(count: int, delay: float, error: StatusError) -> None:
            retries.append(count)
            if self.on_retry is not None:
                self.on_retry(count, delay, error)

        try:
            answer = retry_unavailable(attempt, sleep=self.timing.sleep, on_retry=retried)
        except NoAnswerError as error:
            nxt = self._no_answer_next(error, model_id)
            return Finding("fail", f"{asked}: {error}", nxt, retries=len(retries))
        except StatusError as error:
            return self._rejected(asked, model_id, ctype, error, len(retries))
        text = f"{asked} answered {answer.status}"
        if retries:
            text += f" after {len(retries)} retries of 503 (the model was loading)"
        return Finding("pass", text, retries=len(retries))

    def _rejected(
        self, asked: str, model_id: str | None, ctype: str, error: StatusError, retries: int
    ) -> Finding:
        """A non-2xx answer, explained by the `ai` diagnosis."""
        body = error.body.decode("utf-8", "replace")
        verdict = diagnose_ai(AiFacts(self.pipeline, model_id, error.status, body, ctype))
        text = f"{asked} answered {error.status}: {verdict.code}: {verdict.cause}"
        if error.status == 503:
            waited = sum(COLD_MODEL_DELAYS)
            text = f"{asked} still answered 503 after {retries} retries ({waited:.0f} s of waits)"
            text += f": {verdict.code}"
        nxt = f"{verdict.fix} {NEXT_ORCHESTRATORS}" if error.status >= 500 else verdict.fix
        if error.status == 401:
            nxt += " Give ai-check the key with --api-key-env NAME (the variable holding it)."
        return Finding("fail", text, nxt, verdict, retries)

    def _no_answer_next(self, error: NoAnswerError, model_id: str | None) -> str:
        """What to check when a POST got no answer: the gateway, or a cold or unserved model."""
        if error.kind == "unreachable":
            return NEXT_GATEWAY
        warm = warm_model(self.pipeline)
        text = (
            "A job that hangs is usually a cold model (loading takes 30 s to 5 minutes) or no "
            "orchestrator serving it: run again with a longer --timeout (e.g. 300)"
        )
        if warm and model_id != warm:
            text += f", or without --model to try the warm model {warm}"
        return f"{text}. {NEXT_ORCHESTRATORS}"
