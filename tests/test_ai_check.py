"""`livepeer-webhooks ai-check` against a real local fake gateway: warm, cold, 422, hung, gone."""

from __future__ import annotations

import io
import re
import time
import wave

import pytest
from fake_ai_gateway import REQUIRED, FakeAiGateway, png_size, wav_frames
from helpers import free_port

from webhook_service.ai.checklist import Timing
from webhook_service.ai.payloads import minimal_request, tiny_png, tiny_wav
from webhook_service.ai.pipelines import MULTIPART_PIPELINES, PIPELINES, WARM_MODELS
from webhook_service.ai.retry import COLD_MODEL_DELAYS

T2I_WARM = WARM_MODELS["text-to-image"]
STEP = re.compile(r"^\[(\d)/3\] (.+?)\s+(PASS|FAIL|SKIP)\s+(\d+\.\d\d) s  (.*)$", re.M)


class FakeClock:
    """Real monotonic time plus whatever was 'slept'; sleeps are recorded, not waited."""

    def __init__(self) -> None:
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)

    def monotonic(self) -> float:
        return time.monotonic() + sum(self.slept)


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def gateway(request):
    """A FakeAiGateway; parametrize indirectly with a mode or a dict of its arguments."""
    param = getattr(request, "param", "warm")
    kwargs = param if isinstance(param, dict) else {"mode": param}
    with FakeAiGateway(**kwargs) as fake:
        yield fake


@pytest.fixture
def ai_check(runner, clock):
    """Run `livepeer-webhooks ai-check ARGS` with `clock`'s sleep and time."""
    timing = Timing(sleep=clock.sleep, monotonic=clock.monotonic)
    return lambda *args, env=None: runner.invoke(["ai-check", *args], obj=timing, env=env)


def steps(output):
    """{step number: (outcome, seconds, summary)} from ai-check's output."""
    return {int(n): (o, float(s), text) for n, _, o, s, text in STEP.findall(output)}


def test_warm_gateway_passes_every_step(gateway, clock, ai_check):
    """405 on GET, 200 on the minimal POST with the warm model; step 3 skipped; exit 0."""
    result = ai_check("--gateway", gateway.url, "--pipeline", "text-to-image")
    assert result.exit_code == 0, result.output
    found = steps(result.output)
    assert [found[n][0] for n in (1, 2, 3)] == ["PASS", "PASS", "SKIP"]
    assert "405" in found[1][2] and T2I_WARM in found[2][2]
    assert "All steps passed." in result.output
    assert [(r.method, r.path) for r in gateway.requests] == [
        ("GET", "/text-to-image"),
        ("POST", "/text-to-image"),
    ]
    assert gateway.post_models() == [T2I_WARM] and clock.slept == []


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_minimal_post_satisfies_the_gateway_schema(gateway, ai_check, pipeline):
    """For every pipeline, the minimal POST carries the required fields in the right encoding."""
    result = ai_check("--gateway", gateway.url, "--pipeline", pipeline)
    assert result.exit_code == 0, result.output
    post = next(r for r in gateway.requests if r.method == "POST")
    kind = "multipart/form-data" if pipeline in MULTIPART_PIPELINES else "application/json"
    assert post.headers["content-type"].startswith(kind)
    assert set(REQUIRED[pipeline]) - {"model_id"} <= set(post.fields)


def test_a_given_model_then_the_warm_model(gateway, ai_check):
    """--model is tried first; step 3 repeats the call with the pipeline's warm model."""
    result = ai_check("--gateway", gateway.url, "--pipeline", "llm", "--model", "acme/chat-7b")
    assert result.exit_code == 0, result.output
    assert [o for o, _, _ in steps(result.output).values()] == ["PASS", "PASS", "PASS"]
    assert gateway.post_models() == ["acme/chat-7b", WARM_MODELS["llm"]]


@pytest.mark.parametrize(
    ("pipeline", "model"),
    [
        ("upscale", "stabilityai/stable-diffusion-x4-upscaler"),
        ("image-to-video", "stabilityai/stable-video-diffusion-img2vid-xt-1-1"),
        ("segment-anything-2", "facebook/sam2-hiera-large"),
    ],
)
def test_the_docs_warm_models_are_sent_where_the_guide_names_none(
    gateway, ai_check, pipeline, model
):
    """livepeer/docs ai/pipelines/<pipeline>.mdx, "Warm Models": the minimal POST sends that
    model_id (the community gateway requires one); step 3 is then skipped."""
    result = ai_check("--gateway", f"{gateway.url}/", "--pipeline", pipeline)
    assert result.exit_code == 0, result.output
    assert gateway.post_models() == [model]
    assert steps(result.output)[3][0] == "SKIP" and "already used the warm model" in result.output


@pytest.mark.parametrize("gateway", ["cold"], indirect=True)
def test_cold_model_is_retried_on_the_schedule(gateway, clock, ai_check):
    """503 twice then 200: retried after 5 s and 7.5 s (injected sleep), and the step passes."""
    result = ai_check("--gateway", gateway.url, "--pipeline", "image-to-image")
    assert result.exit_code == 0, result.output
    assert clock.slept == [5, 7.5]
    assert "503: the model is loading; retry 1/5 in 5 s" in result.output
    assert "retry 2/5 in 7.5 s" in result.output
    outcome, seconds, summary = steps(result.output)[2]
    assert outcome == "PASS" and "after 2 retries" in summary
    assert seconds >= 12.5  # the step's time includes its waits
    assert len(gateway.post_models()) == 3


@pytest.mark.parametrize("gateway", [{"mode": "cold", "cold_failures": 99}], indirect=True)
def test_a_model_that_stays_cold_fails_after_five_retries(gateway, clock, ai_check):
    """Six 503s: the whole schedule waited, then step 2 fails with ai.cold_model and next steps."""
    result = ai_check("--gateway", gateway.url, "--pipeline", "audio-to-text")
    assert result.exit_code == 1
    assert clock.slept == list(COLD_MODEL_DELAYS)
    assert len(gateway.post_models()) == 6
    assert "ai.cold_model" in result.output and "still answered 503" in result.output
    assert "5 minutes" in result.output and "livepeer_cli -status" in result.output
    assert "Stopped at step 2" in result.output and "[3/3]" not in result.output


@pytest.mark.parametrize("gateway", ["422"], indirect=True)
def test_validation_error_stops_with_the_failing_fields(gateway, clock, ai_check):
    """A 422 is not retried: step 2 fails with ai.validation naming model_id; step 3 never runs."""
    result = ai_check("--gateway", gateway.url, "--pipeline", "text-to-image", "--model", "a/b")
    assert result.exit_code == 1
    assert "ai.validation" in result.output
    assert "body.model_id: Field required (missing)" in result.output
    assert "[3/3]" not in result.output and clock.slept == []
    assert len(gateway.post_models()) == 1


@pytest.mark.parametrize(
    "gateway",
    [{"mode": "422", "detail": [{"loc": ["body", "width"], "msg": "x", "type": "int_parsing"}]}],
    indirect=True,
)
def test_422_on_dimensions_is_explained(gateway, ai_check):
    """The documented 422 shape with an integer error on width gives ai.dimensions_not_integer."""
    result = ai_check("--gateway", gateway.url, "--pipeline", "text-to-image")
    assert result.exit_code == 1
    assert "ai.dimensions_not_integer" in result.output


@pytest.mark.parametrize("gateway", ["hang"], indirect=True)
def test_hung_post_is_reported_as_a_hang(gateway, ai_check):
    """A POST that never answers fails after --timeout with what to check next."""
    started = time.monotonic()
    result = ai_check(
        "--gateway",
        gateway.url,
        "--pipeline",
        "llm",
        "--model",
        "acme/chat-7b",
        "--timeout",
        "0.3",
    )
    assert time.monotonic() - started < 5
    assert result.exit_code == 1
    outcome, seconds, summary = steps(result.output)[2]
    assert outcome == "FAIL" and "no answer within 0.3 s" in summary and seconds >= 0.3
    assert "--timeout" in result.output and WARM_MODELS["llm"] in result.output
    assert "orchestrators advertise" in result.output


@pytest.mark.parametrize("gateway", ["hang-get"], indirect=True)
def test_hung_get_stops_at_step_1(gateway, ai_check):
    """A gateway that accepts connections but never answers fails reachability; no POST is sent."""
    result = ai_check("--gateway", gateway.url, "--pipeline", "llm", "--get-timeout", "0.2")
    assert result.exit_code == 1
    assert steps(result.output)[1][0] == "FAIL" and "no answer within 0.2 s" in result.output
    assert "livepeer_cli -status" in result.output
    assert gateway.post_models() == []


def test_unreachable_gateway_fails_step_1(ai_check):
    """Nothing listening: step 1 fails with 'connection refused' and the gateway checks."""
    url = f"http://127.0.0.1:{free_port()}"
    result = ai_check("--gateway", url, "--pipeline", "text-to-image")
    assert result.exit_code == 1
    assert steps(result.output)[1][0] == "FAIL"
    assert "connection refused" in result.output and "livepeer_cli -status" in result.output


def test_wrong_base_url_gets_404_and_the_route_hint(gateway, ai_check):
    """A base URL with a wrong path gets 404 on GET: the hint names the known gateway bases."""
    result = ai_check("--gateway", f"{gateway.url}/api", "--pipeline", "llm")
    assert result.exit_code == 1
    assert "404" in result.output and "livepeer.studio/api/beta/generate" in result.output


@pytest.mark.parametrize("gateway", [{"token": "lp-key-5e1d"}], indirect=True)
def test_api_key_is_read_from_the_named_variable(gateway, ai_check):
    """--api-key-env sends the key as a bearer token; without it the 401 says how to give it."""
    args = ("--gateway", gateway.url, "--pipeline", "text-to-image")
    result = ai_check(*args, "--api-key-env", "LP_KEY", env={"LP_KEY": "lp-key-5e1d"})
    assert result.exit_code == 0, result.output
    assert gateway.requests[-1].headers["authorization"] == "Bearer lp-key-5e1d"
    assert "lp-key-5e1d" not in result.output
    result = ai_check(*args)
    assert result.exit_code == 1
    assert "ai.gateway_error" in result.output and "--api-key-env" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["--gateway", "ftp://gw.example", "--pipeline", "llm"],
        ["--gateway", "not a url", "--pipeline", "llm"],
        ["--gateway", "https://user:pw@gw.example", "--pipeline", "llm"],
        ["--gateway", "https://gw.example/?x=1", "--pipeline", "llm"],
        ["--gateway", "https://gw.example", "--pipeline", "text-to-nothing"],
        ["--gateway", "https://gw.example"],
        ["--pipeline", "llm"],
        ["--gateway", "https://gw.example", "--pipeline", "llm", "--timeout", "0"],
        ["--gateway", "https://gw.example", "--pipeline", "llm", "--api-key-env", "UNSET_VAR_X"],
    ],
)
def test_bad_usage_exits_2(ai_check, args):
    """Bad URLs, unknown pipelines, missing options, zero timeouts, unset key variables: exit 2."""
    result = ai_check(*args, env={"UNSET_VAR_X": ""})
    assert result.exit_code == 2, result.output
    assert "pw" not in result.output.replace("--", "")


def test_help_has_examples(runner):
    """--help shows the checklist and examples."""
    result = runner.invoke(["ai-check", "--help"])
    assert result.exit_code == 0
    assert "Example" in result.output and "405" in result.output


def test_tiny_png_is_a_valid_png():
    """The generated image has a PNG signature, correct CRCs and 64x64 pixels of RGB data."""
    assert png_size(tiny_png()) == (64, 64)
    assert png_size(tiny_png(8)) == (8, 8)
    broken = bytearray(tiny_png())
    broken[20] ^= 0xFF
    assert png_size(bytes(broken)) is None  # the checker itself catches a bad CRC


def test_tiny_wav_is_one_second_of_16khz_mono():
    """The generated audio parses as 16-bit mono 16 kHz WAV, one second long."""
    data = tiny_wav()
    assert wav_frames(data) == 16_000
    with wave.open(io.BytesIO(data)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 16_000)


@pytest.mark.parametrize("pipeline", sorted(MULTIPART_PIPELINES))
def test_file_pipelines_send_multipart_without_model_when_none(pipeline):
    """Without a model the form has no model_id field at all (never an empty one)."""
    request = minimal_request(pipeline, None)
    body = request.body
    assert request.content_type.startswith("multipart/form-data; boundary=")
    assert b'name="model_id"' not in body and "model_id" not in request.fields
    assert (b'name="audio"' if pipeline == "audio-to-text" else b'name="image"') in body
