# livepeer-webhooks: the same server as the Procfile's web line (`livepeer-webhooks serve`).
#
# `make image-test` builds this file with BASE_IMAGE set to a Debian bookworm base it makes
# locally (tools/build-base-image: the Python of Debian bookworm, 3.11) and runs the result
# against a real Redis. The default below is the same Python minor version, so what ships is
# what was tested.
ARG BASE_IMAGE=python:3.11-slim

# --- Stage 1: the project built as a wheel and installed, without dependencies, into a staging
# root laid out like the image's virtualenv. Its source tree, the wheel and the build's leftovers
# (build/, *.egg-info) stay in this stage; only the installed files reach the image.
FROM ${BASE_IMAGE} AS wheel
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
# The build backend (setuptools) pinned by hash, instead of whatever version PyPI has today.
COPY requirements-build.lock ./
RUN python -m venv /opt/build \
    && /opt/build/bin/python -m pip install --require-hashes --no-deps -r requirements-build.lock \
    && python -m venv --without-pip /opt/app
COPY pyproject.toml README.md ./
COPY webhook_service ./webhook_service
RUN /opt/build/bin/python -m pip wheel --no-deps --no-build-isolation --wheel-dir /dist . \
    && python -m pip --python /opt/app/bin/python install --no-deps --no-warn-script-location \
        --root /staging /dist/*.whl

# --- Stage 2: the image. Layers from the least to the most often changed, so that a code
# change rebuilds only the last ones. Only COPY brings files in: its cache key is the files'
# content (podman 4.3 reuses a cached `RUN --mount=type=bind` layer even when the mounted files
# changed).
FROM ${BASE_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PORT=8000

# A numeric uid/gid, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
RUN groupadd --gid 10001 app \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin app

# Dependencies: exactly the versions and files (sha256) of requirements.lock, nothing resolved
# at build time; rebuilt only when the lock changes. The lock stays in the image as the record
# of what is installed. The virtualenv has no pip of its own: the base image's pip installs
# into it (--python).
COPY requirements.lock /opt/app/requirements.lock
RUN python -m venv --without-pip /opt/app \
    && python -m pip --python /opt/app/bin/python install --require-hashes --no-deps \
        -r /opt/app/requirements.lock

# The project last: its installed files from stage 1 (the package, its metadata and the
# `livepeer-webhooks` command). `pip check` fails the build if the lock lacks something
# pyproject.toml asks for.
COPY --from=wheel /staging/ /
RUN python -m pip --python /opt/app/bin/python check

ENV PATH=/opt/app/bin:$PATH
# The code under /opt/app belongs to root: the service cannot change it.
USER 10001:10001
EXPOSE 8000
# No curl in the slim image: the standard library does the check. It probes /healthz (the
# process serves); whether Redis answers is /readyz, for the orchestrator's readiness probe.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=2)"]
# Exec form, no shell: `livepeer-webhooks serve` is PID 1 and is itself gunicorn's master (it
# runs gunicorn in-process), so it receives SIGTERM directly, handles it (stop accepting, let
# in-flight requests finish for up to 25 s, exit 0) and reaps its own workers. Give the
# container at least 30 s to stop (`docker stop -t 30`, compose's stop_grace_period: 30s);
# Docker's default of 10 s would SIGKILL requests still in flight.
STOPSIGNAL SIGTERM
CMD ["livepeer-webhooks", "serve"]
