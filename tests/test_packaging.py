"""`pip install .` works from a clean tree: the built wheel holds every module and the command."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_contains_the_whole_package(tmp_path):
    """A non-editable wheel has every module under webhook_service/, the status page's files
    and the console script."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    [wheel] = tmp_path.glob("livepeer_webhooks-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    package = ROOT / "webhook_service"
    page = {p for p in (package / "http" / "status_page").iterdir() if p.is_file()}
    sources = {str(p.relative_to(ROOT)) for p in {*package.rglob("*.py"), *page}} | {
        "webhook_service/py.typed"
    }
    assert len(page) >= 3, page
    assert sources <= names, sources - names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "livepeer-webhooks = webhook_service.cli:main" in text
