"""A fake Livepeer AI gateway: a real HTTP server on 127.0.0.1 that is warm, cold, strict or hung.

Built from the gateway's OpenAPI (livepeer/ai-worker runner/gateway.openapi.yaml): GET on a
pipeline route answers 405, a request missing a required field or sent with the wrong content
type answers 422 `{"detail": [{"loc", "msg", "type"}]}` as FastAPI does.
"""

from __future__ import annotations

import io
import json
import struct
import wave
import zlib
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from fake_http import FakeServer, Recorded, Reply, json_reply

MODES = ("warm", "cold", "422", "hang", "hang-get")
# Required fields per pipeline, from the gateway's schema (model_id is required there).
REQUIRED: dict[str, tuple[str, ...]] = {
    "text-to-image": ("prompt", "model_id"),
    "llm": ("messages",),
    "image-to-image": ("prompt", "image", "model_id"),
    "image-to-video": ("image", "model_id"),
    "upscale": ("prompt", "image", "model_id"),
    "audio-to-text": ("audio", "model_id"),
    "segment-anything-2": ("image", "model_id"),
    "image-to-text": ("image", "model_id"),
}
JSON_PIPELINES = frozenset({"text-to-image", "llm"})
MISSING_MODEL_ID = [{"loc": ["body", "model_id"], "msg": "Field required", "type": "missing"}]
IMAGE = {"url": "https://gateway.example/stream/abc/0.png", "seed": 7, "nsfw": False}
ANSWERS: dict[str, dict[str, Any]] = {
    "text-to-image": {"images": [IMAGE]},
    "image-to-image": {"images": [IMAGE]},
    "upscale": {"images": [IMAGE]},
    "image-to-video": {"images": [{**IMAGE, "url": "https://gateway.example/v.mp4"}]},
    "audio-to-text": {"text": "", "chunks": []},
    "image-to-text": {"text": "a red square"},
    "segment-anything-2": {"masks": "[]", "scores": "[]", "logits": "[]"},
    "llm": {
        "id": "chatcmpl-1",
        "model": "meta-llama/Meta-Llama-3.1-8B-Instruct",
        "created": 1764086400,
        "usage": {"prompt_tokens": 4, "completion_tokens": 1, "total_tokens": 5},
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "OK"}, "finish_reason": "stop"}
        ],
    },
}


class FakeAiGateway(FakeServer):
    """The gateway at `.url`; `requests` records every request (`fields`: the parsed JSON or
    form fields of a valid POST), `mode` picks its behaviour.

    warm: validates like the gateway and answers 200; cold: the first `cold_failures` POSTs
    answer 503; 422: every POST answers 422 with `detail`; hang: POSTs never answer;
    hang-get: GETs never answer either. `token` makes POSTs need that bearer token.
    """

    def __init__(
        self,
        mode: str = "warm",
        *,
        cold_failures: int = 2,
        detail: list[dict[str, Any]] | None = None,
        token: str | None = None,
    ) -> None:
        assert mode in MODES, mode
        self.mode = mode
        self.cold_failures = cold_failures
        self.detail = detail if detail is not None else MISSING_MODEL_ID
        self.token = token
        self.posts = 0
        super().__init__()

    def post_models(self) -> list[str | None]:
        """The model each POST asked for, in order (`model` for llm, else `model_id`)."""
        return [
            r.fields.get("model", r.fields.get("model_id"))
            for r in self.requests
            if r.method == "POST"
        ]

    def handle(self, request: Recorded) -> Reply | None:
        """The reply to one request; None means hang until stopped."""
        pipeline, headers = request.path.strip("/"), request.headers
        if pipeline not in REQUIRED:
            return json_reply(404, {"detail": "Not Found"})
        if request.method != "POST":
            return None if self.mode == "hang-get" else _not_allowed()
        if self.mode in ("hang", "hang-get"):
            return None
        if self.token and headers.get("authorization") != f"Bearer {self.token}":
            return json_reply(401, {"errors": ["Invalid API key"]})
        parsed = _parse(pipeline, headers.get("content-type", ""), request.body)
        if isinstance(parsed, Reply):
            return parsed
        request.fields = parsed
        return self._answer(pipeline, parsed)

    def _answer(self, pipeline: str, fields: dict[str, Any]) -> Reply:
        if self.mode == "422":
            return json_reply(422, {"detail": self.detail})
        missing = [name for name in REQUIRED[pipeline] if fields.get(name) in (None, "")]
        if missing:
            return json_reply(422, {"detail": [_missing(name) for name in missing]})
        problem = _bad_file(fields)
        if problem is not None:
            return json_reply(400, {"detail": {"msg": problem}})
        with self.lock:
            self.posts += 1
            cold = self.mode == "cold" and self.posts <= self.cold_failures
        if cold:
            return json_reply(503, {"detail": {"msg": "model is loading, try again later"}})
        return json_reply(200, ANSWERS[pipeline])


def _not_allowed() -> Reply:
    return json_reply(405, {"detail": "Method Not Allowed"}, {"Allow": "POST"})


def _missing(name: str) -> dict[str, Any]:
    return {"loc": ["body", name], "msg": "Field required", "type": "missing"}


def _parse(pipeline: str, content_type: str, body: bytes) -> dict[str, Any] | Reply:
    """The request's fields, or the 422 FastAPI gives for a body of the wrong kind."""
    if pipeline in JSON_PIPELINES:
        if not content_type.startswith("application/json"):
            return json_reply(
                422, {"detail": [{"loc": ["body"], "msg": "bad", "type": "model_type"}]}
            )
        try:
            data = json.loads(body)
        except ValueError:
            detail = {"loc": ["body", 0], "msg": "JSON decode error", "type": "json_invalid"}
            return json_reply(422, {"detail": [detail]})
        return data if isinstance(data, dict) else {}
    if not content_type.startswith("multipart/form-data"):
        # A file route reads form fields only: a JSON body leaves every required one missing.
        return json_reply(422, {"detail": [_missing(name) for name in REQUIRED[pipeline]]})
    return form_fields(content_type, body)


def form_fields(content_type: str, body: bytes) -> dict[str, Any]:
    """multipart/form-data parts: files as (filename, bytes), other fields as text."""
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    fields: dict[str, Any] = {}
    for part in message.iter_parts() if isinstance(message, EmailMessage) else ():
        name = part.get_param("name", header="content-disposition")
        data = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        fields[str(name)] = (filename, data) if filename else data.decode()
    return fields


def _bad_file(fields: dict[str, Any]) -> str | None:
    """Why an uploaded image or audio file would not decode, or None."""
    image, audio = fields.get("image"), fields.get("audio")
    if image is not None and not png_size(image[1]):
        return "cannot identify image file"
    if audio is not None and not wav_frames(audio[1]):
        return "could not decode audio"
    return None


def png_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG whose chunks all carry the right CRC, else None."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return None
    pos, size, idat = 8, None, b""
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunk = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        if zlib.crc32(kind + chunk) & 0xFFFFFFFF != crc:
            return None
        if kind == b"IHDR":
            size = struct.unpack(">II", chunk[:8])
        idat += chunk if kind == b"IDAT" else b""
        pos += 12 + length
    if size is None or len(zlib.decompress(idat)) != size[1] * (1 + 3 * size[0]):
        return None
    return size


def wav_frames(data: bytes) -> int:
    """The number of frames in a WAV file (0 when it does not parse)."""
    try:
        with wave.open(io.BytesIO(data)) as wav:
            return wav.getnframes()
    except (wave.Error, EOFError):
        return 0
