"""The AI pipelines this service knows, their warm models and how each takes its input (pure)."""

from __future__ import annotations

from collections.abc import Mapping

# Models kept loaded on orchestrators: they answer without a cold load. The first five are the
# troubleshooting guide's; the last three are the "Warm Models" of livepeer/docs
# ai/pipelines/{image-to-video,upscale,segment-anything-2}.mdx (also Studio's defaultModels in
# packages/api/src/schema/pull-ai-schema.js). Order: as DESIGN.md lists them.
WARM_MODELS: Mapping[str, str] = {
    "text-to-image": "SG161222/RealVisXL_V4.0_Lightning",
    "image-to-image": "timbrooks/instruct-pix2pix",
    "audio-to-text": "openai/whisper-large-v3",
    "image-to-text": "Salesforce/blip-image-captioning-large",
    "llm": "meta-llama/Meta-Llama-3.1-8B-Instruct",
    "image-to-video": "stabilityai/stable-video-diffusion-img2vid-xt-1-1",
    "upscale": "stabilityai/stable-diffusion-x4-upscaler",
    "segment-anything-2": "facebook/sam2-hiera-large",
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


def warm_model(pipeline: str) -> str | None:
    """The warm model of a pipeline, or None for a pipeline this service does not know."""
    return WARM_MODELS.get(pipeline)


def is_known(pipeline: str) -> bool:
    """Whether `pipeline` is one of the pipelines this service knows (PIPELINES)."""
    return pipeline in PIPELINES
