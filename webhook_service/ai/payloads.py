"""The smallest valid request of each AI pipeline, in a gateway's form or Livepeer Studio's (pure).

A gateway takes what its OpenAPI schema says (livepeer/ai-worker runner/gateway.openapi.yaml);
Studio's generate API (ai/studio.py) takes the same, except that its llm route takes a form with
`prompt` (generate.ts registers llm as multipart; Body_genLLM) instead of JSON `{messages, model}`.
Files are made here, not read from disk: a solid-colour PNG and a second of silent WAV.
"""

from __future__ import annotations

import io
import json
import struct
import wave
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

from urllib3.filepost import encode_multipart_formdata

from webhook_service.ai.pipelines import MULTIPART_PIPELINES

PROMPT = "a red apple on a wooden table"
PROMPTED = frozenset({"image-to-image", "upscale"})  # multipart pipelines that need a prompt
LLM_MAX_TOKENS = 8  # the answer is not read: keep the job short
Field = str | tuple[str, bytes, str]


@dataclass(frozen=True)
class MinimalRequest:
    """A request body, its Content-Type, and the names of the fields it carries (for a reader)."""

    body: bytes
    content_type: str
    fields: tuple[str, ...]

    @property
    def shape(self) -> str:
        """How it is sent, e.g. `JSON {prompt, model_id}` or `form {prompt, image}`."""
        kind = "JSON" if self.content_type == "application/json" else "form"
        return f"{kind} {{{', '.join(self.fields)}}}"


def tiny_png(size: int = 64) -> bytes:
    """A solid-colour `size`x`size` RGB PNG, built with zlib and struct only."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    row = b"\x00" + bytes((200, 40, 40)) * size  # filter byte 0, then the row's pixels
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    idat = zlib.compress(row * size)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def tiny_wav(seconds: float = 1.0, rate: int = 16_000) -> bytes:
    """`seconds` of 16-bit mono silence as WAV (16 kHz: what Whisper resamples to anyway)."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(b"\x00\x00" * int(seconds * rate))
    return out.getvalue()


def minimal_request(pipeline: str, model_id: str | None, *, studio: bool = False) -> MinimalRequest:
    """The smallest valid call of a pipeline: to a gateway, or to Studio's generate API.

    text-to-image takes JSON; llm takes the OpenAI-style JSON `messages` and `model` at a
    gateway, a form with `prompt` at Studio; the others take multipart/form-data with the file
    (a PNG, or a WAV for audio-to-text).
    """
    if pipeline == "llm" and not studio:
        chat: dict[str, object] = {
            "messages": [{"role": "user", "content": "Reply OK."}],
            "max_tokens": LLM_MAX_TOKENS,
        }
        if model_id:
            chat["model"] = model_id
        return _json(chat)
    if pipeline == "llm":
        return _form({"prompt": "Reply OK.", "max_tokens": str(LLM_MAX_TOKENS)}, model_id)
    if pipeline not in MULTIPART_PIPELINES:
        params = {"prompt": PROMPT}
        if model_id:
            params["model_id"] = model_id
        return _json(params)
    fields: dict[str, Field] = {"prompt": PROMPT} if pipeline in PROMPTED else {}
    if pipeline == "audio-to-text":
        fields["audio"] = ("silence.wav", tiny_wav(), "audio/wav")
    else:
        fields["image"] = ("red.png", tiny_png(), "image/png")
    return _form(fields, model_id)


def _json(data: Mapping[str, object]) -> MinimalRequest:
    return MinimalRequest(json.dumps(data).encode(), "application/json", tuple(data))


def _form(fields: dict[str, Field], model_id: str | None) -> MinimalRequest:
    if model_id:
        fields = {**fields, "model_id": model_id}
    body, content_type = encode_multipart_formdata(fields)
    return MinimalRequest(body, content_type, tuple(fields))
