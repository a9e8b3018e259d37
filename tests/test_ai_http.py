"""POST /api/diagnosis/ai and GET /api/ai/warm-models over HTTP: answers, auth, bad requests."""

from __future__ import annotations

import json

import pytest
from helpers import auth
from prometheus_client import REGISTRY

COLD = {
    "pipeline": "text-to-image",
    "model_id": "ByteDance/SDXL-Lightning",
    "status": 503,
    "body": {"detail": {"msg": "model loading"}},
    "content_type": "application/json",
}
WIDTH_422 = {
    "detail": [
        {"loc": ["body", "width"], "msg": "Input should be a valid integer", "type": "int_parsing"}
    ]
}


def diagnose(client, payload, **kwargs):
    data = payload if isinstance(payload, str | bytes) else json.dumps(payload)
    headers = {**auth(), "Content-Type": "application/json", **kwargs.pop("headers", {})}
    return client.post("/api/diagnosis/ai", data=data, headers=headers, **kwargs)


@pytest.mark.parametrize("as_text", [False, True])
def test_studios_generate_failed_over_http(client, as_text):
    """generate.ts, proxyGenerate: Studio's 500 {"errors": ["Failed to generate llm"]} answers
    ai.generate_failed (warn) with the cold model's retry plan and the warm model to try."""
    body = {"errors": ["Failed to generate llm"]}
    payload = {
        "pipeline": "llm",
        "model_id": "acme/chat-7b",
        "status": 500,
        "body": json.dumps(body) if as_text else body,
        "content_type": "multipart/form-data; boundary=x",
    }
    response = diagnose(client, payload)
    assert response.status_code == 200
    verdict = response.get_json()
    assert (verdict["status"], verdict["code"]) == ("warn", "ai.generate_failed")
    assert verdict["evidence"]["retry_delays_seconds"] == [5, 7.5, 11.25, 16.875, 25.3125]
    assert verdict["evidence"]["studio_message"] == "Failed to generate llm"
    assert "meta-llama/Meta-Llama-3.1-8B-Instruct" in verdict["fix"]


def test_cold_model_over_http(client):
    """A 503 answers ai.cold_model with the schedule and the warm model, as a Verdict."""
    response = diagnose(client, COLD)
    assert response.status_code == 200 and response.mimetype == "application/json"
    verdict = response.get_json()
    assert set(verdict) == {"check", "status", "code", "cause", "fix", "evidence"}
    assert (verdict["check"], verdict["status"], verdict["code"]) == ("ai", "warn", "ai.cold_model")
    assert verdict["evidence"]["retry_delays_seconds"] == [5, 7.5, 11.25, 16.875, 25.3125]
    assert verdict["evidence"]["warm_model"] == "SG161222/RealVisXL_V4.0_Lightning"


@pytest.mark.parametrize("as_text", [False, True])
def test_a_422_body_may_be_an_object_or_text(client, as_text):
    """The gateway's body is read the same whether sent parsed or as the raw text."""
    body = json.dumps(WIDTH_422) if as_text else WIDTH_422
    payload = {**COLD, "status": 422, "body": body}
    verdict = diagnose(client, payload).get_json()
    assert verdict["code"] == "ai.dimensions_not_integer"
    assert verdict["evidence"]["fields"] == ["width"]


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (
            {"pipeline": "upscale", "status": 422, "content_type": "application/json"},
            "ai.multipart_required",
        ),
        ({"pipeline": "llm", "model_id": "llama3", "status": 500}, "ai.model_id_format"),
        ({"pipeline": "text-to-image", "status": 422, "body": "not json"}, "ai.validation"),
        ({"pipeline": "Text-To-Image", "status": 401, "model_id": None}, "ai.gateway_error"),
        ({"pipeline": "LLM", "status": 200}, "ai.ok"),
    ],
)
def test_codes_over_http(client, payload, code):
    """Optional fields may be left out; an unknown pipeline is diagnosed, not refused."""
    response = diagnose(client, payload)
    assert response.status_code == 200
    assert response.get_json()["code"] == code


@pytest.mark.parametrize(
    ("payload", "where"),
    [
        ("not json", "body"),
        ("[]", "body"),
        ("", "pipeline"),
        ({"status": 503}, "pipeline"),
        ({"pipeline": "llm"}, "status"),
        ({"pipeline": "llm", "status": "503"}, "status"),
        ({"pipeline": "llm", "status": True}, "status"),
        ({"pipeline": "llm", "status": 503.5}, "status"),
        ({"pipeline": "llm", "status": 42}, "status"),
        ({"pipeline": "llm", "status": 600}, "status"),
        ({"pipeline": "", "status": 503}, "pipeline"),
        ({"pipeline": "/llm", "status": 503}, "pipeline"),
        ({"pipeline": "l l m", "status": 503}, "pipeline"),
        ({"pipeline": "x" * 65, "status": 503}, "pipeline"),
        ({"pipeline": "llm", "status": 503, "body": 7}, "body"),
        ({"pipeline": "llm", "status": 503, "model_id": 7}, "model_id"),
        ({"pipeline": "llm", "status": 503, "model_id": "m" * 257}, "model_id"),
        ({"pipeline": "llm", "status": 503, "content_type": ["a"]}, "content_type"),
        ({"pipeline": "llm", "status": 503, "extra": 1}, "body: only the fields pipeline"),
        ({"pipeline": "foo", "status": 503}, "pipeline: Value error, must be one of text-to-image"),
        ({"pipeline": "some-new-pipeline", "status": 200}, "pipeline"),
    ],
)
def test_malformed_requests_are_400_problems(client, payload, where):
    """Any malformed request is a 400 problem+json naming the field."""
    response = diagnose(client, payload)
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["type"] == "urn:livepeer-webhooks:problem:bad-request"
    assert problem["detail"].startswith(where)


def test_a_bad_request_never_echoes_the_body(client):
    """Rejected input is not quoted back (it may hold a prompt or a key)."""
    marker = "PROMPT-SECRET-91f3"
    for payload in (
        {"pipeline": f"bad {marker}", "status": 503},
        {"pipeline": "llm", "status": marker},
        {"pipeline": "llm", "status": 503, marker: 1},
    ):
        response = diagnose(client, payload)
        assert response.status_code == 400
        assert marker not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/api/diagnosis/ai"), ("GET", "/api/ai/warm-models")]
)
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}])
def test_routes_need_the_ops_token(client, method, path, headers):
    """Both routes are operator routes: 401 problem+json without a valid bearer token."""
    response = client.open(path, method=method, headers=headers, json=COLD)
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"


def test_oversized_request_is_413(app, client):
    """The POST body limit holds here too."""
    limit = app.config["MAX_CONTENT_LENGTH"]
    payload = {**COLD, "body": "x" * limit}
    assert diagnose(client, payload).status_code == 413


def test_warm_models(client):
    """The eight pipeline -> warm model pairs: LIVEPEER.md's five, then livepeer/docs
    ai/pipelines/{image-to-video,upscale,segment-anything-2}.mdx "Warm Models"; DESIGN order."""
    response = client.get("/api/ai/warm-models", headers=auth())
    assert response.status_code == 200
    assert response.get_json() == {
        "models": [
            {"pipeline": "text-to-image", "model_id": "SG161222/RealVisXL_V4.0_Lightning"},
            {"pipeline": "image-to-image", "model_id": "timbrooks/instruct-pix2pix"},
            {"pipeline": "audio-to-text", "model_id": "openai/whisper-large-v3"},
            {"pipeline": "image-to-text", "model_id": "Salesforce/blip-image-captioning-large"},
            {"pipeline": "llm", "model_id": "meta-llama/Meta-Llama-3.1-8B-Instruct"},
            {
                "pipeline": "image-to-video",
                "model_id": "stabilityai/stable-video-diffusion-img2vid-xt-1-1",
            },
            {"pipeline": "upscale", "model_id": "stabilityai/stable-diffusion-x4-upscaler"},
            {"pipeline": "segment-anything-2", "model_id": "facebook/sam2-hiera-large"},
        ]
    }


def test_verdicts_are_counted(client):
    """Each ai verdict is counted in livepeer_diagnosis_total{check="ai",status}."""
    labels = {"check": "ai", "status": "warn"}
    before = REGISTRY.get_sample_value("livepeer_diagnosis_total", labels) or 0
    diagnose(client, COLD)
    assert REGISTRY.get_sample_value("livepeer_diagnosis_total", labels) == before + 1


def test_routes_are_in_the_openapi_document(client):
    """Both routes and the request schema appear in /openapi.json, with the 400 documented."""
    spec = client.get("/openapi.json").get_json()
    post = spec["paths"]["/api/diagnosis/ai"]["post"]
    assert {"200", "400", "401", "413"} <= set(post["responses"])
    assert "AiDiagnosisRequest" in spec["components"]["schemas"]
    assert "get" in spec["paths"]["/api/ai/warm-models"]
