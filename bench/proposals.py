"""Make copies of webhook_service with one change (or one ablation) applied each, to measure.

  python -m bench.proposals /tmp/opt          # writes /tmp/opt/<name>/webhook_service, ...
  python -m bench.app_cost --variant orig=/tmp/opt/orig --variant nolog=/tmp/opt/nolog ...
  python -m bench.compare  --variant orig=/tmp/opt/orig --variant nolog=/tmp/opt/nolog

Nothing here touches the repository's code: each variant is a copy outside it, patched by exact
text replacement. A patch whose text is no longer in the code (the code moved on) is reported
and its variant skipped. Ablations (`no*`) remove a part only to price it. Proposals that were
taken (the ingest endpoint ahead of Flask, hiredis, the logging switches, no gunicorn access-log
atoms, the diagnosis bulkhead, one script per event) live in the product now.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from .procs import REPO_ROOT

Patch = tuple[str, str, str]  # (file under webhook_service/, old text, new text)
APPLY_DOC = (
    '        """Apply an event to its stream and the indexes (one script on a single Redis)."""\n'
)

PROPOSALS: dict[str, list[Patch]] = {
    # Ablations: remove a part to price it (not proposals).
    "nolog": [
        (
            "telemetry/requests.py",
            '    logger.info("%s %s %s", exchange.method, exchange.route, exchange.status, '
            "extra=fields)\n",
            "    return\n",
        )
    ],
    "nometrics": [
        (
            "telemetry/requests.py",
            "    HTTP_REQUESTS.labels(method, exchange.route, exchange.status).inc()\n"
            "    HTTP_DURATION.labels(exchange.route).observe(elapsed)\n",
            "",
        ),
        (
            "telemetry/requests.py",
            "        WEBHOOKS.labels(ingest.event_label, ingest.outcome).inc()\n"
            "        WEBHOOK_DURATION.observe(elapsed)\n",
            "",
        ),
    ],
    "noredis": [
        (
            "store/apply.py",
            APPLY_DOC,
            APPLY_DOC + "        return ApplyResult(duplicate=False)\n",
        )
    ],
}


def make(target: Path) -> dict[str, str]:
    """Write target/orig (a copy of the tree) and one patched copy per proposal."""
    source = REPO_ROOT / "webhook_service"
    made: dict[str, str] = {}
    ignore = shutil.ignore_patterns("__pycache__")
    orig = target / "orig"
    shutil.rmtree(orig, ignore_errors=True)
    shutil.copytree(source, orig / "webhook_service", ignore=ignore)
    made["orig"] = str(orig)
    for name, patches in PROPOSALS.items():
        copy = target / name
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(orig / "webhook_service", copy / "webhook_service")
        for file, old, new in patches:
            path = copy / "webhook_service" / file
            text = path.read_text()
            if text.count(old) != 1:
                made[name] = f"SKIPPED: the text to patch in {file} is gone or ambiguous"
                shutil.rmtree(copy, ignore_errors=True)
                break
            path.write_text(text.replace(old, new))
        else:
            made[name] = str(copy)
    return made


def main() -> int:
    if len(sys.argv) != 2:
        sys.stderr.write("usage: python -m bench.proposals TARGET_DIR (outside the repository)\n")
        return 2
    target = Path(sys.argv[1]).resolve()
    if target == REPO_ROOT or REPO_ROOT in target.parents:
        sys.stderr.write("the target must be outside the repository\n")
        return 2
    for name, where in make(target).items():
        sys.stdout.write(f"{name:10} {where}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
