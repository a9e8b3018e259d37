"""The `ai` check: why a call to Livepeer's AI gateway failed, from its status and body (pure)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from webhook_service.ai.bodies import (
    DetailItem,
    gateway_message,
    media_type,
    validation_details,
)
from webhook_service.ai.pipelines import MULTIPART_PIPELINES, PIPELINES, is_known, warm_model
from webhook_service.ai.retry import COLD_LOAD_MAX_SECONDS, COLD_MODEL_DELAYS
from webhook_service.ai.studio import generate_failed_message
from webhook_service.diagnostics.verdict import Status, Verdict, unknown

# pydantic v2 and v1 names for "not an integer" (e.g. width sent as "512px" or 512.5).
INT_ERROR_TYPES = frozenset(
    {"int_parsing", "int_parsing_size", "int_type", "int_from_float", "type_error.integer"}
)
DIMENSIONS = frozenset({"width", "height"})
# A Hugging Face repo id: owner/name, each letters, digits, `-`, `_`, `.` (not at the ends).
_HF_PART = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?"
HF_MODEL_ID = re.compile(rf"{_HF_PART}/{_HF_PART}")
SCHEDULE = "after 5, 7.5, 11.25, 16.875 and 25.3125 s (5 s, x1.5, at most 60 s, 5 retries)"
_NOTE = (
    f"The schedule waits about {sum(COLD_MODEL_DELAYS):.0f} s in all, while a cold load can "
    f"take up to {COLD_LOAD_MAX_SECONDS // 60} minutes: the last retry may still "
)
RETRY_NOTE = _NOTE + "get a 503."
STUDIO_RETRY_NOTE = _NOTE + "fail."


@dataclass(frozen=True)
class AiFacts:
    """A failed (or not) gateway call: what was asked, and the gateway's status and body."""

    pipeline: str
    model_id: str | None
    status: int | None  # None: no answer at all (hung or unreachable)
    body: Any = None  # the response body: text, or already-parsed JSON
    content_type: str | None = None  # what the client sent


def is_hf_model_id(model_id: str) -> bool:
    """Whether `model_id` looks like a Hugging Face repo id `owner/name`."""
    return HF_MODEL_ID.fullmatch(model_id) is not None


def diagnose_ai(facts: AiFacts) -> Verdict:
    """Answer with the first `ai` row of DESIGN.md whose condition holds on `facts`.

    The cold-model rows need a pipeline this service knows (PIPELINES): for another name the
    503 or Studio 500 is only "another non-2xx answer", with the known names in evidence.
    """
    ev = _evidence(facts)
    found = _request_rows(facts, ev)
    if found is not None:
        return found
    status, known = facts.status, is_known(facts.pipeline)
    if status == 503 and known:
        return _loading("cold_model", facts, ev)
    message = generate_failed_message(status, facts.body)
    if message is not None and known:
        return _loading("generate_failed", facts, {**ev, "studio_message": message})
    if not known and not (status is not None and 200 <= status < 300):
        ev["known_pipelines"] = list(PIPELINES)
    if status is None:
        return unknown("ai", "the gateway gave no HTTP answer", _NO_ANSWER_FIX, **ev)
    if not 200 <= status < 300:
        return _gateway_error(facts, ev, loading=status == 503 or message is not None)
    return _verdict("ok", ev)


def _request_rows(facts: AiFacts, ev: dict[str, Any]) -> Verdict | None:
    """The rows about the request itself: its encoding, its fields (422) and its model id."""
    status, sent = facts.status, media_type(facts.content_type)
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
    if status != 422:
        return None
    if details is None:
        ev["fields"] = []
        ev["body_note"] = "the body is not {'detail': [{'loc', 'msg', 'type'}...]}"
        message = gateway_message(facts.body)  # Studio's 422 is {"errors": ["..."]}
        if message is not None:
            ev["gateway_message"] = message
    return _verdict("validation", ev, fields=", ".join(ev["fields"]) or "unnamed fields")


def _is_int_error(item: DetailItem) -> bool:
    return item.type in INT_ERROR_TYPES


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _loading(row: str, facts: AiFacts, ev: dict[str, Any]) -> Verdict:
    """cold_model or generate_failed: the retry plan, and what the warm model would tell."""
    warm = warm_model(facts.pipeline)
    note = RETRY_NOTE if row == "cold_model" else STUDIO_RETRY_NOTE
    ev.update(
        retry_delays_seconds=list(COLD_MODEL_DELAYS),
        retry_total_seconds=sum(COLD_MODEL_DELAYS),
        cold_load_max_seconds=COLD_LOAD_MAX_SECONDS,
        retry_note=note,
    )
    # Studio sends its default model, the warm one, when model_id is left out (createPayload).
    used_warm = facts.model_id == warm or (row == "generate_failed" and facts.model_id is None)
    if row == "cold_model":
        retry = f"Retry only the 503 {SCHEDULE}."
        switch = _COLD_WARM_FIX if used_warm else f"For an answer now, use the warm model {warm}."
    else:
        retry = f'Retry the "Failed to generate" 500 {SCHEDULE}.'
        switch = _STUDIO_WARM_FIX if used_warm else _STUDIO_SWITCH_FIX
    fix = f"{retry} {note} {switch.format(warm=warm, pipeline=facts.pipeline)}"
    return _verdict(row, ev, fix=fix)


def _gateway_error(facts: AiFacts, ev: dict[str, Any], *, loading: bool) -> Verdict:
    """Any other non-2xx answer; `loading`: a cold-model answer for a pipeline not known here."""
    status = facts.status or 0
    message = gateway_message(facts.body)
    if message is not None:
        ev["gateway_message"] = message
    if loading:
        verdict = _verdict("gateway_error", ev, fix=_UNKNOWN_PIPELINE_FIX)
        note = _UNKNOWN_PIPELINE.format(pipeline=ev["pipeline"])
        return replace(verdict, cause=verdict.cause + note)
    hint = _STATUS_HINTS.get(status) or _STATUS_HINTS[500 if status >= 500 else 400]
    return _verdict("gateway_error", ev, fix=hint)


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
    status, cause, default_fix = ROWS[row]
    warm = ev.get("warm_model")
    values = {"model_id": ev.get("model_id"), "status": ev.get("status"), **detail}
    values["pipeline"] = detail.get("pipeline", ev["pipeline"])
    if fix is None:
        fix = default_fix
        if warm and (row == "model_id_format" or "model_id" in ev.get("fields", ())):
            fix += f" This pipeline's warm model is {warm}."
    return Verdict("ai", status, f"ai.{row}", cause.format(**values), fix, ev)


_NO_ANSWER_FIX = (
    "Run `livepeer-webhooks ai-check --gateway URL --pipeline NAME` to find the step that hangs."
)
_COLD_WARM_FIX = (
    "{warm} is already this pipeline's warm model: no orchestrator has it loaded now, "
    "so check the gateway's orchestrators (livepeer_cli -status on a self-hosted one)."
)
_STUDIO_SWITCH_FIX = (
    "To tell a cold model from a broken request, send the same request with this pipeline's "
    "warm model {warm}: if that works, your model was cold (or no orchestrator serves it); if it "
    "fails the same way, the request itself (its parameters or file) is at fault."
)
_STUDIO_WARM_FIX = (
    "This call already used the warm model {warm} (Studio's default when model_id is left out), "
    "which is seldom cold: if it keeps failing, suspect the request (its parameters or file) and "
    "compare with a minimal one: `livepeer-webhooks ai-check --gateway "
    "https://livepeer.studio/api/beta/generate --pipeline {pipeline} --api-key-env NAME`."
)
_UNKNOWN_PIPELINE = (
    " {pipeline!r} is not a pipeline this service knows (evidence.known_pipelines), so this is "
    "not read as a cold model."
)
_UNKNOWN_PIPELINE_FIX = (
    "Check the pipeline's route name against evidence.known_pipelines (a gateway answers 404 to "
    "a route it lacks). If it is a pipeline newer than this service, its model may be loading: "
    f"retry {SCHEDULE}."
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
# DESIGN.md's ai rows in decision order: (status, cause, fix). cold_model, generate_failed and
# gateway_error build their verdict's fix from the facts; the fix here is its general form.
ROWS: dict[str, tuple[Status, str, str]] = {
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
        f"Retry only the 503 {SCHEDULE}, or use the pipeline's warm model (evidence.warm_model).",
    ),
    "generate_failed": (
        "warn",
        'Livepeer Studio answered 500 "Failed to generate {pipeline}", which hides the gateway\'s '
        "status: a cold model (503 at the gateway) answers this way through Studio, and so does "
        "a request the gateway or its orchestrator failed on.",
        f"Retry {SCHEDULE}; send the same request with the pipeline's warm model to tell a cold "
        "model from a broken request.",
    ),
    "gateway_error": (
        "fail",
        "The gateway answered {status}.",
        "By status: credentials (401), the route (404), Retry-After (429); for a 5xx, "
        "`livepeer-webhooks ai-check` finds the failing step.",
    ),
    "ok": ("ok", "The gateway answered {status}: the call worked.", "Nothing to fix."),
}
