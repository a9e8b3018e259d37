"""Remove the credentials a delivery can carry before anything is stored or logged (pure).

DESIGN.md (ingest): wherever they appear, at any depth and inside lists, keys named like a
credential go, and so do the userinfo of any URL and the stream key of RTMP and SRT URLs.
"""

from __future__ import annotations

import re
from typing import Any

from webhook_service.urls import redact_url

# Keys whose values are (or may hold) credentials wherever they appear in a delivery, compared
# without case, `_` and `-` (`stream_key`, `StreamKey`): pull headers, multistream target specs
# (their RTMP URLs end in the target's stream key), and the access-control context a customer
# attaches to a playback policy. `headers` goes wherever it appears: `pull.headers` carries
# auth headers and no field the service reads is called that.
SECRET_KEYS = frozenset(
    {"streamKey", "sharedSecret", "accessKey", "headers", "authorization", "spec", "webhookContext"}
)
_SECRET_NAMES = frozenset(k.lower() for k in SECRET_KEYS)
# Schemes whose URLs carry a stream key: the last path segment, and in the query (SRT's
# `streamid` and `passphrase`, the `?s_bl=...` tail of some RTMP keys).
_KEYED_SCHEMES = frozenset({"rtmp", "rtmps", "srt"})
_KEYED_URL = re.compile(r"(?:rtmps?|srt)://", re.IGNORECASE)
# Where a URL starts inside any text (a scheme of at most 32 characters, then `://`), and what
# ends one: a space or a quote, else the next URL's start.
_URL_START = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,31}://")
_URL_END = re.compile(r"[\s\"'<>]")
# Keys repeat from delivery to delivery: the verdict on each (kept as is, renamed, or dropped)
# is remembered, for short keys and up to a bound, so a sender cannot grow it without limit.
_KEY_VERDICTS: dict[str, str | None] = {}
_KEY_VERDICTS_MAX = 4096
_UNJUDGED = "\x00unjudged"  # never a remembered verdict: no key holding a NUL is remembered


def scrub(value: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of a JSON object without credentials, at any depth.

    The caller bounds the depth (events.MAX_DEPTH): this recurses once per level.
    """
    cleaned: dict[str, Any] = {}
    for key, item in value.items():
        name = _KEY_VERDICTS.get(key, _UNJUDGED)
        if name is _UNJUDGED:
            name = _judge_key(key)
        if name is None:
            continue
        kind = type(item)
        if kind is str:
            if "://" in item:
                # A pull source shows scheme and host only (redact_url reads a URL, not text).
                item = clean_text(redact_url(item, keep_path=False) if key == "source" else item)
        elif kind is dict:
            item = scrub(item)
        elif kind is list:
            item = _scrub_list(item)
        cleaned[name] = item
    return cleaned


def _scrub_list(items: list[Any]) -> list[Any]:
    cleaned = []
    for item in items:
        kind = type(item)
        if kind is dict:
            item = scrub(item)
        elif kind is list:
            item = _scrub_list(item)
        elif kind is str and "://" in item:
            item = clean_text(item)
        cleaned.append(item)
    return cleaned


def _judge_key(key: str) -> str | None:
    """None for a credential's key, else the key with any URL in it cleaned; remembered."""
    secret = key.lower().replace("_", "").replace("-", "") in _SECRET_NAMES
    verdict = None if secret else (clean_text(key) if "://" in key else key)
    if len(key) <= 64 and "\x00" not in key and len(_KEY_VERDICTS) < _KEY_VERDICTS_MAX:
        _KEY_VERDICTS[key] = verdict
    return verdict


def clean_text(text: str) -> str:
    """`text` with the credentials of every URL in it removed (see `clean_url`)."""
    if "@" not in text and _KEYED_URL.search(text) is None:
        return text  # no userinfo, no stream key: a plain https URL costs two scans
    starts = [(match.start(), match.end()) for match in _URL_START.finditer(text)]
    if not starts:
        return text
    parts = [text[: starts[0][0]]]
    for index, (start, after) in enumerate(starts):
        limit = starts[index + 1][0] if index + 1 < len(starts) else len(text)
        stop = _URL_END.search(text, after, limit)
        end = stop.start() if stop else limit
        parts += (clean_url(text[start : after - 3], text[after:end]), text[end:limit])
    return "".join(parts)


def clean_url(scheme: str, rest: str) -> str:
    """`scheme://rest` without userinfo; for RTMP and SRT also without the last path segment,
    the query and the fragment (where their stream keys and passphrases go)."""
    end = len(rest)
    for mark in "/?#\\":
        at = rest.find(mark, 0, end)
        if at != -1:
            end = at
    authority, tail = rest[:end].rpartition("@")[2], rest[end:]
    if scheme.lower() in _KEYED_SCHEMES:
        scheme = scheme.lower()
        path = tail.partition("?")[0].partition("#")[0].rstrip("/")
        tail = path[: path.rfind("/") + 1]
    return f"{scheme}://{authority}{tail}"
