"""The hung-AI-job checklist behind `ai-check`: is the route there, does a minimal call work, does
the pipeline's warm model work. Pure: it drives a `Client` (ai/gateway.py speaks HTTP for it).

A gateway is sent the gateway's own requests; Livepeer Studio's generate API (ai/studio.py) is
sent Studio's forms, and since Studio serves no GET it is probed with a POST it refuses (422).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from webhook_service.ai.bodies import gateway_message
from webhook_service.ai.payloads import minimal_request
from webhook_service.ai.pipelines import warm_model
from webhook_service.ai.retry import COLD_MODEL_DELAYS, StatusError, is_retried, retry_unavailable
from webhook_service.ai.studio import STUDIO_PIPELINES, serves
from webhook_service.diagnostics.ai import AiFacts, diagnose_ai
from webhook_service.diagnostics.verdict import Verdict

Outcome = Literal["pass", "fail", "skip"]

NEXT_GATEWAY = (
    "Check the gateway itself: is its process running and listening on that host and port "
    "(self-hosted: `livepeer_cli -status`; a proxy or firewall in between)? Then run again."
)
NEXT_STUDIO = "Check the URL and this host's network (a proxy or firewall in between), then retry."
NEXT_ROUTE = (
    "Check --gateway is the gateway's base URL (Livepeer Studio: "
    "https://livepeer.studio/api/beta/generate, community: https://dream-gateway.livepeer.cloud) "
    "and --pipeline the route name."
)
NEXT_KEY = "Give ai-check a Studio API key with --api-key-env NAME (the variable holding it)."
NEXT_FORBIDDEN = (
    'Studio refused the key\'s account (a suspended one gets "user is suspended" on every '
    "call): contact Livepeer support, or use a key of another account."
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
    """An HTTP answer from the gateway, body bounded by the client."""

    status: int
    body: bytes
    content_type: str | None


class NoAnswerError(Exception):
    """Raised when the gateway gave no HTTP answer; `kind` is "hung" or "unreachable"."""

    def __init__(self, kind: Literal["hung", "unreachable"], detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


class Client(Protocol):
    """What the checklist needs of an HTTP client for one base URL."""

    def get(self, pipeline: str) -> Answer: ...

    def post(
        self, pipeline: str, body: bytes, content_type: str, *, quick: bool = False
    ) -> Answer: ...


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
    """Runs the steps in order against a gateway (or Studio: `studio`), stopping at a failure."""

    gateway: Client
    pipeline: str
    model_id: str | None = None
    timing: Timing = field(default_factory=Timing)
    on_retry: Callable[[int, float, StatusError], None] | None = None
    studio: bool = False

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
    def unserved(self) -> bool:
        """Whether the target has no route for the pipeline (Studio and image-to-text)."""
        return self.studio and not serves(self.pipeline)

    @property
    def first_model(self) -> str | None:
        """The minimal call's model: the one asked for, else the warm model."""
        return self.model_id or warm_model(self.pipeline)

    def reachable(self) -> Finding:
        """GET on the pipeline route must answer 405: the gateway is up and serves the route."""
        if self.unserved:
            routes = ", ".join(STUDIO_PIPELINES)
            text = f"Livepeer Studio has no {self.pipeline} route (it serves {routes}): not called"
            return Finding("skip", text)
        if self.studio:
            return self._studio_route()
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

    def _studio_route(self) -> Finding:
        """Studio has no GET routes: an empty JSON POST, which a route refuses before any job."""
        asked = f"POST /{self.pipeline} with an empty JSON body"
        try:
            answer = self.gateway.post(self.pipeline, b"{}", "application/json", quick=True)
        except NoAnswerError as error:
            return Finding("fail", f"{asked}: {error}", NEXT_STUDIO)
        if answer.status == 422:
            text = f"{asked} answered 422: the route exists (Studio checks a body before any job)"
            return Finding("pass", text)
        if answer.status == 401:
            text = f"{asked} answered 401: Studio wants a valid API key"
            return Finding("fail", text, NEXT_KEY)
        said = gateway_message(answer.body) if answer.status != 404 else None
        text = f"{asked} answered {answer.status}" + (f" ({said})" if said else "")
        if answer.status == 404:
            return Finding("fail", f"{text}: no such route here", NEXT_ROUTE)
        if answer.status == 403:
            return Finding("fail", f"{text}: Studio refuses this key", NEXT_FORBIDDEN)
        return Finding("fail", f"{text}, not 422: is this Studio's generate API?", NEXT_ROUTE)

    def minimal_call(self) -> Finding:
        """A minimal POST with the model asked for (or the warm model)."""
        if self.unserved:
            return Finding("skip", f"not run: Livepeer Studio has no {self.pipeline} route")
        return self._call(self.first_model)

    def warm_call(self) -> Finding:
        """The same POST with the pipeline's warm model, unless the last step already used it."""
        warm = warm_model(self.pipeline)
        if self.unserved:
            return Finding("skip", f"not run: Livepeer Studio has no {self.pipeline} route")
        if warm is None:
            return Finding("skip", f"no warm model is known for {self.pipeline}")
        if self.first_model == warm:
            return Finding("skip", f"the minimal POST already used the warm model {warm}")
        return self._call(warm)

    def _call(self, model_id: str | None) -> Finding:
        """POST the minimal request, retrying a loading model's answer on the cold schedule."""
        request = minimal_request(self.pipeline, model_id, studio=self.studio)
        asked = f"POST {request.shape} with model {model_id or '(the gateway default)'}"
        retries: list[int] = []

        def attempt() -> Answer:
            answer = self.gateway.post(self.pipeline, request.body, request.content_type)
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
            return self._rejected(asked, model_id, request.content_type, error, len(retries))
        text = f"{asked} answered {answer.status}"
        if retries:
            text += f" after {len(retries)} retries (the model was loading)"
        return Finding("pass", text, retries=len(retries))

    def _rejected(
        self, asked: str, model_id: str | None, ctype: str, error: StatusError, retries: int
    ) -> Finding:
        """A non-2xx answer, explained by the `ai` diagnosis."""
        body = error.body.decode("utf-8", "replace")
        verdict = diagnose_ai(AiFacts(self.pipeline, model_id, error.status, body, ctype))
        text = f"{asked} answered {error.status}: {verdict.code}: {verdict.cause}"
        if is_retried(error):
            waited = sum(COLD_MODEL_DELAYS)
            text = f"{asked} still answered {error.status} after {retries} retries "
            text += f"({waited:.0f} s of waits): {verdict.code}: {verdict.cause}"
        nxt = verdict.fix
        if is_retried(error) and model_id != warm_model(self.pipeline):
            nxt += " With ai-check: run again without --model to try the warm model."
        if error.status >= 500 and not self.studio:
            nxt = f"{nxt} {NEXT_ORCHESTRATORS}"
        if error.status == 401:
            nxt += " Give ai-check the key with --api-key-env NAME (the variable holding it)."
        return Finding("fail", text, nxt, verdict, retries)

    def _no_answer_next(self, error: NoAnswerError, model_id: str | None) -> str:
        """What to check when a POST got no answer: the gateway, or a cold or unserved model."""
        if error.kind == "unreachable":
            return NEXT_STUDIO if self.studio else NEXT_GATEWAY
        warm = warm_model(self.pipeline)
        text = (
            "A job that hangs is usually a cold model (loading takes 30 s to 5 minutes) or no "
            "orchestrator serving it: run again with a longer --timeout (e.g. 300)"
        )
        if warm and model_id != warm:
            text += f", or without --model to try the warm model {warm}"
        return f"{text}." if self.studio else f"{text}. {NEXT_ORCHESTRATORS}"
