"""docs/diagnosis.md lists every verdict code with its cause, fix and the Livepeer behaviour it
rests on, made from the checks' own rows (diagnostics/catalog.py), and the codes are the
contract's."""

from __future__ import annotations

import re
from pathlib import Path

from webhook_service.diagnostics.catalog import catalog, with_catalog

DOC = Path(__file__).resolve().parent.parent / "docs" / "diagnosis.md"
DESIGN = Path(__file__).resolve().parents[2] / "shared" / "DESIGN.md"
SNAPSHOT = Path(__file__).resolve().parent / "vectors" / "verdict-codes.txt"
REGENERATE = (
    ".venv/bin/python -c 'from webhook_service.diagnostics.catalog import write_catalog; "
    "write_catalog()'"
)


def test_the_docs_show_the_catalog_the_code_makes():
    """The tables between the markers are exactly what the checks' rows make."""
    text = DOC.read_text()
    assert text == with_catalog(text), f"docs/diagnosis.md is stale: run {REGENERATE}"


def test_every_code_says_what_livepeer_behaviour_it_rests_on():
    """Each code but `<check>.unknown` names the Livepeer source (or observation) behind it."""
    missing = [e.code for e in catalog() if not e.rests_on and not e.code.endswith(".unknown")]
    assert missing == []


def _contract_codes() -> list[str]:
    """The codes of DESIGN.md's Verdict codes table, in order: from the steering checkout when
    it is beside this one (and then the copy in tests/vectors must equal it), else the copy."""
    lines = SNAPSHOT.read_text().splitlines()
    copy = [line for line in lines if line and not line.startswith("#")]
    if DESIGN.is_file():
        table = DESIGN.read_text().split("### Verdict codes (contract)")[1].split("\n\n")[2]
        design = re.findall(r"^\| \w+ \| `([a-z]+\.[a-z_]+)` \|", table, flags=re.M)
        assert copy == design, f"{SNAPSHOT} is stale: copy the codes of DESIGN.md's table"
    return copy


def test_the_codes_are_the_contracts_in_its_order():
    """The catalog's codes, per check and in order, are the Verdict codes table of DESIGN.md."""
    ours = [e.code for e in catalog() if not e.code.endswith(".unknown")]
    assert ours == _contract_codes()
