"""The smallest valid request of each AI pipeline, per the gateway's OpenAPI schema (pure).

Files are made here, not read from disk: a solid-colour PNG and a second of silent WAV.
"""

from __future__ import annotations

import io
import json
import struct
import wave
import zlib

from urllib3.filepost import encode_multipart_formdata

from webhook_service.diagnostics.ai import MULTIPART_PIPELINES, warm_model

PROMPT = "a red apple on a wooden table"
PROMPTED = frozenset({"image-to-image", "upscale"})  # multipart pipelines that need a prompt
# Pipelines without a warm model still need a model_id (the community gateway requires one):
# these are the defaults of Livepeer Studio's ai-api-schema.yaml.
SCHEMA_DEFAULT_MODELS = {
    "image-to-video": "stabilityai/stable-video-diffusion-img2vid-xt-1-1",
    "upscale": "stabilityai/stable-diffusion-x4-upscaler",
    "segment-anything-2": "facebook/sam2-hiera-large",
}


def default_model(pipeline: str) -> str | None:
    """The model to try when none is given: the warm one, else Studio's schema default."""
    return warm_model(pipeline) or SCHEMA_DEFAULT_MODELS.get(pipeline)


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


def minimal_request(pipeline: str, model_id: str | None) -> tuple[bytes, str]:
    """(body, content type) of the smallest valid call of a pipeline, per the gateway's schema.

    text-to-image and llm take JSON (llm the OpenAI-style `messages` and `model`); the others
    take multipart/form-data with the file (a PNG, or a WAV for audio-to-text).
    """
    if pipeline == "llm":
        chat: dict[str, object] = {
            "messages": [{"role": "user", "content": "Reply OK."}],
            "max_tokens": 8,  # the answer is not read: keep the job short
        }
        if model_id:
            chat["model"] = model_id
        return json.dumps(chat).encode(), "application/json"
    if pipeline not in MULTIPART_PIPELINES:
        params = {"prompt": PROMPT}
        if model_id:
            params["model_id"] = model_id
        return json.dumps(params).encode(), "application/json"
    fields: dict[str, str | tuple[str, bytes, str]] = {}
    if pipeline in PROMPTED:
        fields["prompt"] = PROMPT
    if pipeline == "audio-to-text":
        fields["audio"] = ("silence.wav", tiny_wav(), "audio/wav")
    else:
        fields["image"] = ("red.png", tiny_png(), "image/png")
    if model_id:
        fields["model_id"] = model_id
    return encode_multipart_formdata(fields)
