"""The `ai` check: why a call to Livepeer's AI gateway failed, from its status and body (pure)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from webhook_service.ai.retry import COLD_LOAD_MAX_SECONDS, COLD_MODEL_DELAYS
from webhook_service.diagnostics.verdict import Status, Verdict, unknown

# Models kept loaded on orchestrators (LIVEPEER.md, "AI gateway"): they answer without a cold load.
WARM_MODELS: Mapping[str, str] = {
    "text-to-image": "SG161222/RealVisXL_V4.0_Lightning",
    "image-to-image": "timbrooks/instruct-pix2pix",
    "audio-to-text": "openai/whisper-large-v3",
    "image-to-text": "Salesforce/blip-image-captioning-large",
    "llm": "meta-llama/Meta-Llama-3.1-8B-Instruct",
}
# Pipelines whose input is a file, so the gateway only takes multipart/form-data. DESIGN.md names
# five; image-to-text is multipart-only in the gateway's own OpenAPI too, so it is included.
MULTIPART_PIPELINES = frozenset(
    {
        "image-to-image",
        "image-to-video",
        "upscale",
        "audio-to-text",
        "segment-anything-2",
        "image-to-text",
    }
)
PIPELINES = ("text-to-image", "llm", *sorted(MULTIPART_PIPELINES))
# pydantic v2 and v1 names for "not an integer" (e.g. width sent as "512px" or 512.5).
INT_ERROR_TYPES = frozenset(
    {"int_parsing", "int_parsing_size", "int_type", "int_from_float", "type_error.integer"}
)
DIMENSIONS = frozenset({"width", "height"})
# A Hugging Face repo id: owner/name, each letters, digits, `-`, `_`, `.` (not at the ends).
_HF_PART = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?"
HF_MODEL_ID = re.compile(rf"{_HF_PART}/{_HF_PART}")
MAX_DETAIL_ITEMS = 20
RETRY_NOTE = (
    f"The schedule waits about {sum(COLD_MODEL_DELAYS):.0f} s in all, while a cold load can "
    f"take up to {COLD_LOAD_MAX_SECONDS // 60} minutes: the last retry may still get a 503."
)


@dataclass(frozen=True)
class AiFacts:
    """A failed (or not) gateway call: what was asked, and the gateway's status and body."""

    pipeline: str
    model_id: str | None
    status: int | None  # None: no answer at all (hung or unreachable)
    body: Any = None  # the response body: text, or already-parsed JSON
    content_type: str | None = None  # what the client sent


@dataclass(frozen=True)
class DetailItem:
    """One entry of a 422 body's `detail` list, reduced to what a verdict may show."""

    field: str
    loc: tuple[str, ...]
    msg: str
    type: str


def warm_model(pipeline: str) -> str | None:
    """The warm model of a pipeline, or None for a pipeline without one."""
    return WARM_MODELS.get(pipeline)


def is_hf_model_id(model_id: str) -> bool:
    """Whether `model_id` looks like a Hugging Face repo id `owner/name`."""
    return HF_MODEL_ID.fullmatch(model_id) is not None


def media_type(content_type: str | None) -> str | None:
    """`type/subtype` of a Content-Type header, lower-case, without parameters."""
    if not content_type:
        return None
    return content_type.split(";", 1)[0].strip().lower() or None


def validation_details(body: Any) -> list[DetailItem] | None:
    """The `detail` list of a 422 body (object or JSON text); None when it has another shape."""
    if isinstance(body, str | bytes):
        try:
            body = json.loads(body)
        except (ValueError, RecursionError):
            return None
    detail = body.get("detail") if isinstance(body, dict) else None
    if not isinstance(detail, list):
        return None
    items = [_detail_item(entry) for entry in detail[:MAX_DETAIL_ITEMS]]
    return [item for item in items if item is not None]


def diagnose_ai(facts: AiFacts) -> Verdict:
    """Answer with the first `ai` row of DESIGN.md whose condition holds on `facts`."""
    ev = _evidence(facts)
    status = facts.status
    sent = media_type(facts.content_type)
    if facts.pipeline in MULTIPART_PIPELINES and sent is not None and sent != "multipart/form-data":
        return _verdict("multipart_required", ev, sent=sent, pipeline=facts.pipeline)
    details = validation_details(facts.body) if status == 422 else None
    if details is not None:
        ev["fields"] = _unique(item.field for item in details)
        ev["errors"] = [{"loc": list(i.loc), "msg": i.msg, "type": i.type} for i in details]
        dims = _unique(i.field for i in details if i.field in DIMENSIONS and _is_int_error(i))
        if dims:
            return _verdict("dimensions_not_integer", {**ev, "dimensions": dims})
    if facts.model_id is not None and not is_hf_model_id(facts.model_id):
        return _verdict("model_id_format", ev)
    if status == 422:
        if details is None:
            ev["fields"] = []
            ev["body_note"] = "the body is not {'detail': [{'loc', 'msg', 'type'}...]}"
        return _verdict("validation", ev, fields=", ".join(ev["fields"]) or "unnamed fields")
    if status == 503:
        return _cold_model(facts, ev)
    if status is None:
        return unknown("ai", "the gateway gave no HTTP answer", _NO_ANSWER_FIX, **ev)
    if not 200 <= status < 300:
        return _gateway_error(status, facts.body, ev)
    return _verdict("ok", ev)


def _detail_item(entry: Any) -> DetailItem | None:
    """A `detail` entry with a `loc` list; strings bounded, the entry's `input` never copied."""
    if not isinstance(entry, dict) or not isinstance(entry.get("loc"), list) or not entry["loc"]:
        return None
    loc = tuple(str(part)[:64] for part in entry["loc"][:8])
    msg, kind = entry.get("msg"), entry.get("type")
    return DetailItem(
        field=loc[-1],
        loc=loc,
        msg=msg[:200] if isinstance(msg, str) else "",
        type=kind[:64] if isinstance(kind, str) else "",
    )


def _is_int_error(item: DetailItem) -> bool:
    return item.type in INT_ERROR_TYPES


def _unique(values: Any) -> list[str]:
    return list(dict.fromkeys(values))


def _cold_model(facts: AiFacts, ev: dict[str, Any]) -> Verdict:
    warm = warm_model(facts.pipeline)
    ev.update(
        retry_delays_seconds=list(COLD_MODEL_DELAYS),
        retry_total_seconds=sum(COLD_MODEL_DELAYS),
        cold_load_max_seconds=COLD_LOAD_MAX_SECONDS,
        retry_note=RETRY_NOTE,
    )
    if warm is None:
        switch = "If it never loads, check that orchestrators advertise this pipeline and model."
    elif facts.model_id == warm:
        switch = (
            f"{warm} is already this pipeline's warm model: no orchestrator has it loaded now, "
            "so check the gateway's orchestrators (livepeer_cli -status on a self-hosted one)."
        )
    else:
        switch = f"For an answer now, use the warm model {warm}."
    fix = (
        "Retry only the 503 after 5, 7.5, 11.25, 16.875 and 25.3125 s (5 s, x1.5, at most 60 s, "
        f"5 retries). {RETRY_NOTE} {switch}"
    )
    return _verdict("cold_model", ev, fix=fix)


def _gateway_error(status: int, body: Any, ev: dict[str, Any]) -> Verdict:
    message = _gateway_message(body)
    if message is not None:
        ev["gateway_message"] = message
    hint = _STATUS_HINTS.get(status) or _STATUS_HINTS[500 if status >= 500 else 400]
    return _verdict("gateway_error", ev, fix=hint)


def _gateway_message(body: Any) -> str | None:
    """The gateway's error text: `{"detail": {"msg"}}` (AI runner), `{"errors": [...]}` (Studio)."""
    if isinstance(body, str | bytes):
        try:
            body = json.loads(body)
        except (ValueError, RecursionError):
            return None
    if not isinstance(body, dict):
        return None
    detail, errors = body.get("detail"), body.get("errors")
    if isinstance(detail, dict) and isinstance(detail.get("msg"), str):
        return str(detail["msg"])[:300]
    if isinstance(detail, str):
        return detail[:300]
    if isinstance(errors, list) and errors and isinstance(errors[0], str):
        return errors[0][:300]
    return None


def _evidence(facts: AiFacts) -> dict[str, Any]:
    """What every ai verdict rests on: the call's pipeline, model, status and content type."""
    return {
        "pipeline": facts.pipeline[:64],
        "model_id": facts.model_id[:256] if facts.model_id is not None else None,
        "status": facts.status,
        "content_type": (media_type(facts.content_type) or "")[:128] or None,
        "warm_model": warm_model(facts.pipeline),
    }


def _verdict(row: str, ev: dict[str, Any], fix: str | None = None, **detail: str) -> Verdict:
    status, cause, default_fix = _ROWS[row]
    warm = ev.get("warm_model")
    values = {"model_id": ev.get("model_id"), "status": ev.get("status"), **detail}
    if fix is None:
        fix = default_fix
        if warm and (row == "model_id_format" or "model_id" in ev.get("fields", ())):
            fix += f" This pipeline's warm model is {warm}."
    return Verdict("ai", status, f"ai.{row}", cause.format(**values), fix, ev)


_NO_ANSWER_FIX = (
    "Run `livepeer-webhooks ai-check --gateway URL --pipeline NAME` to find the step that hangs."
)
_STATUS_HINTS: dict[int, str] = {
    400: "The gateway refused the request itself: check the pipeline path and the request body.",
    401: "The gateway wants credentials: send Authorization: Bearer <API key> (Livepeer Studio).",
    404: "No such pipeline route: check the base URL and the pipeline path (/text-to-image...).",
    413: "The uploaded file is too large for the gateway: send a smaller one.",
    415: "The gateway cannot read this file type: send a supported image or audio format.",
    429: "Rate limited: wait the Retry-After seconds before sending again.",
    500: (
        "The gateway or an orchestrator failed (Livepeer Studio hides the details of 5xx): "
        "retry once, then run `livepeer-webhooks ai-check` to find the failing step."
    ),
}
_ROWS: dict[str, tuple[Status, str, str]] = {
    "multipart_required": (
        "fail",
        "The {pipeline} pipeline takes a file, which must be sent as multipart/form-data; this "
        "call was sent as {sent}.",
        "Send the request as multipart/form-data with the file as a form field (curl -F "
        "image=@in.png or -F audio=@in.wav) and the other parameters as form fields.",
    ),
    "dimensions_not_integer": (
        "fail",
        "The gateway rejected width/height: they must be integers (see evidence.dimensions).",
        'Send width and height as JSON numbers (512), not strings ("512px") or fractions.',
    ),
    "model_id_format": (
        "fail",
        "model_id {model_id!r} is not a Hugging Face model id of the form owner/name.",
        "Use the full Hugging Face id, e.g. SG161222/RealVisXL_V4.0_Lightning.",
    ),
    "validation": (
        "fail",
        "The gateway rejected the request (422) for: {fields}.",
        "Correct the fields the gateway named (evidence.fields; its messages in "
        "evidence.errors); the community gateway requires model_id on every pipeline.",
    ),
    "cold_model": (
        "warn",
        "The model is loading on an orchestrator (503): a cold model is not served until loaded.",
        "",
    ),
    "gateway_error": ("fail", "The gateway answered {status}.", ""),
    "ok": ("ok", "The gateway answered {status}: the call worked.", "Nothing to fix."),
}
