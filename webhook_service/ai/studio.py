"""Livepeer Studio's generate API, as livepeer/studio's packages/api/src has it (pure).

- controllers/index.ts mounts the generate router at `generate` and `beta/generate` under the
  API prefix (`/api`, app-router.ts): `/api/generate/<pipeline>`, `/api/beta/generate/<pipeline>`.
- controllers/generate.ts, registerGenerateHandler: one POST route per pipeline; text-to-image
  takes JSON, every other route multipart/form-data (validators.ts, validateFormData), llm
  included: a form with `prompt` (Body_genLLM), where a gateway takes JSON `{messages, model}`.
  There is no image-to-text route. Any other path or method is 404 `{"errors": ["not found"]}`.
- proxyGenerate: for a user who is not an admin, any gateway answer >= 500 becomes
  500 `{"errors": ["Failed to generate <pipeline>"]}`, so a cold model's 503 arrives that way.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from webhook_service.ai.bodies import studio_errors

STUDIO_BASE_PATHS = ("/api/generate", "/api/beta/generate")
STUDIO_PIPELINES = (
    "text-to-image",
    "image-to-image",
    "image-to-video",
    "upscale",
    "audio-to-text",
    "segment-anything-2",
    "llm",
)
GENERATE_FAILED_STATUS = 500
GENERATE_FAILED_PREFIX = "Failed to generate "


def is_studio_url(url: str) -> bool:
    """Whether a base URL is Studio's generate API: its path ends in /api/generate or
    /api/beta/generate (a trailing `/` and letter case aside, as Express routes ignore them)."""
    path = urlsplit(url).path.rstrip("/").lower()
    return path.endswith(STUDIO_BASE_PATHS)


def serves(pipeline: str) -> bool:
    """Whether Studio's generate API has a route for `pipeline` (image-to-text: no)."""
    return pipeline in STUDIO_PIPELINES


def generate_failed_message(status: int | None, body: Any) -> str | None:
    """Studio's "Failed to generate <pipeline>" when this is that 500 answer, else None."""
    if status != GENERATE_FAILED_STATUS:
        return None
    errors = studio_errors(body)
    if not errors or not errors[0].startswith(GENERATE_FAILED_PREFIX):
        return None
    return errors[0]
