"""`ai-check` against Livepeer Studio's generate API (a real local fake of it): Studio's forms,
its 422 probe, its hidden 5xx, its missing image-to-text route; and the Studio-or-gateway rule."""

from __future__ import annotations

import json
import re
import time

import pytest
from fake_ai_gateway import FakeAiGateway
from fake_studio_generate import DEFAULT_MODELS, TOKEN, FakeStudioGenerate

from webhook_service.ai.checklist import Timing
from webhook_service.ai.gateway import Gateway
from webhook_service.ai.payloads import minimal_request
from webhook_service.ai.pipelines import WARM_MODELS
from webhook_service.ai.retry import COLD_MODEL_DELAYS
from webhook_service.ai.studio import STUDIO_PIPELINES, is_studio_url

STEP = re.compile(r"^\[(\d)/3\] (.+?)\s+(PASS|FAIL|SKIP)\s+(\d+\.\d\d) s  (.*)$", re.M)
KEY_ENV = {"LP_KEY": TOKEN}


class FakeClock:
    """Sleeps are recorded, not waited."""

    def __init__(self) -> None:
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def studio(request):
    """A FakeStudioGenerate; parametrize indirectly with a dict of its arguments."""
    with FakeStudioGenerate(**getattr(request, "param", {})) as fake:
        yield fake


@pytest.fixture
def ai_check(runner, clock):
    """Run `ai-check --gateway URL --pipeline P ARGS` with the key in LP_KEY unless `key=False`."""
    timing = Timing(sleep=clock.sleep, monotonic=time.monotonic)

    def run(url, pipeline, *args, key=True, env=None):
        given = ["--api-key-env", "LP_KEY"] if key else []
        argv = ["ai-check", "--gateway", url, "--pipeline", pipeline, *given, *args]
        return runner.invoke(argv, obj=timing, env={**KEY_ENV, **(env or {})})

    return run


def steps(output):
    """{step number: (outcome, summary)} from ai-check's output."""
    return {int(n): (o, text) for n, _, o, _, text in STEP.findall(output)}


def posts(fake):
    return [r for r in fake.requests if r.method == "POST"]


@pytest.mark.parametrize("pipeline", STUDIO_PIPELINES)
def test_every_studio_route_takes_the_checks_requests(studio, ai_check, pipeline):
    """generate.ts, registerGenerateHandler (text-to-image JSON via validatePost, the rest
    multipart via validateFormData) and ai-api-schema.yaml's required fields: Studio takes
    each request as sent; step 1's empty JSON body is refused with 422 before any job."""
    result = ai_check(studio.base, pipeline)
    assert result.exit_code == 0, result.output
    assert "Livepeer Studio's generate API" in result.output
    found = steps(result.output)
    assert found[1][0] == "PASS" and "422" in found[1][1]
    assert found[2][0] == "PASS" and found[3][0] == "SKIP"
    assert [r.method for r in studio.requests] == ["POST", "POST"]  # Studio serves no GET
    assert studio.jobs_sent() and studio.jobs_sent()[0]["model_id"] == WARM_MODELS[pipeline]
    assert WARM_MODELS[pipeline] == DEFAULT_MODELS[pipeline]  # pull-ai-schema.js defaultModels


def test_llm_goes_to_studio_as_a_form_with_prompt(studio, ai_check):
    """generate.ts registers llm as multipart (Body_genLLM: `prompt` required, no `messages`):
    ai-check sends Studio a form with prompt, and says so in the step's summary."""
    result = ai_check(f"{studio.base}/", "llm", "--model", "acme/chat-7b")
    assert result.exit_code == 0, result.output
    jobs = studio.jobs_sent()
    assert [job["model_id"] for job in jobs] == ["acme/chat-7b", WARM_MODELS["llm"]]
    assert set(jobs[0]) == {"prompt", "max_tokens", "model_id"}
    assert posts(studio)[1].headers["content-type"].startswith("multipart/form-data")
    assert "form {prompt, max_tokens, model_id}" in steps(result.output)[2][1]


def test_llm_goes_to_a_gateway_as_json_messages():
    """A gateway's llm route takes JSON {messages, model} (livepeer/docs ai/pipelines/llm.mdx);
    Studio's form (generate.ts) is only for Studio."""
    to_gateway, to_studio = (
        minimal_request("llm", "a/b"),
        minimal_request("llm", "a/b", studio=True),
    )
    assert to_gateway.content_type == "application/json"
    assert set(json.loads(to_gateway.body)) == {"messages", "max_tokens", "model"}
    assert to_studio.content_type.startswith("multipart/form-data")
    assert set(to_studio.fields) == {"prompt", "max_tokens", "model_id"}


def test_each_fake_refuses_the_others_llm_request(studio):
    """validators.ts validateFormData refuses JSON with 422 "Expected multipart/form-data
    content-type"; the gateway refuses a form on its JSON route: the wrong shape cannot pass."""
    gateway_json = minimal_request("llm", "a/b")
    studio_form = minimal_request("llm", "a/b", studio=True)
    with FakeAiGateway() as gateway:
        refused = Gateway(gateway.url).post("llm", studio_form.body, studio_form.content_type)
        assert refused.status == 422
        taken = Gateway(gateway.url).post("llm", gateway_json.body, gateway_json.content_type)
        assert taken.status == 200
    client = Gateway(studio.base, token=TOKEN)
    refused = client.post("llm", gateway_json.body, gateway_json.content_type)
    assert refused.status == 422
    assert json.loads(refused.body) == {"errors": ["Expected multipart/form-data content-type"]}
    assert client.post("llm", studio_form.body, studio_form.content_type).status == 200


@pytest.mark.parametrize("studio", [{"mode": "cold"}], indirect=True)
def test_studios_hidden_cold_model_is_retried(studio, clock, ai_check):
    """generate.ts, proxyGenerate: the gateway's 503 reaches the user as 500 "Failed to
    generate llm"; ai-check retries it on the cold schedule (5 s, 7.5 s) and passes."""
    result = ai_check(studio.base, "llm")
    assert result.exit_code == 0, result.output
    assert clock.slept == [5, 7.5]
    assert '500: "Failed to generate llm" (Studio hides' in result.output
    assert "retry 1/5 in 5 s" in result.output and "retry 2/5 in 7.5 s" in result.output
    assert "after 2 retries" in steps(result.output)[2][1]


@pytest.mark.parametrize("studio", [{"mode": "cold", "cold_failures": 99}], indirect=True)
def test_studio_failing_to_generate_stops_with_generate_failed(studio, clock, ai_check):
    """proxyGenerate's 500 six times: step 2 fails with ai.generate_failed, whose fix says to
    try the warm model; no self-hosted gateway advice (Studio runs its own gateway)."""
    result = ai_check(studio.base, "image-to-image", "--model", "acme/pix-9")
    assert result.exit_code == 1
    assert clock.slept == list(COLD_MODEL_DELAYS) and len(studio.jobs_sent()) == 6
    outcome, summary = steps(result.output)[2]
    assert outcome == "FAIL" and "still answered 500 after 5 retries" in summary
    assert "ai.generate_failed" in summary and "hides the gateway's status" in summary
    assert f"warm model {WARM_MODELS['image-to-image']}" in result.output
    assert "run again without --model" in result.output
    assert "livepeer_cli" not in result.output and "Stopped at step 2" in result.output


def test_image_to_text_is_skipped_at_studio(studio, ai_check):
    """generate.ts registers no image-to-text route: every step says so, nothing is sent,
    and the run does not claim success."""
    result = ai_check(studio.base, "image-to-text")
    assert result.exit_code == 1
    found = steps(result.output)
    assert [found[n][0] for n in (1, 2, 3)] == ["SKIP", "SKIP", "SKIP"]
    assert "Livepeer Studio has no image-to-text route" in found[1][1]
    assert "Nothing was checked" in result.output and "dream-gateway" in result.output
    assert studio.requests == []


def test_studio_without_a_key_fails_step_1(studio, ai_check):
    """middleware/auth.ts, authorizer: a route without a token answers 401; ai-check names
    --api-key-env and sends no job."""
    result = ai_check(studio.base, "text-to-image", key=False)
    assert result.exit_code == 1
    outcome, summary = steps(result.output)[1]
    assert outcome == "FAIL" and "401" in summary and "--api-key-env" in result.output
    assert studio.jobs_sent() == []


def test_a_wrong_key_is_not_printed(studio, ai_check):
    """middleware/auth.ts, authenticator: its 401 "no token <id> found" echoes the key, which
    ai-check does not print."""
    result = ai_check(studio.base, "llm", env={"LP_KEY": "wrong-key-77e1"})
    assert result.exit_code == 1 and "401" in result.output
    assert "wrong-key-77e1" not in result.output


def test_a_studio_path_on_a_gateway_fails_step_1_with_the_route_hint(ai_check):
    """controllers/index.ts's `beta/generate` path on a host that is no Studio: the probe gets
    404 and the hint names both kinds of base URL."""
    with FakeAiGateway() as gateway:
        result = ai_check(f"{gateway.url}/api/beta/generate", "llm")
    assert result.exit_code == 1
    assert steps(result.output)[1][0] == "FAIL" and "404" in result.output
    assert "dream-gateway.livepeer.cloud" in result.output


@pytest.mark.parametrize("studio", [{"mode": "hang"}], indirect=True)
def test_a_hung_studio_job_names_the_timeout(studio, ai_check):
    """proxyGenerate waits up to 10 minutes (AI_GATEWAY_TIMEOUT) for the gateway: a hang is
    reported after --timeout, without self-hosted gateway advice."""
    result = ai_check(studio.base, "upscale", "--timeout", "0.3")
    assert result.exit_code == 1
    outcome, summary = steps(result.output)[2]
    assert outcome == "FAIL" and "no answer within 0.3 s" in summary
    assert "--timeout" in result.output and "livepeer_cli" not in result.output


@pytest.mark.parametrize("studio", [{"mode": "hang-all"}], indirect=True)
def test_a_studio_that_never_answers_fails_step_1_on_the_get_timeout(studio, ai_check):
    """Step 1's probe (an empty POST, which generate.ts's routes refuse at once) is bounded by
    --get-timeout, not the job's --timeout; no job is sent."""
    started = time.monotonic()
    result = ai_check(studio.base, "llm", "--get-timeout", "0.2", "--timeout", "60")
    assert time.monotonic() - started < 5
    assert result.exit_code == 1
    outcome, summary = steps(result.output)[1]
    assert outcome == "FAIL" and "no answer within 0.2 s" in summary
    assert "network" in result.output and "livepeer_cli" not in result.output
    assert len(studio.requests) == 1


@pytest.mark.parametrize("studio", [{"also_required": ("system_msg",)}], indirect=True)
def test_studios_422_is_shown_in_its_own_words(studio, ai_check):
    """validators.ts sends ajv's errors as {"errors": ["<JSON>"]}, not a gateway's `detail`
    list: step 2 fails with ai.validation and prints Studio's message."""
    result = ai_check(studio.base, "llm")
    assert result.exit_code == 1
    assert "ai.validation" in steps(result.output)[2][1]
    assert "said: " in result.output and "must have required property 'system_msg'" in (
        result.output
    )


@pytest.mark.parametrize("studio", [{"suspended": True}], indirect=True)
def test_a_suspended_account_is_named_at_step_1(studio, ai_check):
    """middleware/auth.ts, authenticator: a suspended user's key gets 403 "user is suspended"
    on every path; step 1 quotes Studio's words instead of guessing."""
    result = ai_check(studio.base, "text-to-image")
    assert result.exit_code == 1
    outcome, summary = steps(result.output)[1]
    assert outcome == "FAIL" and "403 (user is suspended)" in summary
    assert "Livepeer support" in result.output and studio.jobs_sent() == []


@pytest.mark.parametrize(
    ("url", "studio"),
    [
        ("https://livepeer.studio/api/beta/generate", True),
        ("https://livepeer.studio/api/beta/generate/", True),
        ("https://livepeer.studio/api/generate", True),
        ("https://livepeer.studio/API/Beta/Generate", True),
        ("http://127.0.0.1:3004/api/generate", True),
        ("https://dream-gateway.livepeer.cloud", False),
        ("http://127.0.0.1:8937/", False),
        ("https://livepeer.studio/api", False),
        ("https://gw.example/generate", False),
        ("https://gw.example/myapi/generate", False),
        ("https://gw.example/api/generate/llm", False),
    ],
)
def test_studio_or_gateway_rule(url, studio):
    """controllers/index.ts mounts the generate router at `generate` and `beta/generate` under
    app-router.ts's `/api` prefix: a base path ending so is Studio, anything else a gateway."""
    assert is_studio_url(url) is studio


def test_help_documents_the_studio_or_gateway_rule(runner):
    """The rule (controllers/index.ts's `generate` and `beta/generate` under `/api`) and
    Studio's llm form (generate.ts) are in --help, next to image-to-text's skip."""
    text = " ".join(runner.invoke(["ai-check", "--help"]).output.split())
    assert "path ends in /api/generate or /api/beta/generate" in text
    assert "llm as a form with `prompt`" in text and "image-to-text is skipped" in text
