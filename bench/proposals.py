"""Make copies of webhook_service with one change (or one ablation) applied each, to measure.

  python -m bench.proposals /tmp/opt          # writes /tmp/opt/<name>/webhook_service, ...
  python -m bench.app_cost --variant orig=/tmp/opt/orig --variant nolog=/tmp/opt/nolog ...
  python -m bench.compare  --variant orig=/tmp/opt/orig --variant onescript=/tmp/opt/onescript

Nothing here touches the repository's code: each variant is a copy outside it, patched by exact
text replacement. A patch whose text is no longer in the code (the code moved on) is reported
and its variant skipped. Ablations (`no*`) remove a part only to price it; `onescript` is a
change that was measured and not taken (bench/README.md). Proposals that were taken (the
ingest endpoint ahead of Flask, hiredis, the logging switches, no gunicorn access-log atoms,
the diagnosis bulkhead) live in the product now.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from .procs import REPO_ROOT

Patch = tuple[str, str, str]  # (file under webhook_service/, old text, new text)

PROPOSALS: dict[str, list[Patch]] = {
    # Ablations: remove a part to price it (not proposals).
    "nolog": [
        (
            "http/observability.py",
            '    logger.info("%s %s %s", entry.method, entry.route, entry.status, extra=fields)\n',
            "    return\n",
        )
    ],
    "nometrics": [
        (
            "http/observability.py",
            "    HTTP_REQUESTS.labels(entry.method, entry.route, entry.status).inc()\n"
            "    HTTP_DURATION.labels(entry.route).observe(entry.elapsed)\n",
            "",
        ),
        (
            "http/observability.py",
            "        WEBHOOKS.labels(ingest.event_label, ingest.outcome).inc()\n"
            "        WEBHOOK_DURATION.observe(entry.elapsed)\n",
            "",
        ),
    ],
    "noredis": [
        (
            "store.py",
            '        """Apply an event: stream part atomically, then the idempotent global index '
            'step."""\n',
            '        """Apply an event: stream part atomically, then the idempotent global index '
            'step."""\n        return ApplyResult(duplicate=False)\n',
        )
    ],
}

# One EVALSHA instead of two pipelined ones on a single Redis (the cluster path keeps two).
ONE_SCRIPT_LUA = '''

# Single Redis only: the stream step and the index step in one script (one EVALSHA).
# KEYS: the stream step's keys, then the index step's. ARGV[1] how many keys the stream step
# has, ARGV[2] how many arguments; then its arguments; then the index step's arguments.
# Returns the stream step's answer.
APPLY_AND_INDEX = (
    """
local nk, na = tonumber(ARGV[1]), tonumber(ARGV[2])
local sk, sa, ik, ia = {}, {}, {}, {}
for i = 1, nk do sk[i] = KEYS[i] end
for i = nk + 1, #KEYS do ik[#ik + 1] = KEYS[i] end
for i = 1, na do sa[i] = ARGV[i + 2] end
for i = na + 3, #ARGV do ia[#ia + 1] = ARGV[i] end
local function stream_step(KEYS, ARGV)
"""
    + APPLY_STREAM_EVENT
    + """
end
local function index_step(KEYS, ARGV)
"""
    + INDEX_STREAM_EVENT
    + """
end
local answer = stream_step(sk, sa)
index_step(ik, ia)
return answer
"""
)
'''
PROPOSALS["onescript"] = [
    (
        "store_scripts.py",
        "\n# Applies an event that belongs to no stream",
        ONE_SCRIPT_LUA.rstrip() + "\n\n\n# Applies an event that belongs to no stream",
    ),
    (
        "store.py",
        "from .store_scripts import (\n",
        "from .store_scripts import (\n    APPLY_AND_INDEX,\n",
    ),
    (
        "store.py",
        "        self._index_stream = client.register_script(INDEX_STREAM_EVENT)\n",
        "        self._index_stream = client.register_script(INDEX_STREAM_EVENT)\n"
        "        self._apply_and_index = client.register_script(APPLY_AND_INDEX)\n",
    ),
    (
        "store.py",
        "        results = self._run_pipelined(\n"
        "            (self._apply_stream, keys, args), "
        "(self._index_stream, index_keys, index_args)\n"
        "        )\n"
        "        return ApplyResult(duplicate=bool(results[0][0]))\n",
        "        answer = self._apply_and_index(\n"
        "            keys=[*keys, *index_keys], args=[len(keys), len(args), *args, *index_args]\n"
        "        )\n"
        "        return ApplyResult(duplicate=bool(answer[0]))\n",
    ),
]


# Every proposal at once (hiredis is added by make() as for its own variant).


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
