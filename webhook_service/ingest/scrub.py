"""Remove the secrets Livepeer can leave in a delivery before anything is stored or logged."""

from __future__ import annotations

from typing import Any

from webhook_service.urls import redact_url

# Keys whose values are (or may hold) credentials wherever they appear in a delivery: pull
# headers, multistream target specs (their RTMP URLs end in the target's stream key), and the
# access-control context a customer attaches to a playback policy.
SECRET_KEYS = frozenset(
    {"streamKey", "sharedSecret", "accessKey", "headers", "authorization", "spec", "webhookContext"}
)
_MAX_DEPTH = 32


def scrub(value: dict[str, Any], depth: int = 0) -> dict[str, Any]:
    """Return a copy of a JSON object without credentials: secret keys go, pull sources are cut.

    `headers` is dropped wherever it appears because `pull.headers` carries auth headers and no
    field the service reads is called that.
    """
    cleaned: dict[str, Any] = {}
    for key, item in value.items():
        if key in SECRET_KEYS:
            continue
        if depth >= _MAX_DEPTH:
            continue
        if key == "source" and isinstance(item, str) and "://" in item:
            cleaned[key] = redact_url(item, keep_path=False)
        elif isinstance(item, dict):
            cleaned[key] = scrub(item, depth + 1)
        elif isinstance(item, list):
            cleaned[key] = [
                scrub(element, depth + 1) if isinstance(element, dict) else element
                for element in item
            ]
        else:
            cleaned[key] = item
    return cleaned
