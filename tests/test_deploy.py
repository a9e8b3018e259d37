"""deploy/: dashboard, alert rules, scrape config, compose file and app.json agree with the app."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

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
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool not on PATH (Debian/Ubuntu: apt-get install prometheus)",
)

# The alerts the deploy README's runbook documents; each must exist in alerts.yml.
REQUIRED_ALERTS = {
    "LivepeerWebhookSignatureFailures",
    "LivepeerWebhooksNoDeliveries",
    "LivepeerWebhooksRedisDown",
    "LivepeerWebhooksTargetDown",
    "LivepeerWebhookIngestSlow",
    "LivepeerWebhookStorageErrors",
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


@needs_promtool
def test_promtool_accepts_the_rules_and_the_config():
    """promtool check rules alerts.yml and check config prometheus.yml both pass."""
    run(str(PROMTOOL), "check", "rules", str(ALERTS))
    run(str(PROMTOOL), "check", "config", str(PROMETHEUS_CONFIG))


@needs_promtool
def test_promtool_alert_unit_tests_pass():
    """promtool test rules: alerts fire on broken series and stay quiet on healthy ones."""
    run(str(PROMTOOL), "test", "rules", str(ALERTS_TEST))
    tested = set(re.findall(r"alertname: (\w+)", ALERTS_TEST.read_text()))
    assert REQUIRED_ALERTS <= tested, f"no unit test for {sorted(REQUIRED_ALERTS - tested)}"


@needs_promtool
def test_dashboard_queries_are_valid_promql(tmp_path):
    """Every dashboard query, variables substituted, parses as PromQL (promtool check rules)."""
    rules = [
        {"record": f"dashboard:query_{i}", "expr": as_promql(expr)}
        for i, expr in enumerate(dashboard_exprs())
    ]
    path = tmp_path / "dashboard_rules.yml"
    # JSON is YAML: no PyYAML needed to write the rule file.
    path.write_text(json.dumps({"groups": [{"name": "dashboard", "rules": rules}]}))
    run(str(PROMTOOL), "check", "rules", str(path))


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


def _compose_plugin() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        result = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


@pytest.mark.skipif(not _compose_plugin(), reason="docker compose plugin not installed")
def test_docker_compose_config_accepts_the_file():
    """docker compose config validates the file with dummy secrets (no engine needed)."""
    env = {**os.environ, "LIVEPEER_WEBHOOK_SECRET": "dummy", "OPS_API_TOKEN": "dummy"}
    run("docker", "compose", "-f", str(COMPOSE), "config", "--quiet", env=env)
