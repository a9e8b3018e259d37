"""The package's shape holds: imports only go down the layers, the pure core does no I/O, and
no module or function outgrows what a reader takes in at once (issue 14)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "webhook_service"
# Top to bottom: a module may import modules of its own layer or below, never above.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("cli", ("webhook_service.cli",)),
    ("app", ("webhook_service",)),  # the app factory: wiring only
    ("http", ("webhook_service.http",)),
    (
        "runners",
        (
            "webhook_service.diagnostics.diagnostician",
            "webhook_service.diagnostics.gather",
            "webhook_service.diagnostics.sources",
            "webhook_service.reconcile.runner",
            "webhook_service.ingest.receiver",
            "webhook_service.ai.gateway",
        ),
    ),
    (
        "clients",
        (
            "webhook_service.store",
            "webhook_service.livepeer.api",
            "webhook_service.livepeer.probe",
            "webhook_service.livepeer.allowlist",
            "webhook_service.telemetry",
        ),
    ),
    ("core", ("webhook_service",)),  # everything else: pure
)
# The pure core decides; it never talks to a network, a database or a web framework.
IMPURE = ("flask", "werkzeug", "redis", "urllib3", "socket", "svcs", "prometheus_client")
PURE_EXCEPTIONS = {"webhook_service.store.keys", "webhook_service.store.cursor"}
PURE_HELPERS = ("urllib3.filepost",)  # encodes a multipart body: no I/O
MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 40  # the body, docstring excluded


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _layer(module: str) -> int:
    """The module's layer index (0 is the top); the package itself is the app factory."""
    if module == "webhook_service":
        return 1
    if module in PURE_EXCEPTIONS:
        return len(LAYERS) - 1
    for index, (_, prefixes) in enumerate(LAYERS):
        if index in (1, len(LAYERS) - 1):
            continue
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return index
    return len(LAYERS) - 1


def _imports(path: Path, module: str) -> list[str]:
    """Every module `path` imports, at any depth of the file (lazy imports count too)."""
    tree = ast.parse(path.read_text())
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.level:
                raise AssertionError(f"{module}: relative import; write it absolute")
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


MODULES = _modules()


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_only_go_down(module):
    """cli -> app -> http -> runners -> clients -> the pure core; never upwards."""
    mine = _layer(module)
    for name in _imports(MODULES[module], module):
        if name in MODULES and name != module and not module.startswith(name + "."):
            assert _layer(name) >= mine, (
                f"{module} ({LAYERS[mine][0]}) imports {name} ({LAYERS[_layer(name)][0]})"
            )


@pytest.mark.parametrize("module", [m for m in sorted(MODULES) if _layer(m) == len(LAYERS) - 1])
def test_the_pure_core_does_no_io(module):
    """Signatures, events, diagnoses, facts, config: no web framework, Redis or network."""
    for name in _imports(MODULES[module], module):
        if name.startswith(PURE_HELPERS):
            continue
        assert name.split(".")[0] not in IMPURE, f"{module} imports {name}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_and_functions_stay_small(module):
    """No module over ~300 lines, no function body over ~40."""
    source = MODULES[module].read_text()
    assert source.count("\n") <= MAX_MODULE_LINES, f"{module}: split it by concept"
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                body = body[1:]
            length = body[-1].end_lineno - body[0].lineno + 1 if body else 0
            assert length <= MAX_FUNCTION_LINES, f"{module}.{node.name}: {length} lines"
