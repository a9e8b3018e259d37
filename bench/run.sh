#!/usr/bin/env bash
# The whole benchmark in one command (what `make bench` runs); arguments go to `python -m bench`
# (--quick for a ~1 minute iteration run, --help for the rest).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
exec "$PYTHON" -m bench "$@"
