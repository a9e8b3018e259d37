"""Opaque keyset cursors for newest-first listings: (score, member) of the last item (pure)."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from webhook_service.ingest.events import TOKEN_PATTERN

MAX_LIMIT = 200
DEFAULT_LIMIT = 50
_MEMBER_RE = re.compile(TOKEN_PATTERN)


class CursorError(ValueError):
    """Raised when a cursor or limit given by a client cannot be used."""


@dataclass(frozen=True)
class Cursor:
    """Position after the item with this score (ms) and member (id), in newest-first order."""

    score: int
    member: str

    def encode(self) -> str:
        raw = f"{self.score}:{self.member}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        if len(text) > 256:
            raise CursorError("cursor is not one this service issued")
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii")
        except (binascii.Error, ValueError):
            raise CursorError("cursor is not one this service issued") from None
        score, sep, member = raw.partition(":")
        if not sep or not score.isdigit() or len(score) > 16 or not _MEMBER_RE.match(member):
            raise CursorError("cursor is not one this service issued")
        return cls(int(score), member)


def parse_limit(raw: str | None) -> int:
    """Parse a `limit` query value: 1 or more, clamped to MAX_LIMIT; default DEFAULT_LIMIT."""
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    if not raw.isdigit() or len(raw) > 9 or int(raw) < 1:
        raise CursorError("limit must be a whole number from 1 to 200")
    return min(int(raw), MAX_LIMIT)
