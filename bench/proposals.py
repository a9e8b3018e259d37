"""Make copies of webhook_service with one optimisation (or one ablation) applied each, to measure.

  python -m bench.proposals /tmp/opt          # writes /tmp/opt/<name>/webhook_service, ...
  python -m bench.app_cost --variant orig=/tmp/opt/orig --variant logfast=/tmp/opt/logfast ...
  python -m bench.compare  --variant orig=/tmp/opt/orig --variant noaccess=/tmp/opt/noaccess ...

Nothing here touches the repository's code: each variant is a copy outside it, patched by exact
text replacement. A patch whose text is no longer in the code (the code moved on) is reported
and its variant skipped. Proposals are what bench/README.md recommends; ablations (`no*`) remove
a part only to price it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from .procs import REPO_ROOT

Patch = tuple[str, str, str]  # (file under webhook_service/, old text, new text)

PROPOSALS: dict[str, list[Patch]] = {
    # gunicorn builds access-log atoms for every request whenever logconfig_dict is set, then
    # the gunicorn.access logger (no handlers, WARNING) drops the line.
    "noaccess": [
        (
            "server.py",
            "from gunicorn.app.base import BaseApplication\n",
            "from gunicorn.app.base import BaseApplication\n"
            "from gunicorn.glogging import Logger as GunicornLogger\n",
        ),
        (
            "server.py",
            "def gunicorn_options(",
            "class _NoAccessLog(GunicornLogger):  # type: ignore[misc]\n"
            '    """gunicorn\'s logger without the access log (our request line replaces it)."""\n'
            "\n"
            "    def access(self, *args: Any, **kwargs: Any) -> None:\n"
            "        return None\n"
            "\n\n"
            "def gunicorn_options(",
        ),
        (
            "server.py",
            '        "accesslog": None,\n',
            '        "accesslog": None,\n        "logger_class": _NoAccessLog,\n',
        ),
    ],
    # The logging HOWTO's "Optimization" knobs: the JSON line never shows caller, thread or
    # process names, so do not collect them for every record.
    "logfast": [
        (
            "logs.py",
            "def configure_logging(",
            "def _skip_unused_record_fields() -> None:\n"
            '    """Skip record fields the formatters never print (logging HOWTO)."""\n'
            "    logging._srcfile = None  # no sys._getframe() walk per record\n"
            "    logging.logThreads = False\n"
            "    logging.logProcesses = False\n"
            "    logging.logMultiprocessing = False\n"
            "\n\n"
            "def configure_logging(",
        ),
        (
            "logs.py",
            "    handler = logging.StreamHandler(sys.stderr)\n",
            "    _skip_unused_record_fields()\n    handler = logging.StreamHandler(sys.stderr)\n",
        ),
        (
            "logs.py",
            '    handler = {\n        "class": "logging.StreamHandler",',
            "    _skip_unused_record_fields()\n"
            '    handler = {\n        "class": "logging.StreamHandler",',
        ),
    ],
    # Each `request.x` / `g.x` goes through a werkzeug LocalProxy (~1 us each, ~20 per request
    # in these two functions): look the objects up once.
    "bindctx": [
        (
            "http/observability.py",
            """def _finish(response: Response) -> Response:
    elapsed = time.perf_counter() - g.get("started", time.perf_counter())
    # The route pattern, not the path: bounded, and free of ids a client made up.
    route = request.url_rule.rule if request.url_rule else "unmatched"
    response.headers["X-Request-ID"] = g.get("request_id", "")
    HTTP_REQUESTS.labels(method=request.method, route=route, status=response.status_code).inc()
    HTTP_DURATION.labels(route=route).observe(elapsed)
    if route == INGEST_ROUTE and request.method == "POST":
        WEBHOOKS.labels(event=g.get("event_label", "unknown"), outcome=g.get("outcome")).inc()
        WEBHOOK_DURATION.observe(elapsed)
    _log(route, response.status_code, elapsed)
    return response


def _log(route: str, status: int, elapsed: float) -> None:
    fields = {
        "request_id": g.get("request_id"),
        "method": request.method,
        "route": route,
        "path": request.path[:256],
        "status": status,
        "duration_ms": round(elapsed * 1000, 2),
        "remote_addr": request.remote_addr,
    }
    for key in ("outcome", "reject_reason", "event_id", "event_name"):
        if key in g:
            fields[key] = g.get(key)
    logger.info("%s %s %s", request.method, route, status, extra=fields)
""",
            """def _finish(response: Response) -> Response:
    # One context lookup each: every `request.x` / `g.x` goes through a LocalProxy.
    req: Request = request._get_current_object()  # type: ignore[attr-defined]
    ctx: _AppCtxGlobals = g._get_current_object()
    elapsed = time.perf_counter() - ctx.get("started", time.perf_counter())
    # The route pattern, not the path: bounded, and free of ids a client made up.
    route = req.url_rule.rule if req.url_rule else "unmatched"
    status = response.status_code
    response.headers["X-Request-ID"] = ctx.get("request_id", "")
    HTTP_REQUESTS.labels(method=req.method, route=route, status=status).inc()
    HTTP_DURATION.labels(route=route).observe(elapsed)
    if route == INGEST_ROUTE and req.method == "POST":
        WEBHOOKS.labels(event=ctx.get("event_label", "unknown"), outcome=ctx.get("outcome")).inc()
        WEBHOOK_DURATION.observe(elapsed)
    _log(req, ctx, route, status, elapsed)
    return response


def _log(req: Request, ctx: _AppCtxGlobals, route: str, status: int, elapsed: float) -> None:
    fields = {
        "request_id": ctx.get("request_id"),
        "method": req.method,
        "route": route,
        "path": req.path[:256],
        "status": status,
        "duration_ms": round(elapsed * 1000, 2),
        "remote_addr": req.remote_addr,
    }
    for key in ("outcome", "reject_reason", "event_id", "event_name"):
        if key in ctx:
            fields[key] = ctx.get(key)
    logger.info("%s %s %s", req.method, route, status, extra=fields)
""",
        ),
        (
            "http/observability.py",
            "from flask import Flask, Response, g, request\n",
            "from flask import Flask, Request, Response, g, request\n"
            "from flask.ctx import _AppCtxGlobals\n",
        ),
    ],
    # Bulkhead: at most half of a worker's threads may wait on diagnosis probes; more answer
    # 503 at once, so ingest always finds a free thread in every worker.
    "bulkhead": [
        (
            "http/diagnosis.py",
            'bp = Blueprint("diagnosis", __name__, url_prefix="/api")\n'
            "bp.before_request(require_ops_token)\n",
            'bp = Blueprint("diagnosis", __name__, url_prefix="/api")\n'
            "bp.before_request(require_ops_token)\n"
            "_slots: list[threading.BoundedSemaphore] = []\n"
            "\n\n"
            "class DiagnosesBusyError(ServiceError):\n"
            '    """Raised when this worker already runs as many diagnoses as it may."""\n'
            "\n"
            '    status, title, slug = 503, "Too many diagnoses", "diagnoses-busy"\n'
            "\n\n"
            "@bp.before_request\n"
            "def _take_slot() -> None:\n"
            '    """At most half of the worker\'s threads diagnose; the rest serve ingest."""\n'
            "    if not _slots:\n"
            '        threads = current_app.config["SETTINGS"].threads\n'
            "        _slots.append(threading.BoundedSemaphore(max(1, threads // 2)))\n"
            "    if not _slots[0].acquire(blocking=False):\n"
            "        raise DiagnosesBusyError(\n"
            '            "too many diagnoses in flight on this worker", {"Retry-After": "2"}\n'
            "        )\n"
            "    g.diagnosis_slot = True\n"
            "\n\n"
            "@bp.teardown_request\n"
            "def _give_slot(_error: BaseException | None) -> None:\n"
            '    if g.pop("diagnosis_slot", False):\n'
            "        _slots[0].release()\n",
        ),
        (
            "http/diagnosis.py",
            "from flask import Blueprint, Response, current_app, jsonify, request\n",
            "import threading\n\n"
            "from flask import Blueprint, Response, current_app, g, jsonify, request\n",
        ),
        (
            "http/diagnosis.py",
            "from .errors import BadRequestError, NotFoundError\n",
            "from .errors import BadRequestError, NotFoundError, ServiceError\n",
        ),
    ],
    # Ablations: remove a part to price it (not proposals).
    "nolog": [
        (
            "http/observability.py",
            "def _log(route: str, status: int, elapsed: float) -> None:\n",
            "def _log(route: str, status: int, elapsed: float) -> None:\n    return\n",
        )
    ],
    "nometrics": [
        (
            "http/observability.py",
            "    HTTP_REQUESTS.labels(method=request.method, route=route, "
            "status=response.status_code).inc()\n",
            "    return _log(route, response.status_code, elapsed) or response\n"
            "    HTTP_REQUESTS.labels(method=request.method, route=route, "
            "status=response.status_code).inc()\n",
        )
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
PROPOSALS["all"] = PROPOSALS["noaccess"] + PROPOSALS["bindctx"] + PROPOSALS["bulkhead"]


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
    # hiredis: not a code change, a dependency (C parser and command packer for redis-py).
    site = target / "hiredis-site"
    if not (site / "hiredis").exists():
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(site), "hiredis"],
            check=False,
        )
    made["hiredis"] = (
        f"{site}:{orig}" if (site / "hiredis").exists() else "SKIPPED: pip install failed"
    )
    if (site / "hiredis").exists() and not made["all"].startswith("SKIPPED"):
        made["all"] = f"{site}:{made['all']}"
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
