"""Reading outside values into evidence (pure): what the API or a delivery sent may be any type."""

from __future__ import annotations

from typing import Any

MAX_TEXT = 2048


def as_int(value: Any) -> int | None:
    """An int (a time, count or status) or None: bools and other types count as missing."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def as_text(value: Any, limit: int = MAX_TEXT) -> str | None:
    """A non-blank string cut to `limit`, or None for anything else."""
    if not isinstance(value, str) or not value.strip():
        return None
    return value[:limit]
