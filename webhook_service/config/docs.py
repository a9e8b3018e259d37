"""The table of every setting in docs/configuration.md, made from the declarations."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from webhook_service.config import Settings
from webhook_service.config.parse import spec_of

DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
TABLE_START, TABLE_END = "<!-- settings-table:start -->", "<!-- settings-table:end -->"


def _shown(f: dataclasses.Field[Any]) -> str:
    """The default column of the docs table for one field."""
    spec, default = spec_of(f), f.default
    if spec.required:
        return "none: startup fails with one line naming it"
    if default is None:
        return f"unset: {spec.note}" if spec.note else "unset"
    if isinstance(default, bool):
        shown = str(default).lower()
    elif isinstance(default, tuple):
        shown = ",".join(default)
    else:
        shown = f"{default:g}" if isinstance(default, float) else str(default)
    return f"`{shown}` ({spec.note})" if spec.note else f"`{shown}`"


def settings_table() -> str:
    """The Markdown table of every variable (name, meaning, default), one row per field."""
    rows = ["| variable | meaning | default |", "|---|---|---|"]
    for f in dataclasses.fields(Settings):
        spec = spec_of(f)
        doc = spec.doc.replace("|", r"\|")
        rows.append(f"| `{spec.env}` | {doc} | {_shown(f)} |")
    return "\n".join(rows) + "\n"


def with_settings_table(document: str) -> str:
    """`document` with the text between the settings-table markers made by settings_table()."""
    start, end = document.index(TABLE_START) + len(TABLE_START), document.index(TABLE_END)
    return f"{document[:start]}\n{settings_table()}{document[end:]}"


def write_settings_table(path: Path = DOC_PATH) -> None:
    """Regenerate the table in docs/configuration.md (run after changing a setting)."""
    path.write_text(with_settings_table(path.read_text()))
