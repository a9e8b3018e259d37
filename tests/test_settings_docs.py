"""docs/configuration.md: its table of variables is the one config.settings_table() makes."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from webhook_service.config import ENV_NAMES, Settings
from webhook_service.config.docs import (
    TABLE_END,
    TABLE_START,
    settings_table,
    with_settings_table,
)

DOC = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
REGENERATE = (
    ".venv/bin/python -c 'from webhook_service.config.docs import write_settings_table; "
    "write_settings_table()'"
)


def test_docs_table_matches_the_settings():
    """The table between the markers is exactly what the declarations make."""
    text = DOC.read_text()
    assert text == with_settings_table(text), (
        f"{DOC.name} and the Settings declarations differ; regenerate the table with:\n"
        f"  {REGENERATE}"
    )


def test_table_has_a_row_per_variable():
    """One row per variable, in declaration order, with the declared defaults."""
    rows = settings_table().splitlines()[2:]
    assert [row.split("`")[1] for row in rows] == list(ENV_NAMES)
    shown = {row.split("`")[1]: row.rsplit("|", 2)[1].strip() for row in rows}
    assert shown["WEBHOOK_TOLERANCE_SECONDS"] == "`300`"
    assert shown["REDIS_CLUSTER"] == "`false`" and shown["REDIS_TIMEOUT_SECONDS"] == "`2`"
    assert shown["RTMP_INGEST_HOSTS"] == "`rtmp.livepeer.com`"
    assert shown["LIVEPEER_WEBHOOK_SECRET"].startswith("none")
    assert shown["PUBLIC_URL"].startswith("unset")
    assert len(rows) == len(dataclasses.fields(Settings))


def test_regenerating_replaces_only_the_table():
    """with_settings_table keeps the text around the markers and is idempotent."""
    stale = f"intro\n{TABLE_START}\n| old |\n{TABLE_END}\noutro\n"
    fresh = with_settings_table(stale)
    assert fresh.startswith(f"intro\n{TABLE_START}\n| variable |") and "| old |" not in fresh
    assert fresh.endswith(f"|\n{TABLE_END}\noutro\n") and with_settings_table(fresh) == fresh


def test_a_document_without_markers_is_an_error():
    """No markers: ValueError rather than a silently unchanged file."""
    with pytest.raises(ValueError):
        with_settings_table("no table here\n")
