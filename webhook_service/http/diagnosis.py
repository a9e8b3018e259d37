"""The diagnosis routes under /api: one verdict per check, or a whole stream's diagnosis."""

from __future__ import annotations

import threading

from flask import Blueprint, Response, g, jsonify, request
from pydantic import BaseModel, ConfigDict, Field
from svcs.flask import get as service

from webhook_service.diagnostics.diagnostician import Diagnostician
from webhook_service.diagnostics.verdict import STREAM_CHECKS, Diagnosis, Verdict
from webhook_service.diagnostics.viewer_token import read_viewer
from webhook_service.http.api import known_stream_id
from webhook_service.http.auth import require_ops_token
from webhook_service.http.body import parse_body
from webhook_service.http.errors import DiagnosesBusyError, NotFoundError
from webhook_service.http.openapi import Param, documented

bp = Blueprint("diagnosis", __name__, url_prefix="/api")
bp.before_request(require_ops_token)

JWT_HEADER = "Livepeer-Jwt"
JWT_PARAM = Param(JWT_HEADER, "header", "a viewer's playback JWT to check (never a query string)")
CHECK_PARAM = Param(
    "check", "path", "one of the stream checks", {"type": "string", "enum": list(STREAM_CHECKS)}
)


class RtmpCheckRequest(BaseModel):
    """What the encoder is configured with; the key is compared, never stored or echoed."""

    model_config = ConfigDict(extra="forbid")
    stream_key: str | None = Field(default=None, min_length=1, max_length=256)
    ingest_url: str | None = Field(default=None, min_length=1, max_length=2048)


class PlaybackCheckRequest(BaseModel):
    """What the failing viewer sent; no token or key in it is stored, logged or echoed."""

    model_config = ConfigDict(extra="forbid")
    url: str | None = Field(
        default=None,
        max_length=8192,
        description="the exact URL the player requested (its jwt and accessKey are read)",
    )
    jwt: str | None = Field(default=None, max_length=8192, description="the viewer's JWT")
    access_key: str | None = Field(
        default=None,
        max_length=2048,
        description="the access key the player sent (query or Livepeer-Access-Key header)",
    )
    origin: str | None = Field(
        default=None,
        max_length=2048,
        description="the page's origin, e.g. https://example.com (what the gate compares)",
    )


class DiagnosisSlots:
    """At most `slots` diagnoses at once per process, so ingest always finds a free thread.

    A diagnosis waits seconds on the Livepeer API and the CDN while holding a request thread
    (bench/README.md measures what that did to ingest before this bulkhead).
    """

    def __init__(self, slots: int) -> None:
        self._semaphore = threading.BoundedSemaphore(max(1, slots))

    def take(self) -> None:
        """`before_request`: take a slot or answer 503 at once (never wait for one)."""
        if not self._semaphore.acquire(blocking=False):
            raise DiagnosesBusyError()
        g.diagnosis_slot = self

    @staticmethod
    def give_back(_error: BaseException | None) -> None:
        """`teardown_request`: return the slot this request took, if it took one."""
        slots: DiagnosisSlots | None = g.pop("diagnosis_slot", None)
        if slots is not None:
            slots._semaphore.release()


@bp.before_request
def _take_slot() -> None:
    service(DiagnosisSlots).take()


bp.teardown_request(DiagnosisSlots.give_back)


def _answer(verdict: Verdict | Diagnosis) -> Response:
    return jsonify(verdict.as_dict())


def _jwt() -> str | None:
    return request.headers.get(JWT_HEADER) or None


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
    return _answer(service(Diagnostician).stream(known_stream_id(stream_id), _jwt()))


@bp.get("/streams/<stream_id>/diagnosis/<check>")
@documented(
    "One check of a stream: rtmp, hls, playback or recording",
    "diagnosis",
    auth="ops",
    params=(JWT_PARAM, CHECK_PARAM),
    response=Verdict,
    errors=(404, 503),
)
def diagnose_check(stream_id: str, check: str) -> Response:
    stream_id = known_stream_id(stream_id)
    doctor = service(Diagnostician)
    if check not in STREAM_CHECKS:
        raise NotFoundError(f"no check {check[:32]!r}: use one of {', '.join(STREAM_CHECKS)}")
    if check == "rtmp":
        return _answer(doctor.rtmp(stream_id, None, None))
    if check == "hls":
        return _answer(doctor.hls(stream_id))
    if check == "playback":
        return _answer(doctor.playback(stream_id, _jwt()))
    return _answer(doctor.recording(stream_id))


@bp.post("/streams/<stream_id>/diagnosis/playback")
@documented(
    "Why playback is denied to a viewer: check what the failing viewer sent",
    "diagnosis",
    auth="ops",
    body=PlaybackCheckRequest,
    response=Verdict,
    errors=(400, 404, 413, 503),
)
def diagnose_viewer(stream_id: str) -> Response:
    stream_id = known_stream_id(stream_id)
    body = parse_body(PlaybackCheckRequest)
    token, viewer = read_viewer(body.url, body.jwt, body.access_key, body.origin)
    return _answer(service(Diagnostician).playback(stream_id, token, viewer))


@bp.post("/streams/<stream_id>/diagnosis/rtmp")
@bp.post("/diagnosis/rtmp")
@documented(
    "Check an encoder's stream key and server URL: against a stream, or found by the key alone",
    "diagnosis",
    auth="ops",
    body=RtmpCheckRequest,
    response=Verdict,
    errors=(400, 404, 413, 503),
)
def diagnose_encoder(stream_id: str | None = None) -> Response:
    if stream_id is not None:
        stream_id = known_stream_id(stream_id)
    body = parse_body(RtmpCheckRequest)
    return _answer(service(Diagnostician).rtmp(stream_id, body.stream_key, body.ingest_url))


@bp.get("/diagnosis/webhooks")
@documented(
    "Are Livepeer's deliveries reaching this receiver and verifying?",
    "diagnosis",
    auth="ops",
    response=Verdict,
    errors=(503,),
)
def diagnose_webhooks() -> Response:
    return _answer(service(Diagnostician).webhooks())
