"""The `ai` check as a table: every code, the decision order, 422 bodies as objects or text."""

from __future__ import annotations

import json
from typing import Any

import pytest

from webhook_service.diagnostics.ai import (
    MULTIPART_PIPELINES,
    WARM_MODELS,
    AiFacts,
    diagnose_ai,
    is_hf_model_id,
    media_type,
    validation_details,
)

T2I_WARM = "SG161222/RealVisXL_V4.0_Lightning"
JSON = "application/json"
FORM = "multipart/form-data; boundary=xyz"


def detail(*items: tuple[list[Any], str]) -> dict[str, Any]:
    """A gateway 422 body: one {"loc", "msg", "type"} per (loc, type)."""
    return {"detail": [{"loc": loc, "msg": f"bad {loc[-1]}", "type": kind} for loc, kind in items]}


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


def test_cold_model_of_an_unknown_pipeline_suggests_no_warm_model():
    """A pipeline without a warm model is no error, it just gets no suggestion."""
    verdict = diagnose_ai(facts("text-to-speech", model_id="parler-tts/x", status=503))
    assert verdict.code == "ai.cold_model"
    assert verdict.evidence["warm_model"] is None and "warm model" not in verdict.fix


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
        (
            500,
            '{"errors": ["Failed to generate text-to-image"]}',
            "Failed to generate text-to-image",
            "hides",
        ),
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


def test_warm_models_are_exactly_the_five_of_livepeer_md():
    """The table LIVEPEER.md gives, nothing more."""
    assert dict(WARM_MODELS) == {
        "text-to-image": "SG161222/RealVisXL_V4.0_Lightning",
        "image-to-image": "timbrooks/instruct-pix2pix",
        "audio-to-text": "openai/whisper-large-v3",
        "image-to-text": "Salesforce/blip-image-captioning-large",
        "llm": "meta-llama/Meta-Llama-3.1-8B-Instruct",
    }


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
