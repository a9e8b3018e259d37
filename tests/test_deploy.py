"""deploy/: dashboard, alert rules, scrape config, compose file and app.json agree with the app."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tools import tool_missing

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
DASHBOARD = DEPLOY / "grafana" / "livepeer-webhooks.json"
PROMETHEUS = DEPLOY / "prometheus"
ALERTS = PROMETHEUS / "alerts.yml"
ALERTS_TEST = PROMETHEUS / "alerts_test.yml"
PROMETHEUS_CONFIG = PROMETHEUS / "prometheus.yml"
COMPOSE = DEPLOY / "docker-compose.yml"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
METRIC_NAME = re.compile(r"\blivepeer_[a-z_]+\b")


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        tool_missing("promtool is not on PATH", "apt-get install prometheus")
    return found


# The alerts the deploy README's runbook documents; each must exist in alerts.yml.
REQUIRED_ALERTS = {
    "LivepeerWebhookSignatureFailures",
    "LivepeerWebhooksNoDeliveries",
    "LivepeerWebhooksRedisDown",
    "LivepeerWebhooksTargetDown",
    "LivepeerWebhookIngestSlow",
    "LivepeerWebhookStorageErrors",
    "LivepeerWebhookMalformedDeliveries",
    "LivepeerWebhookOversizedDeliveries",
}


# The metrics the dashboard must chart (the service may add more; they need not be charted).
DASHBOARD_METRICS = {
    "livepeer_webhooks_total",
    "livepeer_webhook_duration_seconds_bucket",
    "livepeer_streams_active",
    "livepeer_redis_up",
    "livepeer_redis_errors_total",
    "livepeer_http_requests_total",
    "livepeer_http_request_duration_seconds_bucket",
    "livepeer_diagnosis_total",
    "livepeer_probe_duration_seconds_bucket",
    "livepeer_probe_errors_total",
}


def app_json_path() -> Path:
    """app.json at the repository root (where Heroku reads it) once moved, else deploy/."""
    root = ROOT / "app.json"
    return root if root.exists() else DEPLOY / "app.json"


def load_yaml(path: Path) -> Any:
    yaml = pytest.importorskip("yaml", reason="PyYAML not installed (comes with schemathesis)")
    return yaml.safe_load(path.read_text())


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def dashboard_exprs() -> list[str]:
    return [t["expr"] for p in dashboard()["panels"] for t in p.get("targets", [])]


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in load_yaml(ALERTS)["groups"] for rule in group["rules"]]


def metric_names(expr: str) -> set[str]:
    """livepeer_* metric names in a PromQL expression (label values like "livepeer_api" aside)."""
    return set(METRIC_NAME.findall(re.sub(r'"[^"]*"', '""', expr)))


def exposed_names(exposition: str) -> set[str]:
    """Every series name a scrape can contain, from # TYPE lines (with suffixes) and samples."""
    names: set[str] = set()
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            names.add(name)
            if kind == "histogram":
                names.update(f"{name}_{suffix}" for suffix in ("bucket", "count", "sum"))
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def readme_config_table() -> dict[str, str]:
    """Variable name -> default column of the README's Configuration table."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    table: dict[str, str] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            for name in re.findall(r"`([A-Z_]+)`", cells[0]):
                table[name] = cells[2]
    return table


def as_promql(expr: str) -> str:
    """A dashboard query with Grafana's variables replaced, so promtool can parse it."""
    return (
        expr.replace("$__rate_interval", "5m")
        .replace("$job", "livepeer-webhooks")
        .replace("$instance", ".*")
    )


def run(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"{' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


# --- Grafana dashboard -----------------------------------------------------------------------


def test_dashboard_has_the_importable_shape():
    """The dashboard has title, uid, schemaVersion, panels and a Prometheus datasource variable."""
    board = dashboard()
    assert board["title"] and re.fullmatch(r"[A-Za-z0-9_-]{1,40}", board["uid"])
    assert board["schemaVersion"] >= 36
    assert board.get("id") is None, "an id would make the import overwrite another dashboard"
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    inputs = board.get("__inputs", [])
    text = DASHBOARD.read_text()
    for item in inputs:
        assert "${" + item["name"] + "}" in text, f"__inputs {item['name']} is never used"
    assert "${DS_" not in text or inputs, "a ${DS_...} reference needs a matching __inputs entry"


def test_every_panel_and_query_uses_the_datasource_variable():
    """Every panel, every query and every query variable uses the ${datasource} variable."""
    board = dashboard()
    assert board["panels"]
    for panel in board["panels"]:
        assert panel["datasource"] == DATASOURCE, panel["title"]
        for target in panel.get("targets", []):
            assert target["datasource"] == DATASOURCE, panel["title"]
            assert target["expr"].strip(), panel["title"]
        if panel["type"] != "row":
            assert panel.get("targets"), f"{panel['title']} has no query"
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            assert variable["datasource"] == DATASOURCE, variable["name"]


def test_dashboard_panels_fit_the_grid_without_overlapping():
    """Panels have unique ids and gridPos inside 24 columns, and no two panels overlap."""
    panels = dashboard()["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    cells: dict[tuple[int, int], str] = {}
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["w"] > 0 and grid["h"] > 0 and 0 <= grid["x"] and grid["x"] + grid["w"] <= 24
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]


def test_dashboard_shows_the_panels_operators_need():
    """Panels exist for outcomes, rejections, latency quantiles, Redis, 5xx, diagnosis, probes."""
    exprs = "\n".join(dashboard_exprs())
    for needle in (
        "sum by (outcome) (rate(livepeer_webhooks_total",
        'outcome=~"bad_signature|stale"',
        "histogram_quantile(0.5, sum by (le) (rate(livepeer_webhook_duration_seconds_bucket",
        "histogram_quantile(0.95, sum by (le) (rate(livepeer_webhook_duration_seconds_bucket",
        "histogram_quantile(0.99, sum by (le) (rate(livepeer_webhook_duration_seconds_bucket",
        "livepeer_streams_active",
        "livepeer_redis_up",
        "livepeer_redis_errors_total",
        'status=~"5.."',
        'livepeer_diagnosis_total{job=~"$job", instance=~"$instance", status="fail"}',
        "livepeer_probe_duration_seconds_bucket",
        "livepeer_probe_errors_total",
    ):
        assert needle in exprs, needle
    stacked = [
        p
        for p in dashboard()["panels"]
        if p["type"] == "timeseries"
        and p["fieldConfig"]["defaults"]["custom"]["stacking"]["mode"] == "normal"
    ]
    assert any("by (outcome)" in t["expr"] for p in stacked for t in p["targets"])


# --- Metric names against the running app ----------------------------------------------------


def test_dashboard_and_alerts_use_only_metrics_the_app_exposes(client):
    """Every livepeer_* name in the dashboard and the alert rules appears in the app's /metrics."""
    client.get("/healthz")  # so the HTTP families have samples too
    response = client.get("/metrics")
    assert response.status_code == 200
    exposed = exposed_names(response.get_data(as_text=True))
    used = {name for expr in dashboard_exprs() for name in metric_names(expr)}
    # The whole rule file, annotations and comments too: every name an operator reads is real.
    used |= set(METRIC_NAME.findall(ALERTS.read_text()))
    assert used, "no livepeer_* metric found in the dashboard or the rules"
    assert used <= exposed, f"not exposed by /metrics: {sorted(used - exposed)}"
    dashboard_names = {name for expr in dashboard_exprs() for name in metric_names(expr)}
    missing = DASHBOARD_METRICS - dashboard_names
    assert not missing, f"on no dashboard panel: {sorted(missing)}"


# --- Prometheus rules and config -------------------------------------------------------------


def _anchors(path: Path) -> set[str]:
    """The GitHub anchors of a Markdown file's headings."""
    headings = re.findall(r"^#+ (.+)$", path.read_text(), flags=re.M)
    return {re.sub(r"[^a-z0-9 _-]", "", h.lower()).replace(" ", "-") for h in headings}


def _names_a_doc_section(runbook: str) -> bool:
    """Besides its deploy/README.md runbook, the annotation points at a section that exists:
    `README.md "Heading"` or `docs/<file>.md#anchor`."""
    root = DEPLOY.parent
    for name, anchor in re.findall(r"(docs/[a-z]+\.md)#([a-z0-9_-]+)", runbook):
        if anchor not in _anchors(root / name):
            return False
    for heading in re.findall(r'README\.md "([^"]+)"', runbook):
        if f"## {heading}" not in (root / "README.md").read_text():
            return False
    return bool(re.search(r'README\.md "|docs/[a-z]+\.md#', runbook))


def test_alert_rules_have_severity_summary_description_and_runbook():
    """Each rule has alert, expr, for, severity, and summary/description/runbook annotations."""
    rules = alert_rules()
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names))
    assert REQUIRED_ALERTS <= set(names)
    runbook = (DEPLOY / "README.md").read_text()
    for rule in rules:
        assert rule["expr"].strip() and re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        annotations = rule["annotations"]
        assert annotations["summary"] and annotations["description"], rule["alert"]
        anchor = rule["alert"].lower()
        assert annotations["runbook"].startswith(f"deploy/README.md#{anchor}"), rule["alert"]
        assert f"\n### {rule['alert']}\n" in runbook, f"no runbook section for {rule['alert']}"
        assert _names_a_doc_section(annotations["runbook"]), (rule["alert"], "no docs section")


def test_alert_rules_watch_the_brief_conditions():
    """Rules test what they claim: bad_signature share, 6h silence, p99 > 0.25 s, storage errors."""
    exprs = {rule["alert"]: " ".join(rule["expr"].split()) for rule in alert_rules()}
    signature = exprs["LivepeerWebhookSignatureFailures"]
    assert 'outcome="bad_signature"}[15m]' in signature and " / " in signature
    silence = exprs["LivepeerWebhooksNoDeliveries"]
    assert 'increase(livepeer_webhooks_total{outcome=~"accepted|duplicate"}[6h])) == 0' in silence
    assert "histogram_quantile(0.99," in exprs["LivepeerWebhookIngestSlow"]
    assert exprs["LivepeerWebhookIngestSlow"].endswith("> 0.25")
    assert 'outcome="storage_error"' in exprs["LivepeerWebhookStorageErrors"]
    assert "livepeer_redis_up" in exprs["LivepeerWebhooksRedisDown"]
    assert 'up{job="livepeer-webhooks"} == 0' in exprs["LivepeerWebhooksTargetDown"]


def test_prometheus_config_scrapes_the_service_and_loads_the_rules():
    """prometheus.yml scrapes job livepeer-webhooks at web:8000/metrics and loads alerts.yml."""
    config = load_yaml(PROMETHEUS_CONFIG)
    assert config["rule_files"] == ["alerts.yml"]
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "livepeer-webhooks"]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["targets"] == ["web:8000"]
    assert "credentials_file" in PROMETHEUS_CONFIG.read_text(), "bearer token example is missing"


def test_promtool_accepts_the_rules_and_the_config(promtool):
    """promtool check rules alerts.yml and check config prometheus.yml both pass."""
    run(promtool, "check", "rules", str(ALERTS))
    run(promtool, "check", "config", str(PROMETHEUS_CONFIG))


def test_promtool_alert_unit_tests_pass(promtool):
    """promtool test rules: alerts fire on broken series and stay quiet on healthy ones."""
    run(promtool, "test", "rules", str(ALERTS_TEST))
    tested = set(re.findall(r"alertname: (\w+)", ALERTS_TEST.read_text()))
    assert REQUIRED_ALERTS <= tested, f"no unit test for {sorted(REQUIRED_ALERTS - tested)}"


def test_dashboard_queries_are_valid_promql(tmp_path, promtool):
    """Every dashboard query, variables substituted, parses as PromQL (promtool check rules)."""
    rules = [
        {"record": f"dashboard:query_{i}", "expr": as_promql(expr)}
        for i, expr in enumerate(dashboard_exprs())
    ]
    path = tmp_path / "dashboard_rules.yml"
    # JSON is YAML: no PyYAML needed to write the rule file.
    path.write_text(json.dumps({"groups": [{"name": "dashboard", "rules": rules}]}))
    run(promtool, "check", "rules", str(path))


# --- Heroku app.json -------------------------------------------------------------------------


def test_app_json_names_every_required_variable():
    """app.json asks for or generates every variable the README marks required."""
    manifest = json.loads(app_json_path().read_text())
    required = {name for name, default in readme_config_table().items() if default == "required"}
    assert required == {"LIVEPEER_WEBHOOK_SECRET", "OPS_API_TOKEN"}
    for name in required:
        entry = manifest["env"][name]
        assert entry.get("required", True) is not False, name
        assert "value" not in entry, f"{name} must not ship a fixed value"
        assert entry.get("generator") == "secret" or entry.get("description"), name


def test_app_json_sets_up_heroku_the_way_the_readme_says():
    """Python buildpack, a web dyno, a Heroku Redis add-on, and the README's Heroku settings."""
    manifest = json.loads(app_json_path().read_text())
    assert manifest["name"] and manifest["description"]
    assert manifest["buildpacks"] == [{"url": "heroku/python"}]
    assert manifest["formation"]["web"]["quantity"] >= 1
    assert any(addon["plan"].startswith("heroku-redis:") for addon in manifest["addons"])
    env = manifest["env"]
    assert "REDIS_URL" not in env, "the Heroku Redis add-on sets REDIS_URL"
    assert env["REDIS_SSL_CERT_REQS"]["value"] == "none"
    assert env["FORWARDED_ALLOW_IPS"]["value"] == "*"
    assert env["OPS_API_TOKEN"]["generator"] == "secret"
    documented = set(readme_config_table())
    assert set(env) <= documented, f"not in README Configuration: {sorted(set(env) - documented)}"
    for name, entry in env.items():
        assert entry["description"], name


# --- docker compose --------------------------------------------------------------------------


def test_compose_requires_the_secrets_from_the_environment():
    """The compose file takes both secrets from the environment and fails clearly when unset."""
    text = COMPOSE.read_text()
    assert not re.search(r"^version:", text, re.MULTILINE), "compose spec has no version key"
    for name in ("LIVEPEER_WEBHOOK_SECRET", "OPS_API_TOKEN"):
        assert re.search(rf"{name}: \${{{name}:\?set {name}\b", text), name


def test_compose_wires_web_to_a_healthy_persistent_redis():
    """web gets REDIS_URL for the redis service and waits for its healthcheck; Redis uses AOF."""
    services = load_yaml(COMPOSE)["services"]
    web, redis = services["web"], services["redis"]
    assert web["environment"]["REDIS_URL"] == "redis://redis:6379/0"
    assert web["environment"]["PORT"] == "8000" and "8000:8000" in web["ports"]
    assert web["build"]["context"] == ".." and web["build"]["dockerfile"] == "Dockerfile"
    assert web["depends_on"]["redis"]["condition"] == "service_healthy"
    assert set(web["environment"]) <= set(readme_config_table())
    assert redis["image"].startswith("redis:7")
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    command = " ".join(redis["command"])
    assert "--appendonly yes" in command and "--appendfsync everysec" in command
    assert any(volume.endswith(":/data") for volume in redis["volumes"])
    prometheus = services["prometheus"]
    assert prometheus["image"].startswith("prom/prometheus")
    assert any(v.startswith("./prometheus:/etc/prometheus") for v in prometheus["volumes"])
    assert any(port.endswith("9090:9090") for port in prometheus["ports"])


# The Compose Specification's JSON schema, vendored (no network here, and no compose plugin on
# these machines): schema/compose-spec.json of github.com/compose-spec/compose-spec at commit
# 170098ba07d9f53c383a41bfd4c5166b0a4529a6 (2026-06-23), Apache-2.0 (compose-spec.LICENSE).
COMPOSE_SCHEMA = ROOT / "tests" / "vectors" / "compose-spec.json"
INTERPOLATION = re.compile(
    r"\$(?:(?P<escaped>\$)|(?P<bare>[A-Za-z_][A-Za-z0-9_]*)|"
    r"\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\})"
)


def compose_interpolate(value: Any, env: dict[str, str]) -> Any:
    """The file with ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error},
    ${VAR:+other} and $$ replaced as `docker compose config` does; ValueError(error) where a
    required variable is unset (compose stops there, naming it)."""
    if isinstance(value, dict):
        return {key: compose_interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [compose_interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["bare"] or match["name"]
        op, arg = match["op"] or "", match["arg"] or ""
        present, current = name in env, env.get(name, "")
        unset = not present or (op.startswith(":") and current == "")
        if op.endswith("-"):
            return arg if unset else current
        if op.endswith("?"):
            if unset:
                raise ValueError(f"{name}: {arg}")
            return current
        if op.endswith("+"):
            return "" if unset else arg
        return current

    return INTERPOLATION.sub(replace, value)


def compose_errors(document: Any) -> list[str]:
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema comes with the dev extras")
    validator = jsonschema.Draft7Validator(json.loads(COMPOSE_SCHEMA.read_text()))
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def test_compose_file_is_valid_against_the_compose_specification():
    """The file, interpolated with dummy secrets as compose does, is valid Compose (schema)."""
    env = {"LIVEPEER_WEBHOOK_SECRET": "dummy-secret", "OPS_API_TOKEN": "dummy-token"}
    document = compose_interpolate(load_yaml(COMPOSE), env)
    assert compose_errors(document) == []
    assert document["services"]["web"]["environment"]["LIVEPEER_WEBHOOK_SECRET"] == "dummy-secret"
    assert document["services"]["web"]["environment"]["WEB_CONCURRENCY"] == "2"
    # The schema is the real one: it refuses what compose refuses.
    broken = {**document, "services": {"web": {**document["services"]["web"], "stop_grace": "1s"}}}
    assert any("stop_grace" in error for error in compose_errors(broken))


def test_compose_stops_naming_each_missing_secret():
    """Without a secret, interpolation fails on it with the file's message, as compose does."""
    for missing in ("LIVEPEER_WEBHOOK_SECRET", "OPS_API_TOKEN"):
        env = {"LIVEPEER_WEBHOOK_SECRET": "x", "OPS_API_TOKEN": "y"}
        del env[missing]
        with pytest.raises(ValueError, match=rf"^{missing}: set {missing}\b"):
            compose_interpolate(load_yaml(COMPOSE), env)


def seconds(duration: str) -> float:
    """A Compose/Docker duration such as 30s, 1m30s or 90 (seconds), in seconds."""
    if re.fullmatch(r"\d+", duration):
        return float(duration)
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, duration
    scale = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    return sum(float(number) * scale[unit] for number, unit in parts)


def test_compose_gives_the_service_at_least_30_seconds_to_stop():
    """gunicorn's graceful timeout is 25 s: compose must not SIGKILL before 30 s."""
    web = load_yaml(COMPOSE)["services"]["web"]
    assert seconds(str(web["stop_grace_period"])) >= 30


# --- Container image: Dockerfile, locks, documented steps --------------------------------------
# (tests/test_image.py builds and runs the image; these hold without podman.)

DOCKERFILE = ROOT / "Dockerfile"
LOCK = ROOT / "requirements.lock"
BUILD_LOCK = ROOT / "requirements-build.lock"


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    instructions = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            instructions.append((word.upper(), rest.strip()))
    return instructions


def locked(path: Path) -> dict[str, tuple[str, str, int]]:
    """Normalized name -> (version, marker, number of hashes) of a requirements/lock file."""
    from packaging.utils import canonicalize_name

    entries: dict[str, tuple[str, str, int]] = {}
    text = re.sub(r"\\\n\s*", " ", path.read_text())
    for line in text.splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#") or line == ".":
            continue
        match = re.fullmatch(
            r"([A-Za-z0-9._-]+)==([^\s;]+)\s*(?:;\s*([^-]*?))?\s*((?:--hash=\S+\s*)*)", line
        )
        assert match, f"{path.name}: not a pinned requirement: {line!r}"
        name, version, marker, hashes = match.groups()
        entries[canonicalize_name(name)] = (
            version,
            (marker or "").strip(),
            hashes.count("--hash="),
        )
    return entries


def test_dockerfile_ships_the_base_it_was_tested_on():
    """ARG BASE_IMAGE=python:X.Y-slim before every FROM, and every stage FROM ${BASE_IMAGE}."""
    instructions = dockerfile_instructions()
    assert instructions[0][0] == "ARG" and re.fullmatch(
        r"BASE_IMAGE=python:\d+\.\d+-slim", instructions[0][1]
    ), instructions[0]
    stages = [args for word, args in instructions if word == "FROM"]
    assert len(stages) == 2 and all(re.fullmatch(r"\$\{BASE_IMAGE\}( AS \w+)?", s) for s in stages)
    # The machine's extra CA certificates belong to the local test base, never to this file.
    text = DOCKERFILE.read_text().lower()
    for needle in ("ca-certificates", "update-ca-certificates", ".crt", "pip_cert", "ssl_cert"):
        assert needle not in text, needle


def test_dockerfile_installs_the_lock_then_the_project_and_runs_as_a_numeric_user():
    """Hash-pinned lock first, then the project (a wheel from the builder stage, --no-deps)."""
    every = dockerfile_instructions()
    last_from = max(i for i, (word, _) in enumerate(every) if word == "FROM")
    builder = [f"{word} {args}" for word, args in every[:last_from]]
    final = every[last_from:]
    steps = [f"{word} {args}" for word, args in final]
    lock = next(i for i, step in enumerate(steps) if "--require-hashes" in step)
    assert "-r /opt/app/requirements.lock" in steps[lock] and "--no-deps" in steps[lock]
    assert any(step.startswith("COPY requirements.lock ") for step in steps[:lock])
    project = next(i for i, step in enumerate(steps) if step.startswith("COPY --from=wheel"))
    assert lock < project, "the project must come after the dependencies (layer caching)"
    copies = [step for step in steps if step.startswith("COPY")]
    assert copies[-1] == steps[project], "nothing may be copied in after the project"
    assert any("pip wheel --no-deps" in s and "install --no-deps" in s for s in builder), builder
    assert any("--require-hashes" in s and "requirements-build.lock" in s for s in builder)
    (user,) = [args for word, args in final if word == "USER"]
    assert re.fullmatch(r"[1-9]\d*(:\d+)?", user), f"USER {user!r}: numeric, not root"
    assert steps.index(f"USER {user}") > project, "installs run as root, the service does not"


def test_dockerfile_command_is_the_procfile_web_line():
    """DESIGN.md: the Dockerfile's command starts the same server as the Procfile's web line."""
    (cmd,) = [args for word, args in dockerfile_instructions() if word == "CMD"]
    procfile = dict(
        line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line
    )
    assert json.loads(cmd) == procfile["web"].split(), "exec form, same command"
    (check,) = [args for word, args in dockerfile_instructions() if word == "HEALTHCHECK"]
    assert "CMD [" in check and "/healthz" in check


def test_lock_pins_what_requirements_txt_pins():
    """requirements.lock (the image) and requirements.txt (Heroku) pin the same versions.

    The lock may hold more only where a marker excludes it on Heroku's Python
    (.python-version): async-timeout, say, which redis needs before Python 3.11.3 only. After
    changing requirements.txt, run `make lock`.
    """
    from packaging.markers import Marker

    heroku, lock = locked(ROOT / "requirements.txt"), locked(LOCK)
    python = (ROOT / ".python-version").read_text().strip()
    environment = {"python_version": ".".join(python.split(".")[:2]), "python_full_version": python}
    differ = {
        name: (pinned[0], lock.get(name, ("missing",))[0])
        for name, pinned in heroku.items()
        if lock.get(name, ("missing",))[0] != pinned[0]
    }
    assert not differ, f"requirements.txt vs requirements.lock: {differ}; run `make lock`"
    extra = {
        name
        for name, (_, marker, _) in lock.items()
        if name not in heroku and not (marker and not Marker(marker).evaluate(environment))
    }
    assert not extra, f"in requirements.lock only: {sorted(extra)}: pin them in requirements.txt"
    assert all(hashes > 0 for _, _, hashes in lock.values()), "every lock entry needs --hash"


def test_build_lock_pins_a_setuptools_the_project_accepts():
    """requirements-build.lock pins (with hashes) a setuptools in pyproject's build range."""
    import tomllib

    from packaging.requirements import Requirement

    (entry,) = locked(BUILD_LOCK).items()
    name, (version, _, hashes) = entry
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    (wanted,) = [Requirement(r) for r in requires if Requirement(r).name == name]
    assert hashes > 0 and wanted.specifier.contains(version), (version, str(wanted))


def test_docker_build_context_is_an_allowlist():
    """.dockerignore lets in only what the Dockerfile uses: no .git, .venv, tests or secrets."""
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "*"
    allowed = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    copied = set()
    for word, args in dockerfile_instructions():
        if word == "COPY" and not args.startswith("--from"):
            copied.update(args.split()[:-1])
    assert copied == allowed, (copied, allowed)


def doc_section(path: Path, heading: str) -> str:
    """From `heading` to the next `## ` heading."""
    text = path.read_text()
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    return text[start : end if end != -1 else None]


@pytest.mark.parametrize(
    ("doc", "heading"),
    [("docs/deployment.md", "## Container"), ("README.md", "**Container**")],
)
def test_documented_container_steps_work_as_written(doc: str, heading: str):
    """A user-defined network (so `redis` resolves), Redis on it by that name, the service with
    REDIS_URL naming it and a stop timeout of at least 30 s: what tests/test_image.py runs."""
    section = doc_section(ROOT / doc, heading)
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, f"no sh block after {heading}"
    commands = block.group(1).replace("\\\n", " ")
    network = re.search(r"docker network create (\S+)", commands)
    assert network, "no user-defined network: on Docker's default bridge `redis` does not resolve"
    runs = re.findall(r"docker run (.*?)(?:\n|$)", commands)
    redis = [run for run in runs if re.search(r"--name redis\b", run)]
    web = [run for run in runs if "REDIS_URL=redis://redis:6379/0" in run]
    assert redis and web, runs
    for run in redis + web:
        assert f"--network {network.group(1)}" in run, run
    stop = re.search(r"--stop-timeout[ =](\d+)", web[0])
    assert stop and int(stop.group(1)) >= 30, web[0]
    python = re.search(r"^ARG BASE_IMAGE=(\S+)$", DOCKERFILE.read_text(), re.M)
    if doc.startswith("docs/"):
        assert python and f"`{python.group(1)}`" in section, "name the image's base"
