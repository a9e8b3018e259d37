"""A fake of Livepeer Studio's generate API: a real HTTP server on 127.0.0.1 that answers as
livepeer/studio's packages/api/src does for a user who is not an admin.

- app-router.ts + controllers/index.ts: the router sits at /api/generate and /api/beta/generate;
  any other path or method (GET included) is 404 {"errors": ["not found"]}.
- middleware/auth.ts: `authenticator` refuses an unknown bearer token on every path (401
  "no token <id> found"); `authorizer` refuses a request without one on a route (401).
- generate.ts, registerGenerateHandler: text-to-image takes JSON (validatePost), every other
  route multipart/form-data (validateFormData: anything else is 422 "Expected
  multipart/form-data content-type"), llm included; no image-to-text route. The schemas
  (ai-api-schema.yaml) have `required` fields and `additionalProperties: false`: 422
  {"errors": ["<ajv error as JSON>"]}.
- proxyGenerate: the gateway's answer is passed on, except a 5xx, which becomes 500
  {"errors": ["Failed to generate <pipeline>"]}; createPayload adds the default model_id.
"""

from __future__ import annotations

import json
from typing import Any

from fake_ai_gateway import ANSWERS, form_fields
from fake_http import FakeServer, Recorded, Reply, json_reply

MODES = ("warm", "cold", "hang", "hang-all")
BASES = ("/api/generate/", "/api/beta/generate/")
TOKEN = "studio-key-test-4b2a"
# pipeline -> (JSON route?, required fields, every allowed field), per ai-api-schema.yaml.
IMAGE_GEN = ("loras", "guidance_scale", "negative_prompt", "num_images_per_prompt")
RUN = ("model_id", "safety_check", "seed", "num_inference_steps")
ROUTES: dict[str, tuple[bool, tuple[str, ...], frozenset[str]]] = {
    "text-to-image": (
        True,
        ("prompt",),
        frozenset({"prompt", "height", "width", *IMAGE_GEN, *RUN}),
    ),
    "image-to-image": (
        False,
        ("prompt", "image"),
        frozenset({"prompt", "image", "strength", "image_guidance_scale", *IMAGE_GEN, *RUN}),
    ),
    "image-to-video": (
        False,
        ("image",),
        frozenset(
            {"image", "height", "width", "fps", "motion_bucket_id", "noise_aug_strength", *RUN}
        ),
    ),
    "upscale": (False, ("prompt", "image"), frozenset({"prompt", "image", *RUN})),
    "audio-to-text": (False, ("audio",), frozenset({"audio", "model_id", "return_timestamps"})),
    "segment-anything-2": (
        False,
        ("image",),
        frozenset(
            {"image", "model_id", "point_coords", "point_labels", "box", "mask_input"}
            | {"multimask_output", "return_logits", "normalize_coords"}
        ),
    ),
    "llm": (
        False,
        ("prompt",),
        frozenset(
            {"prompt", "model_id", "system_msg", "temperature", "max_tokens", "history", "stream"}
        ),
    ),
}
DEFAULT_MODELS = {  # pull-ai-schema.js, defaultModels
    "text-to-image": "SG161222/RealVisXL_V4.0_Lightning",
    "image-to-image": "timbrooks/instruct-pix2pix",
    "image-to-video": "stabilityai/stable-video-diffusion-img2vid-xt-1-1",
    "upscale": "stabilityai/stable-diffusion-x4-upscaler",
    "audio-to-text": "openai/whisper-large-v3",
    "segment-anything-2": "facebook/sam2-hiera-large",
    "llm": "meta-llama/Meta-Llama-3.1-8B-Instruct",
}


class FakeStudioGenerate(FakeServer):
    """Studio's generate API at `.base` (`.url` + /api/beta/generate); `requests` records every
    request (`fields`: the payload it would send the gateway, default model_id included).

    warm: 200 with the pipeline's answer; cold: the first `cold_failures` valid POSTs answer
    500 "Failed to generate <pipeline>" (the gateway's 503 hidden); hang: valid POSTs never
    answer (the gateway hangs); hang-all: no request is ever answered. `also_required` adds
    required fields, as a newer schema might; `suspended`: the key's user is suspended.
    """

    def __init__(
        self,
        mode: str = "warm",
        *,
        cold_failures: int = 2,
        token: str = TOKEN,
        also_required: tuple[str, ...] = (),
        suspended: bool = False,
    ) -> None:
        assert mode in MODES, mode
        self.mode, self.cold_failures, self.token = mode, cold_failures, token
        self.also_required = also_required  # a schema that moved on: fields it now requires
        self.suspended = suspended  # the key's user is suspended (auth.ts, authenticator)
        self.jobs = 0
        super().__init__()

    @property
    def base(self) -> str:
        return f"{self.url}/api/beta/generate"

    def jobs_sent(self) -> list[dict[str, Any]]:
        """The payload of each request that got past validation (a job for the gateway)."""
        return [r.fields for r in self.requests if r.fields]

    def handle(self, request: Recorded) -> Reply | None:
        """The reply to one request; None means hang until stopped."""
        if self.mode == "hang-all":
            return None
        given = request.headers.get("authorization")
        if given is not None and given != f"Bearer {self.token}":
            return json_reply(401, {"errors": [f"no token {given.partition(' ')[2]} found"]})
        if given is not None and self.suspended:
            return json_reply(403, {"errors": ["user is suspended"]})
        path = request.path.split("?", 1)[0]
        pipeline = next((path[len(b) :] for b in BASES if path.startswith(b)), None)
        if request.method != "POST" or pipeline not in ROUTES:
            return json_reply(404, {"errors": ["not found"]})
        if given is None:
            return json_reply(401, {"errors": ["request is not authenticated"]})
        ctype = request.headers.get("content-type", "")
        payload = _validated(pipeline, ctype, request.body, self.also_required)
        if isinstance(payload, Reply):
            return payload
        request.fields = {"model_id": DEFAULT_MODELS[pipeline], **payload}
        return self._proxy(pipeline)

    def _proxy(self, pipeline: str) -> Reply | None:
        if self.mode == "hang":
            return None
        with self.lock:
            self.jobs += 1
            cold = self.mode == "cold" and self.jobs <= self.cold_failures
        if cold:  # the gateway's 503, as a user who is not an admin sees it
            return json_reply(500, {"errors": [f"Failed to generate {pipeline}"]})
        return json_reply(200, ANSWERS[pipeline])


def _validated(
    pipeline: str, content_type: str, body: bytes, also_required: tuple[str, ...] = ()
) -> dict[str, Any] | Reply:
    """The request's fields, or Studio's 422 for a body of the wrong kind or shape."""
    is_json, required, allowed = ROUTES[pipeline]
    required += also_required
    if is_json:
        # body-parser reads only a JSON Content-Type; anything else leaves the body empty.
        try:
            fields = (
                json.loads(body or b"{}") if content_type.startswith("application/json") else {}
            )
        except ValueError:  # body-parser's SyntaxError reaches errorHandler.ts as a 500
            return json_reply(500, {"errors": ["Internal server error: SyntaxError"]})
        if not isinstance(fields, dict):
            fields = {}
    elif not content_type.startswith("multipart/form-data"):
        return json_reply(422, {"errors": ["Expected multipart/form-data content-type"]})
    else:
        fields = form_fields(content_type, body)
    errors = [
        _ajv("required", f"must have required property '{name}'", missingProperty=name)
        for name in required
        if name not in fields
    ]
    errors += [
        _ajv("additionalProperties", "must NOT have additional properties", additionalProperty=n)
        for n in fields
        if n not in allowed
    ]
    if errors:  # ajv stops at the first error (no allErrors)
        return json_reply(422, {"errors": [json.dumps(errors[0])]})
    return fields


def _ajv(keyword: str, message: str, **params: str) -> dict[str, Any]:
    """An error as ajv reports it (validators.ts sends each JSON.stringify-ed)."""
    return {"instancePath": "", "keyword": keyword, "params": params, "message": message}
