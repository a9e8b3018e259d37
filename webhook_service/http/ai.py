"""The AI gateway routes under /api: diagnose a failed gateway call; list the warm models."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify
from pydantic import BaseModel, ConfigDict, Field, field_validator

from webhook_service.ai.pipelines import PIPELINES, WARM_MODELS
from webhook_service.diagnostics.ai import AiFacts, diagnose_ai
from webhook_service.diagnostics.verdict import Verdict
from webhook_service.http.api import json_answer
from webhook_service.http.auth import require_ops_token
from webhook_service.http.body import parse_body
from webhook_service.http.openapi import documented
from webhook_service.telemetry.metrics import count_verdict

bp = Blueprint("ai", __name__, url_prefix="/api")
bp.before_request(require_ops_token)


class AiDiagnosisRequest(BaseModel):
    """A call to the AI gateway as the client made it, and what the gateway answered."""

    model_config = ConfigDict(extra="forbid")
    pipeline: str = Field(
        min_length=1,
        max_length=64,
        description="the pipeline route called, e.g. text-to-image (case does not matter)",
        json_schema_extra={"enum": list(PIPELINES)},
    )
    model_id: str | None = Field(default=None, max_length=256, description="model_id sent")
    status: int = Field(strict=True, ge=100, le=599, description="the gateway's HTTP status")
    body: str | dict[str, Any] | None = Field(
        default=None, description="the gateway's response body: text or the parsed JSON object"
    )
    content_type: str | None = Field(
        default=None, max_length=256, description="the Content-Type the client sent"
    )

    @field_validator("pipeline")
    @classmethod
    def _known_pipeline(cls, value: str) -> str:
        """One of Livepeer's AI pipelines, in any case; anything else is a 400 naming them."""
        if value.lower() not in PIPELINES:
            raise ValueError(f"must be one of {', '.join(PIPELINES)}")
        return value.lower()


class WarmModel(BaseModel):
    """A model kept loaded on orchestrators: it answers without a cold start."""

    pipeline: str
    model_id: str


class WarmModelList(BaseModel):
    models: list[WarmModel]


@bp.post("/diagnosis/ai")
@documented(
    "Explain a failed call to Livepeer's AI gateway (cold model, 422, ...)",
    "diagnosis",
    auth="ops",
    body=AiDiagnosisRequest,
    response=Verdict,
    errors=(400, 413),
)
def diagnose_ai_call() -> Response:
    call = parse_body(AiDiagnosisRequest)
    facts = AiFacts(call.pipeline.lower(), call.model_id, call.status, call.body, call.content_type)
    verdict = diagnose_ai(facts)
    count_verdict(verdict)
    return jsonify(verdict.as_dict())


@bp.get("/ai/warm-models")
@documented(
    "The model each AI pipeline keeps warm (loaded on orchestrators)",
    "diagnosis",
    auth="ops",
    response=WarmModelList,
)
def warm_models() -> Response:
    models = [WarmModel(pipeline=p, model_id=m) for p, m in WARM_MODELS.items()]
    return json_answer(WarmModelList(models=models))
