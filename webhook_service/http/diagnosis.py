"""The diagnosis routes under /api: one verdict per check, or a whole stream's diagnosis."""

from __future__ import annotations

import threading

from flask import Blueprint, Response, current_app, g, jsonify, request
from pydantic import ValidationError

from webhook_service.diagnostics.service import Diagnostician
from webhook_service.diagnostics.verdict import STREAM_CHECKS, Verdict
from webhook_service.http.api import known_stream_id
from webhook_service.http.auth import require_ops_token
from webhook_service.http.errors import BadRequestError, NotFoundError, ServiceError
from webhook_service.http.schemas import Diagnosis, RtmpCheckRequest
from webhook_service.http.schemas import Verdict as VerdictModel
from webhook_service.telemetry.openapi import Param, documented

bp = Blueprint("diagnosis", __name__, url_prefix="/api")
bp.before_request(require_ops_token)


class DiagnosesBusyError(ServiceError):
    """Raised when this worker already runs as many diagnoses as it may: retry shortly."""

    status, title, slug = 503, "Diagnoses busy", "diagnoses-busy"

    def __init__(self) -> None:
        super().__init__(
            "this worker is already running its share of diagnoses; retry in a few seconds",
            {"Retry-After": "5"},
        )


def init_bulkhead(slots: int) -> threading.BoundedSemaphore:
    """At most `slots` diagnoses at once per process, so ingest always finds a free thread."""
    return threading.BoundedSemaphore(max(1, slots))


@bp.before_request
def _take_slot() -> None:
    # A diagnosis waits seconds on the Livepeer API and the CDN while holding a request
    # thread; measured in bench/, 8 of them on one worker stalled its ingest for 4 s.
    if not current_app.extensions["livepeer.diagnosis_slots"].acquire(blocking=False):
        raise DiagnosesBusyError()
    g.diagnosis_slot = True


@bp.teardown_request
def _release_slot(_error: BaseException | None) -> None:
    if g.pop("diagnosis_slot", False):
        current_app.extensions["livepeer.diagnosis_slots"].release()


JWT_HEADER = "Livepeer-Jwt"
JWT_PARAM = Param(JWT_HEADER, "header", "a viewer's playback JWT to check (never a query string)")


def _doctor() -> Diagnostician:
    doctor: Diagnostician = current_app.extensions["livepeer.diagnostician"]
    return doctor


def _answer(verdict: Verdict) -> Response:
    return jsonify(verdict.as_dict())


def _rtmp_request() -> RtmpCheckRequest:
    """The JSON body of an rtmp check; errors never quote the input (it may be a key)."""
    raw = request.get_data(cache=False)
    try:
        return RtmpCheckRequest.model_validate_json(raw or b"{}")
    except ValidationError as error:
        first = error.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise BadRequestError(f"{where}: {first['msg']}") from None


@bp.get("/streams/<stream_id>/diagnosis")
@documented(
    "Diagnose a stream: rtmp, hls, playback and recording",
    "diagnosis",
    auth="ops",
    params=(JWT_PARAM,),
    response=Diagnosis,
    errors=(404, 503),
)
def diagnose_stream(stream_id: str) -> Response:
    jwt = request.headers.get(JWT_HEADER) or None
    return jsonify(_doctor().stream(known_stream_id(stream_id), jwt))


@bp.get("/streams/<stream_id>/diagnosis/<check>")
@documented(
    "One check of a stream: rtmp, hls, playback or recording",
    "diagnosis",
    auth="ops",
    params=(JWT_PARAM,),
    response=VerdictModel,
    errors=(404, 503),
)
def diagnose_check(stream_id: str, check: str) -> Response:
    stream_id = known_stream_id(stream_id)
    doctor = _doctor()
    if check not in STREAM_CHECKS:
        raise NotFoundError(f"no check {check[:32]!r}: use one of {', '.join(STREAM_CHECKS)}")
    if check == "rtmp":
        return _answer(doctor.rtmp(stream_id, None, None))
    if check == "hls":
        return _answer(doctor.hls(stream_id))
    if check == "playback":
        return _answer(doctor.playback(stream_id, request.headers.get(JWT_HEADER) or None))
    return _answer(doctor.recording(stream_id))


@bp.post("/streams/<stream_id>/diagnosis/rtmp")
@documented(
    "Check an encoder's stream key and server URL against this stream",
    "diagnosis",
    auth="ops",
    body=RtmpCheckRequest,
    response=VerdictModel,
    errors=(400, 404, 413, 503),
)
def diagnose_encoder(stream_id: str) -> Response:
    body = _rtmp_request()
    return _answer(_doctor().rtmp(known_stream_id(stream_id), body.stream_key, body.ingest_url))


@bp.post("/diagnosis/rtmp")
@documented(
    "Check an encoder's settings when only its stream key is known",
    "diagnosis",
    auth="ops",
    body=RtmpCheckRequest,
    response=VerdictModel,
    errors=(400, 413, 503),
)
def diagnose_encoder_by_key() -> Response:
    body = _rtmp_request()
    return _answer(_doctor().rtmp(None, body.stream_key, body.ingest_url))


@bp.get("/diagnosis/webhooks")
@documented(
    "Are Livepeer's deliveries reaching this receiver and verifying?",
    "diagnosis",
    auth="ops",
    response=VerdictModel,
    errors=(503,),
)
def diagnose_webhooks() -> Response:
    return _answer(_doctor().webhooks())
