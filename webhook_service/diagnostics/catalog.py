"""Every verdict code: its status, cause, fix and the Livepeer behaviour it rests on (pure).

docs/diagnosis.md's code tables are made from this, so they cannot drift from the checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from webhook_service.diagnostics import ai, hls, playback_rows, recording_rows, rtmp, webhooks_rows
from webhook_service.diagnostics.livepeer_sources import RESTS_ON
from webhook_service.diagnostics.verdict import Check, Status

DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "diagnosis.md"
TABLE_START, TABLE_END = "<!-- verdict-catalog:start -->", "<!-- verdict-catalog:end -->"
ROWS_BY_CHECK: dict[Check, dict[str, tuple[Status, str, str]]] = {
    "rtmp": rtmp.ROWS,
    "hls": hls.ROWS,
    "playback": playback_rows.ROWS,
    "recording": recording_rows.ROWS,
    "webhooks": webhooks_rows.ROWS,
    "ai": ai.ROWS,
}
UNKNOWN_CAUSE = "Not enough facts to decide: {reason} (evidence.reason)."


@dataclass(frozen=True)
class Entry:
    """One code of the catalog, in its check's decision order."""

    code: str
    status: Status
    cause: str
    fix: str
    rests_on: str


def catalog() -> list[Entry]:
    """Every code of every check in decision order, `<check>.unknown` last in each."""
    entries = []
    for check, rows in ROWS_BY_CHECK.items():
        for name, (status, cause, fix) in rows.items():
            code = f"{check}.{name}"
            entries.append(Entry(code, status, cause, fix, RESTS_ON.get(code, "")))
        unknown = f"{check}.unknown"
        fix = "What evidence.reason names (an API key, a reachable API or CDN), then retry."
        entries.append(Entry(unknown, "unknown", UNKNOWN_CAUSE, fix, RESTS_ON.get(unknown, "")))
    return entries


def _cell(text: str) -> str:
    return " ".join(text.replace("|", r"\|").replace("{{", "{").replace("}}", "}").split())


def catalog_markdown() -> str:
    """The Markdown tables, one per check: code, status, cause, fix, what it rests on."""
    parts: list[str] = []
    for check in ROWS_BY_CHECK:
        parts += [f"### {check}", "", "| code | status | cause | fix | Livepeer behaviour |"]
        parts.append("|---|---|---|---|---|")
        for entry in catalog():
            if entry.code.startswith(f"{check}."):
                cells = (entry.cause, entry.fix, entry.rests_on or "this service's own rule")
                row = " | ".join(_cell(c) for c in cells)
                parts.append(f"| `{entry.code}` | {entry.status} | {row} |")
        parts.append("")
    return "\n".join(parts)


def with_catalog(document: str) -> str:
    """`document` with the text between the catalog markers made by catalog_markdown()."""
    start, end = document.index(TABLE_START) + len(TABLE_START), document.index(TABLE_END)
    return f"{document[:start]}\n{catalog_markdown()}{document[end:]}"


def write_catalog(path: Path = DOC_PATH) -> None:
    """Regenerate the tables in docs/diagnosis.md (run after changing a row)."""
    path.write_text(with_catalog(path.read_text()))
