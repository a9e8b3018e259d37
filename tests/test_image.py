"""The container image, built from the Dockerfile and run as docs/deployment.md says.

No registry is reachable on the machines this runs on, so tools/build-base-image makes the base
image (Debian bookworm by debootstrap: the Python that the Dockerfile's default base names) and
a Redis image, cached by a hash of their inputs. podman, with runc and this repository's
tools/podman/containers.conf, builds the Dockerfile with `--format docker` (the default OCI
format drops HEALTHCHECK), then the documented steps run: a user-defined network, Redis on it
as `redis`, the service with a 30 s stop timeout.

Where podman (or what the base needs) is missing, every test here skips, saying so in capitals;
under CI=true that is a failure instead. `make image-test` runs this module on its own, without
xdist (`make pytest` deselects it): the tests share one image and one deployment.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest
from helpers import delivery, free_port, signed

from tools import tool_missing

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
# A tag of this run's own: two runs on one machine must not test each other's image. The image
# stays, untagged, when the run ends: podman's layer cache for the next build.
IMAGE = f"localhost/livepeer-webhooks:test-{uuid.uuid4().hex[:8]}"
SECRET = "whsec-image-test-5b0e9c1d2a"
TOKEN = "ops-token-image-test-7d41a2f0"
STOP_TIMEOUT = 30  # the documented `--stop-timeout`
STOPPED_WITHIN = 10  # "well inside" it: an idle gunicorn exits within a few seconds
# Files of the build context that the image must carry only as installed files, and paths the
# builder stage uses: none of them may be in the image.
SOURCE_NAMES = {"pyproject.toml", "requirements.txt", "requirements-build.lock", "Dockerfile"}
BUILD_PATHS = ("/src", "/dist", "/staging", "/opt/build", "/app", "/root/.cache")
PODMAN_ENV = {
    **os.environ,
    "CONTAINERS_CONF": os.environ.get(
        "CONTAINERS_CONF", str(ROOT / "tools" / "podman" / "containers.conf")
    ),
}


def unavailable(reason: str) -> NoReturn:
    """The image cannot be built here: say so loudly (a failure under CI=true)."""
    tool_missing(f"container image not built or tested: {reason}", "run .ci/install-podman")


def podman(
    *args: str, check: bool = True, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["podman", *args],
        env=PODMAN_ENV,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check:
        assert result.returncode == 0, (
            f"podman {' '.join(args)} exited {result.returncode}:\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result


def inspect(reference: str, template: str, kind: str = "image") -> str:
    return podman(kind, "inspect", reference, "--format", template).stdout.strip()


@dataclass
class Built:
    image: str
    python_image: str
    redis_image: str
    base_seconds: float
    build_seconds: float


def build(context: Path, python_image: str, tag: str) -> float:
    started = time.monotonic()
    podman(
        "build",
        "--format",
        "docker",
        "--build-arg",
        f"BASE_IMAGE={python_image}",
        "--tag",
        tag,
        str(context),
        timeout=600,
    )
    return time.monotonic() - started


def base_image(which: str) -> subprocess.Popen[str]:
    """tools/build-base-image for one image, started (it is cached after the first run)."""
    return subprocess.Popen(
        [str(ROOT / "tools" / "build-base-image"), which],
        env=PODMAN_ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def reference(process: subprocess.Popen[str]) -> str:
    """The image reference the script printed; a missing tool (status 3) skips or fails."""
    out, err = process.communicate(timeout=900)
    if process.returncode == 3:
        unavailable(err.strip().splitlines()[-1])
    assert process.returncode == 0, f"{' '.join(map(str, process.args))} failed:\n{err[-4000:]}"
    return out.strip().rpartition("=")[2]


@pytest.fixture(scope="module")
def built() -> Iterator[Built]:
    """The base images (cached) and the image under test, built from the working tree."""
    if shutil.which("podman") is None:
        unavailable("podman is not installed (.ci/install-podman installs it, as root)")
    started = time.monotonic()
    python_image = reference(base_image("python"))
    base_seconds = time.monotonic() - started
    # The Redis image (apt-get in a container) is made while podman builds the Dockerfile.
    redis = base_image("redis")
    try:
        build_seconds = build(ROOT, python_image, IMAGE)
    finally:
        redis_image = reference(redis)
    yield Built(IMAGE, python_image, redis_image, base_seconds, build_seconds)
    podman("untag", IMAGE, check=False)


@pytest.fixture(scope="module")
def network(built: Built) -> Iterator[str]:
    """A user-defined network, as in the docs: containers on it find each other by name."""
    name = f"lpw-test-{uuid.uuid4().hex[:8]}"
    podman("network", "create", name)
    yield name
    podman("network", "rm", "--force", name, check=False)


@pytest.fixture(scope="module")
def redis_container(built: Built, network: str) -> Iterator[str]:
    """A real Redis on the network, reachable as `redis` (the docs' `--name redis`)."""
    name = f"{network}-redis"
    podman(
        "run",
        "--detach",
        "--name",
        name,
        "--network",
        network,
        "--network-alias",
        "redis",
        built.redis_image,
    )
    deadline = time.monotonic() + 20
    while podman("exec", name, "redis-cli", "ping", check=False).stdout.strip() != "PONG":
        assert time.monotonic() < deadline, podman("logs", name, check=False).stderr
        time.sleep(0.2)
    yield name
    podman("rm", "--force", name, check=False)


@dataclass
class Web:
    name: str
    url: str
    started_in: float

    def request(
        self, path: str, data: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        request = urllib.request.Request(self.url + path, data=data, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, error.read()


def start_web(built: Built, network: str, name: str) -> Web:
    """The service as docs/deployment.md runs it: on the network, REDIS_URL naming `redis`."""
    port = free_port()
    started = time.monotonic()
    podman(
        "run", "--detach", "--name", name, "--network", network,
        "--publish", f"127.0.0.1:{port}:8000", "--stop-timeout", str(STOP_TIMEOUT),
        "--env", f"LIVEPEER_WEBHOOK_SECRET={SECRET}", "--env", f"OPS_API_TOKEN={TOKEN}",
        "--env", "REDIS_URL=redis://redis:6379/0",
        built.image,
    )  # fmt: skip
    web = Web(name, f"http://127.0.0.1:{port}", 0.0)
    deadline = started + 30
    while True:
        try:
            if web.request("/healthz")[0] == 200:
                break
        except OSError:
            pass
        running = inspect(name, "{{.State.Running}}", kind="container")
        logs = podman("logs", name, check=False)
        assert running == "true", f"the container exited:\n{logs.stdout}\n{logs.stderr}"
        assert time.monotonic() < deadline, f"no /healthz within 30 s:\n{logs.stdout}"
        time.sleep(0.1)
    web.started_in = time.monotonic() - started
    return web


@pytest.fixture(scope="module")
def web(built: Built, network: str, redis_container: str) -> Iterator[Web]:
    server = start_web(built, network, f"{network}-web")
    yield server
    podman("rm", "--force", server.name, check=False)


def run_python(image: str, code: str, user: str = "") -> Any:
    """Runs `code` with the image's python (no network) and returns what it printed, as JSON."""
    as_user = ("--user", user) if user else ()
    result = podman(
        "run", "--rm", "--network", "none", *as_user, "--entrypoint", "python", image, "-c", code
    )
    return json.loads(result.stdout)


# --- The image as built ----------------------------------------------------------------------


def test_default_base_names_the_python_that_was_tested(built: Built):
    """ARG BASE_IMAGE=python:X.Y-slim, where X.Y is the Python of the base the test built on."""
    match = re.search(r"^ARG BASE_IMAGE=python:(\d+\.\d+)-slim$", DOCKERFILE.read_text(), re.M)
    assert match, "the Dockerfile's default base must be python:<X.Y>-slim"
    tested = run_python(built.image, "import sys; print('\"%d.%d\"' % sys.version_info[:2])")
    assert match.group(1) == tested, f"default python:{match.group(1)}-slim, tested {tested}"


def test_runs_as_a_numeric_non_root_user(built: Built, web: Web):
    """USER is a number (Kubernetes runAsNonRoot checks it), and the server really runs as it."""
    user = inspect(built.image, "{{.Config.User}}")
    assert re.fullmatch(r"[1-9]\d*(:\d+)?", user), f"USER {user!r} is not a numeric non-root uid"
    status = podman("exec", web.name, "cat", "/proc/1/status").stdout
    uids = re.search(r"^Uid:\s+(.*)$", status, re.M)
    assert uids and set(uids.group(1).split()) == {user.split(":")[0]}, status


LEFTOVERS = f"""
import json, os
bad = [p for p in {BUILD_PATHS!r} if os.path.lexists(p)]
bad += [os.path.join("/tmp", name) for name in os.listdir("/tmp")]
for top, dirs, files in os.walk("/"):
    dirs[:] = [d for d in dirs if os.path.join(top, d) not in ("/proc", "/sys", "/dev")]
    for name in dirs + files:
        if (name.endswith((".egg-info", ".whl")) or name in {SOURCE_NAMES!r} or name == ".git"
                or name == "webhook_service"):
            bad.append(os.path.join(top, name))
print(json.dumps(bad))
"""


def test_holds_no_source_tree_or_build_leftovers(built: Built):
    """Only installed files: the package in site-packages, no sources, wheels, egg-info, caches."""
    where = run_python(
        built.image, "import json, webhook_service; print(json.dumps(webhook_service.__file__))"
    )
    assert re.fullmatch(
        r"/opt/app/lib/python3\.\d+/site-packages/webhook_service/__init__\.py", where
    )
    # What the base image brings (its own pip wheels, say) is not the Dockerfile's doing.
    # As root, so that no directory (/root, say) is unreadable to the scan.
    found = set(run_python(built.image, LEFTOVERS, "0")) - set(
        run_python(built.python_image, LEFTOVERS, "0")
    )
    assert found == {os.path.dirname(where)}, f"not installed files in the image: {sorted(found)}"


def test_layers_cache_dependencies_before_the_project(built: Built, tmp_path: Path):
    """A code change rebuilds only the project's layers: the dependency layer is reused."""
    context = tmp_path / "context"
    context.mkdir()
    files = ("Dockerfile", ".dockerignore", "pyproject.toml", "README.md")
    for name in (*files, "requirements.lock", "requirements-build.lock"):
        shutil.copy2(ROOT / name, context / name)
    shutil.copytree(
        ROOT / "webhook_service",
        context / "webhook_service",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    with (context / "webhook_service" / "__init__.py").open("a") as handle:
        handle.write("\n# a code change\n")
    changed = f"{IMAGE}-changed"
    try:
        build(context, built.python_image, changed)
        before = json.loads(inspect(built.image, "{{json .RootFS.Layers}}"))
        after = json.loads(inspect(changed, "{{json .RootFS.Layers}}"))
    finally:
        podman("rmi", changed, check=False)
    assert len(before) == len(after)
    same = [a == b for a, b in zip(before, after, strict=True)]
    # Base, user, lock, dependencies: reused. The project's layer (and `pip check`'s): new.
    assert same[:-2] == [True] * (len(same) - 2) and not same[-2], (before, after)


def test_health_check_turns_healthy(built: Built, web: Web):
    """The image's HEALTHCHECK survives the build (docker format) and passes once run."""
    check = json.loads(inspect(built.image, "{{json .Config.Healthcheck}}"))
    assert check and check["Test"][0] == "CMD" and "/healthz" in " ".join(check["Test"]), check
    # No systemd here, so podman schedules nothing: `healthcheck run` is the scheduler.
    deadline = time.monotonic() + 20
    while True:
        ran = podman("healthcheck", "run", web.name, check=False)
        status = inspect(web.name, "{{.State.Health.Status}}", kind="container")
        if ran.returncode == 0 and status == "healthy":
            break
        assert time.monotonic() < deadline, (status, ran.stdout, ran.stderr)
        time.sleep(1)


# --- The image serving, against a real Redis ---------------------------------------------------


def test_serves_healthz_and_readyz_with_redis(web: Web):
    """/healthz answers, and /readyz says Redis (the `redis` container, by name) answers."""
    assert web.request("/healthz") == (200, {"status": "ok"})
    status, body = web.request("/readyz")
    assert status == 200 and body["redis"] == "ok", body


def test_signed_delivery_is_answered_200_and_the_stream_listed(web: Web):
    """A delivery signed with the container's secret is stored; /api/streams lists its stream."""
    stream_id = f"image-{uuid.uuid4().hex[:12]}"
    body = delivery("stream.started", stream_id=stream_id)
    raw, headers = signed(body, SECRET)
    status, answer = web.request("/webhooks/livepeer", data=raw, headers=headers)
    assert status == 200, answer
    assert answer == {"id": body["id"], "event": "stream.started", "duplicate": False}
    status, listing = web.request(
        "/api/streams?limit=200", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert status == 200, listing
    assert stream_id in [stream["id"] for stream in listing["streams"]], listing


def test_sigterm_ends_the_container_with_status_0_well_inside_the_stop_timeout(
    built: Built, network: str, redis_container: str
):
    """`podman stop` (SIGTERM, then SIGKILL after 30 s): gunicorn exits 0 in a few seconds."""
    server = start_web(built, network, f"{network}-stop")
    try:
        assert inspect(built.image, "{{.Config.StopSignal}}") in ("", "SIGTERM", "15")
        started = time.monotonic()
        podman("stop", "--time", str(STOP_TIMEOUT), server.name, timeout=STOP_TIMEOUT + 30)
        took = time.monotonic() - started
        code = inspect(server.name, "{{.State.ExitCode}}", kind="container")
        logs = podman("logs", server.name, check=False).stdout
        assert code == "0", f"exit status {code} (137 = SIGKILLed)\n{logs[-2000:]}"
        assert took < STOPPED_WITHIN, f"took {took:.1f} s of the {STOP_TIMEOUT} s\n{logs[-2000:]}"
    finally:
        podman("rm", "--force", server.name, check=False)


def test_image_size_is_reported(built: Built, web: Web, capsys: pytest.CaptureFixture[str]):
    """Prints the image's size, the layers' and the times; fails if the image balloons."""
    size = int(inspect(built.image, "{{.Size}}"))
    base = int(inspect(built.python_image, "{{.Size}}"))
    # The report is this test's output: printed past pytest's capture, like `make`'s own lines.
    with capsys.disabled():
        print(  # noqa: T201
            f"\nimage {built.image}: {size / 1e6:.0f} MB ({(size - base) / 1e6:.1f} MB on the "
            f"{base / 1e6:.0f} MB local base {built.python_image}); base image ready in "
            f"{built.base_seconds:.0f} s, image built in {built.build_seconds:.0f} s, "
            f"serving {web.started_in:.1f} s after `podman run`"
        )
        layers = podman("history", "--format", "  {{.Size}}\t{{.CreatedBy}}", built.image)
        print(layers.stdout)  # noqa: T201
    # The service's own layers (dependencies and project) were 47 MB when this was written.
    assert size - base < 100e6, f"{(size - base) / 1e6:.0f} MB on top of the base"
