"""The `ai` check as a table: every code, the decision order, 422 bodies as objects or text."""

from __future__ import annotations

import json
from typing import Any

import pytest

from webhook_service.ai.bodies import media_type, validation_details
from webhook_service.ai.pipelines import MULTIPART_PIPELINES, PIPELINES, WARM_MODELS
from webhook_service.ai.studio import STUDIO_PIPELINES
from webhook_service.diagnostics.ai import ROWS, AiFacts, diagnose_ai, is_hf_model_id

T2I_WARM = "SG161222/RealVisXL_V4.0_Lightning"
JSON = "application/json"
FORM = "multipart/form-data; boundary=xyz"


def detail(*items: tuple[list[Any], str]) -> dict[str, Any]:
    """A gateway 422 body: one {"loc", "msg", "type"} per (loc, type)."""
    return {"detail": [{"loc": loc, "msg": f"bad {loc[-1]}", "type": kind} for loc, kind in items]}


# generate.ts, proxyGenerate: what a user who is not an admin gets for any gateway 5xx.
STUDIO_500 = {"errors": ["Failed to generate text-to-image"]}
WIDTH_NOT_INT = detail((["body", "width"], "int_parsing"))
MODEL_MISSING = detail((["body", "model_id"], "missing"))


def facts(
    pipeline: str = "text-to-image",
    model_id: str | None = T2I_WARM,
    status: int | None = 200,
    body: Any = None,
    content_type: str | None = JSON,
) -> AiFacts:
    return AiFacts(pipeline, model_id, status, body, content_type)


# (name, facts, expected code): the rows in DESIGN.md's decision order, and what beats what.
CASES = [
    ("file pipeline as JSON", facts("image-to-image", status=422), "ai.multipart_required"),
    (
        "multipart beats dimensions",
        facts("image-to-video", status=422, body=WIDTH_NOT_INT),
        "ai.multipart_required",
    ),
    (
        "multipart beats a bad model id",
        facts("upscale", model_id="upscaler", status=422),
        "ai.multipart_required",
    ),
    (
        "JSON with charset",
        facts("audio-to-text", content_type="application/json; charset=utf-8"),
        "ai.multipart_required",
    ),
    (
        "upper-case media type",
        facts("segment-anything-2", content_type="Application/JSON"),
        "ai.multipart_required",
    ),
    (
        "urlencoded file upload",
        facts("image-to-text", content_type="application/x-www-form-urlencoded"),
        "ai.multipart_required",
    ),
    ("multipart is fine", facts("image-to-image", content_type=FORM), "ai.ok"),
    (
        "no content type known",
        facts("image-to-image", content_type=None, status=503),
        "ai.cold_model",
    ),
    ("JSON pipeline as JSON", facts("text-to-image", status=200), "ai.ok"),
    ("width not an integer", facts(status=422, body=WIDTH_NOT_INT), "ai.dimensions_not_integer"),
    (
        "height, pydantic v1 type",
        facts(status=422, body=detail((["body", "height"], "type_error.integer"))),
        "ai.dimensions_not_integer",
    ),
    (
        "width a fraction",
        facts(status=422, body=detail((["body", "width"], "int_from_float"))),
        "ai.dimensions_not_integer",
    ),
    (
        "dimensions as JSON text",
        facts(status=422, body=json.dumps(WIDTH_NOT_INT)),
        "ai.dimensions_not_integer",
    ),
    (
        "dimensions beat a bad model id",
        facts(model_id="realvis", status=422, body=WIDTH_NOT_INT),
        "ai.dimensions_not_integer",
    ),
    (
        "width missing is not a type error",
        facts(status=422, body=detail((["body", "width"], "missing"))),
        "ai.validation",
    ),
    (
        "an integer error on another field",
        facts(status=422, body=detail((["body", "seed"], "int_parsing"))),
        "ai.validation",
    ),
    ("model id without owner", facts(model_id="RealVisXL", status=422), "ai.model_id_format"),
    (
        "model id beats validation",
        facts(model_id="a/b/c", status=422, body=MODEL_MISSING),
        "ai.model_id_format",
    ),
    ("model id beats cold model", facts(model_id="whisper", status=503), "ai.model_id_format"),
    ("empty model id", facts(model_id="", status=500), "ai.model_id_format"),
    ("other 422", facts(status=422, body=MODEL_MISSING, model_id=None), "ai.validation"),
    ("422 as text", facts(status=422, body=json.dumps(MODEL_MISSING)), "ai.validation"),
    ("422 not JSON", facts(status=422, body="Unprocessable Entity"), "ai.validation"),
    ("422 Studio shape", facts(status=422, body={"errors": ["bad"]}), "ai.validation"),
    ("cold model", facts(status=503), "ai.cold_model"),
    ("Studio hides a 5xx", facts(status=500, body=STUDIO_500), "ai.generate_failed"),
    (
        "Studio's 500 as text",
        facts("llm", model_id=None, status=500, body=json.dumps(STUDIO_500)),
        "ai.generate_failed",
    ),
    (
        "a 503 is a cold model whatever its body",
        facts(status=503, body=STUDIO_500),
        "ai.cold_model",
    ),
    (
        "multipart beats generate_failed",
        facts("upscale", status=500, body=STUDIO_500),
        "ai.multipart_required",
    ),
    (
        "model id beats generate_failed",
        facts(model_id="realvis", status=500, body=STUDIO_500),
        "ai.model_id_format",
    ),
    ("cold, body text", facts(status=503, body="Service Unavailable"), "ai.cold_model"),
    ("unauthorised", facts(status=401), "ai.gateway_error"),
    ("server error", facts(status=500), "ai.gateway_error"),
    ("bad gateway", facts(status=502), "ai.gateway_error"),
    ("timeout at the gateway", facts(status=504), "ai.gateway_error"),
    ("rate limited", facts(status=429), "ai.gateway_error"),
    ("a redirect is not success", facts(status=307), "ai.gateway_error"),
    ("ok", facts(status=200), "ai.ok"),
    ("created", facts(status=201), "ai.ok"),
    (
        "unknown pipeline ok",
        facts("text-to-speech", model_id="parler-tts/parler-tts-large-v1"),
        "ai.ok",
    ),
    ("no answer at all", facts(status=None), "ai.unknown"),
]
STATUS = {
    "ai.multipart_required": "fail",
    "ai.dimensions_not_integer": "fail",
    "ai.model_id_format": "fail",
    "ai.validation": "fail",
    "ai.cold_model": "warn",
    "ai.generate_failed": "warn",
    "ai.gateway_error": "fail",
    "ai.ok": "ok",
    "ai.unknown": "unknown",
}


@pytest.mark.parametrize(("name", "given", "code"), CASES, ids=[c[0] for c in CASES])
def test_decision_table(name, given, code):
    """Each case answers the first matching row of DESIGN.md, with that row's status."""
    verdict = diagnose_ai(given)
    assert (verdict.check, verdict.code, verdict.status) == ("ai", code, STATUS[code])
    assert verdict.cause and verdict.fix
    assert verdict.evidence["pipeline"] == given.pipeline
    assert verdict.evidence["status"] == given.status
    json.dumps(verdict.as_dict())  # the evidence is plain JSON


@pytest.mark.parametrize("pipeline", sorted(MULTIPART_PIPELINES))
def test_every_file_pipeline_needs_multipart(pipeline):
    """All file pipelines (image-to-text too) sent as JSON get multipart_required."""
    verdict = diagnose_ai(facts(pipeline, status=422, content_type=JSON))
    assert verdict.code == "ai.multipart_required"
    assert "multipart/form-data" in verdict.fix and pipeline in verdict.cause


@pytest.mark.parametrize("pipeline", ["text-to-image", "llm", "image-to-image"])
def test_cold_model_carries_the_schedule_and_the_warm_model(pipeline):
    """503: the exact retry delays, the ~66 s versus 5 minutes note, the warm model to switch to."""
    given = facts(pipeline, model_id="someone/cold-model", status=503, content_type=None)
    verdict = diagnose_ai(given)
    ev = verdict.evidence
    assert ev["retry_delays_seconds"] == [5, 7.5, 11.25, 16.875, 25.3125]
    assert ev["retry_total_seconds"] == pytest.approx(65.9375)
    assert "66 s" in ev["retry_note"] and "5 minutes" in ev["retry_note"]
    assert ev["warm_model"] == WARM_MODELS[pipeline]
    assert WARM_MODELS[pipeline] in verdict.fix and "66 s" in verdict.fix


def test_cold_warm_model_points_at_orchestrators():
    """When the warm model itself is cold, the fix says so instead of suggesting it again."""
    verdict = diagnose_ai(facts(model_id=T2I_WARM, status=503))
    assert "already" in verdict.fix and "orchestrators" in verdict.fix


@pytest.mark.parametrize("pipeline", STUDIO_PIPELINES)
def test_generate_failed_carries_the_cold_model_retry_plan(pipeline):
    """generate.ts, proxyGenerate: any gateway status >= 500 reaches a user who is not an admin
    as 500 {"errors": ["Failed to generate <type>"]}; the retry plan is the cold model's."""
    body = {"errors": [f"Failed to generate {pipeline}"]}
    form = JSON if pipeline in ("text-to-image", "llm") else FORM
    verdict = diagnose_ai(facts(pipeline, "someone/other-model", 500, body, form))
    assert (verdict.code, verdict.status) == ("ai.generate_failed", "warn")
    ev = verdict.evidence
    assert ev["retry_delays_seconds"] == [5, 7.5, 11.25, 16.875, 25.3125]
    assert ev["retry_total_seconds"] == pytest.approx(65.9375) and "5 minutes" in ev["retry_note"]
    assert ev["retry_note"].endswith("may still fail.")  # not "a 503": Studio shows none
    assert ev["studio_message"] == f"Failed to generate {pipeline}"
    assert "hides the gateway's status" in verdict.cause and pipeline in verdict.cause
    assert "cold model from a broken request" in verdict.fix
    assert f"warm model {WARM_MODELS[pipeline]}" in verdict.fix and "25.3125" in verdict.fix


@pytest.mark.parametrize("model_id", [None, T2I_WARM])
def test_generate_failed_with_the_warm_model_suspects_the_request(model_id):
    """generate.ts, createPayload: Studio sends its default model (the warm one) when model_id
    is left out, so then the fix cannot suggest the warm model: it points at the request."""
    verdict = diagnose_ai(facts(model_id=model_id, status=500, body=STUDIO_500))
    assert verdict.code == "ai.generate_failed"
    assert "already used the warm model" in verdict.fix and "suspect the request" in verdict.fix
    assert "ai-check" in verdict.fix and "cold model from a broken request" not in verdict.fix


@pytest.mark.parametrize(
    "body",
    [
        {"errors": ["Internal server error: Error"]},  # errorHandler.ts, proxyGenerate threw
        {"errors": ["AI Gateway URL is not set"]},  # proxyGenerate, no aiGatewayUrl
        {"errors": []},
        {"errors": "Failed to generate llm"},
        {"errors": [7, "Failed to generate llm"]},
        {"detail": {"msg": "Failed to generate llm"}},  # an admin sees the runner's own body
        "Failed to generate llm",
        "{",
        None,
    ],
)
def test_other_500s_are_gateway_errors(body):
    """Only proxyGenerate's exact body `{"errors": ["Failed to generate ..."]}` is Studio hiding
    a gateway 5xx; Studio's other 500s (errorHandler.ts, proxyGenerate) are gateway errors."""
    verdict = diagnose_ai(facts("llm", "meta-llama/Meta-Llama-3.1-8B-Instruct", 500, body))
    assert verdict.code == "ai.gateway_error" and "retry_delays_seconds" not in verdict.evidence


@pytest.mark.parametrize(
    ("pipeline", "status", "body", "code"),
    [
        ("foo", 503, None, "ai.gateway_error"),
        ("text-to-speech", 503, "Service Unavailable", "ai.gateway_error"),
        ("foo", 500, {"errors": ["Failed to generate foo"]}, "ai.gateway_error"),
        ("foo", 401, {"errors": ["request is not authenticated"]}, "ai.gateway_error"),
        ("foo", 422, MODEL_MISSING, "ai.validation"),
        ("foo", 200, None, "ai.ok"),
    ],
)
def test_a_pipeline_outside_the_known_ones_is_no_cold_model(pipeline, status, body, code):
    """A name outside PIPELINES (the routes of generate.ts's registerGenerateHandler plus
    image-to-text) skips the cold-model rows, which need the pipeline: "another non-2xx"."""
    verdict = diagnose_ai(facts(pipeline, model_id="someone/model", status=status, body=body))
    assert verdict.code == code and verdict.evidence["warm_model"] is None
    if code in ("ai.ok", "ai.validation"):  # rows that do not depend on the pipeline
        assert "known_pipelines" not in verdict.evidence
        return
    assert verdict.evidence["known_pipelines"] == list(PIPELINES)
    assert "retry_delays_seconds" not in verdict.evidence
    loading = status == 503 or status == 500
    assert ("not a pipeline this service knows" in verdict.cause) is loading
    assert ("route name" in verdict.fix and "25.3125" in verdict.fix) is loading


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        (MODEL_MISSING, ["model_id"]),
        (
            detail((["body", "prompt"], "missing"), (["body", "image"], "missing")),
            ["prompt", "image"],
        ),
        (detail((["body", "prompt"], "missing"), (["query", "prompt"], "missing")), ["prompt"]),
        (detail((["body", "messages", 0, "role"], "missing")), ["role"]),
        (detail((["body", "loras", 3], "string_type")), ["3"]),
        ("not json", []),
        ({"detail": "Unprocessable"}, []),
        ({"detail": [{"loc": [], "msg": "x"}, "junk", None, {"msg": "no loc"}]}, []),
    ],
)
def test_validation_lists_the_last_loc_item_of_each_failure(body, fields):
    """evidence.fields holds each failing field once (the last `loc` item), in order."""
    verdict = diagnose_ai(facts(model_id=None, status=422, body=body))
    assert verdict.code == "ai.validation"
    assert verdict.evidence["fields"] == fields


def test_validation_of_a_missing_model_id_names_the_warm_model():
    """A missing model_id: the fix names the pipeline's warm model to send."""
    verdict = diagnose_ai(
        facts("audio-to-text", model_id=None, status=422, body=MODEL_MISSING, content_type=FORM)
    )
    assert "openai/whisper-large-v3" in verdict.fix
    assert "model_id" in verdict.cause


def test_validation_evidence_never_copies_the_input():
    """Pydantic's `input` (the user's prompt or file) is left out; long strings are cut."""
    body = {
        "detail": [
            {"loc": ["body", "width"], "msg": "m" * 5000, "type": "string_type", "input": "SECRETX"}
        ]
    }
    verdict = diagnose_ai(facts(status=422, body=body))
    assert "SECRETX" not in json.dumps(verdict.as_dict())
    assert len(verdict.evidence["errors"][0]["msg"]) == 200


@pytest.mark.parametrize(
    ("model_id", "valid"),
    [
        ("SG161222/RealVisXL_V4.0_Lightning", True),
        ("openai/whisper-large-v3", True),
        ("meta-llama/Meta-Llama-3.1-8B-Instruct", True),
        ("a/b", True),
        ("RealVisXL", False),
        ("a/b/c", False),
        ("/name", False),
        ("owner/", False),
        ("owner/-name", False),
        ("owner/name.", False),
        (" owner/name", False),
        ("owner/na me", False),
        ("https://huggingface.co/openai/whisper-large-v3", False),
        ("", False),
    ],
)
def test_hugging_face_id_format(model_id, valid):
    """owner/name, each part letters, digits, `._-`, not starting or ending with `.`/`-`."""
    assert is_hf_model_id(model_id) is valid


@pytest.mark.parametrize(
    ("status", "body", "message", "hint"),
    [
        (401, {"errors": ["Invalid API key"]}, "Invalid API key", "Bearer"),
        (500, {"detail": {"msg": "orchestrator failed"}}, "orchestrator failed", "ai-check"),
        (  # errorHandler.ts: an exception in proxyGenerate (generate.test.ts has this body)
            500,
            '{"errors": ["Internal server error: Error"]}',
            "Internal server error: Error",
            "hides",
        ),
        (500, {"errors": ["AI Gateway URL is not set"]}, "AI Gateway URL is not set", "hides"),
        (502, STUDIO_500, "Failed to generate text-to-image", "ai-check"),
        (502, "<html>bad gateway</html>", None, "ai-check"),
        (404, {"detail": "Not Found"}, "Not Found", "base URL"),
        (429, {"errors": ["Too many AI requests"]}, "Too many AI requests", "Retry-After"),
        (400, [1, 2], None, "request"),
    ],
)
def test_gateway_error_quotes_the_gateways_message_and_a_fix(status, body, message, hint):
    """The runner's `detail.msg` or Studio's `errors[0]` is evidence; the fix fits the status."""
    verdict = diagnose_ai(facts(status=status, body=body))
    assert verdict.code == "ai.gateway_error" and str(status) in verdict.cause
    assert verdict.evidence.get("gateway_message") == message
    assert hint in verdict.fix


def test_warm_models_are_the_guides_five_and_the_docs_three():
    """LIVEPEER.md's five, plus livepeer/docs ai/pipelines/{image-to-video,upscale,
    segment-anything-2}.mdx "Warm Models" (also Studio's pull-ai-schema.js defaultModels)."""
    assert dict(WARM_MODELS) == {
        "text-to-image": "SG161222/RealVisXL_V4.0_Lightning",
        "image-to-image": "timbrooks/instruct-pix2pix",
        "audio-to-text": "openai/whisper-large-v3",
        "image-to-text": "Salesforce/blip-image-captioning-large",
        "llm": "meta-llama/Meta-Llama-3.1-8B-Instruct",
        "image-to-video": "stabilityai/stable-video-diffusion-img2vid-xt-1-1",
        "upscale": "stabilityai/stable-diffusion-x4-upscaler",
        "segment-anything-2": "facebook/sam2-hiera-large",
    }
    assert set(WARM_MODELS) == set(PIPELINES)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("application/json", "application/json"),
        ("Application/JSON; charset=UTF-8", "application/json"),
        (" multipart/form-data; boundary=x", "multipart/form-data"),
        ("", None),
        (None, None),
        (";", None),
    ],
)
def test_media_type(header, expected):
    """The media type is compared without parameters, case-insensitively."""
    assert media_type(header) == expected


@pytest.mark.parametrize(
    "body",
    [None, 42, [], "[", '{"detail": 1}', {"detail": {"msg": "x"}}, b"\xff\xfe", "[" * 5000],
)
def test_validation_details_of_other_shapes_is_none(body):
    """Bodies that are not `{"detail": [...]}` are told apart, never an exception."""
    assert validation_details(body) is None


def test_evidence_is_bounded():
    """Oversized facts from outside are cut before they reach evidence."""
    verdict = diagnose_ai(
        facts("x" * 500, model_id="o/" + "n" * 1000, content_type="a/" + "b" * 999)
    )
    assert len(verdict.evidence["pipeline"]) == 64
    assert len(verdict.evidence["model_id"]) == 256
    assert len(verdict.evidence["content_type"]) == 128


def test_rows_are_in_designs_decision_order():
    """DESIGN.md's ai rows, generate_failed (generate.ts, proxyGenerate's hidden 5xx) between
    cold_model and gateway_error: the order the catalog and docs show."""
    assert list(ROWS) == [
        "multipart_required",
        "dimensions_not_integer",
        "model_id_format",
        "validation",
        "cold_model",
        "generate_failed",
        "gateway_error",
        "ok",
    ]
