"""limit and cursor parsing (pure)."""

from __future__ import annotations

import pytest

from webhook_service.store.cursor import Cursor, CursorError, parse_limit


@pytest.mark.parametrize(
    ("raw", "limit"), [(None, 50), ("", 50), ("1", 1), ("200", 200), ("201", 200), ("100000", 200)]
)
def test_limit_parsing(raw, limit):
    """Missing means 50; above 200 is clamped."""
    assert parse_limit(raw) == limit


@pytest.mark.parametrize("raw", ["0", "-1", "x", "1.0", " 5", "9" * 12])
def test_bad_limits(raw):
    """Zero, negatives, non-integers and absurd lengths are CursorError."""
    with pytest.raises(CursorError):
        parse_limit(raw)


@pytest.mark.parametrize("raw", ["", "!!", "Zm9v", "MTIzOmJhZCBtZW1iZXI", "LTE6eA", "x" * 300])
def test_bad_cursors(raw):
    """Cursors not issued by the service are CursorError, never another exception."""
    with pytest.raises(CursorError):
        Cursor.decode(raw)
