"""deploy/alertmanager/alertmanager.yml: a valid Alertmanager config (amtool) that routes every
alert of deploy/prometheus/alerts.yml by its severity, with placeholder receivers only.

amtool comes with Debian's prometheus-alertmanager (.ci/install-browser installs it). Without
it the amtool tests skip and say so; under CI=true they fail.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tools import tool_missing

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
AMTOOL = shutil.which("amtool")
# What each severity reaches (deploy/README.md "Alertmanager"): critical pages and is posted.
RECEIVERS = {"critical": "oncall-pager,ops-chat", "warning": "ops-chat"}
# Fields that would hold a credential inline; the example names files instead.
INLINE_SECRETS = {
    "routing_key",
    "service_key",
    "api_url",
    "api_key",
    "auth_password",
    "password",
    "bot_token",
    "url",
}


def load(path: Path) -> Any:
    yaml = pytest.importorskip("yaml", reason="PyYAML not installed (a dev extra)")
    return yaml.safe_load(path.read_text())


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in load(ALERTS)["groups"] for rule in group["rules"]]


@pytest.fixture(scope="module")
def amtool() -> str:
    if AMTOOL is None:
        tool_missing("amtool is not on PATH", "run .ci/install-browser")
    return AMTOOL


def run(*args: str) -> str:
    result = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, f"{' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_amtool_accepts_the_config(amtool):
    """amtool check-config passes: the routes, inhibit rules and receivers are well formed."""
    out = run(amtool, "check-config", str(CONFIG))
    assert "SUCCESS" in out and "2 receivers" in out


def test_every_alert_reaches_the_receivers_of_its_severity(amtool):
    """Each rule of alerts.yml, with its labels, routes to the pager (critical, and the channel
    too) or to the channel only (warning); an unlabelled alert still reaches the channel."""
    rules = alert_rules()
    assert {"LivepeerWebhookMalformedDeliveries", "LivepeerWebhookOversizedDeliveries"} <= {
        rule["alert"] for rule in rules
    }
    for rule in rules:
        severity = rule["labels"]["severity"]
        labels = [f"alertname={rule['alert']}", f"severity={severity}", "job=livepeer-webhooks"]
        out = run(amtool, "config", "routes", "test", f"--config.file={CONFIG}", *labels)
        assert out.strip() == RECEIVERS[severity], rule["alert"]
    out = run(amtool, "config", "routes", "test", f"--config.file={CONFIG}", "team=other")
    assert out.strip() == "ops-chat"


def test_receivers_are_placeholders_that_hold_no_secret():
    """Every receiver reads its credential from a file; no key, password or URL is inline."""
    config = load(CONFIG)
    receivers = config["receivers"]
    assert {r["name"] for r in receivers} == {"oncall-pager", "ops-chat"}
    for receiver in receivers:
        integrations = [k for k in receiver if k.endswith("_configs")]
        assert integrations, receiver["name"]
        for kind in integrations:
            for entry in receiver[kind]:
                assert not INLINE_SECRETS & set(entry), (receiver["name"], sorted(entry))
                assert any(key.endswith("_file") for key in entry), receiver["name"]


def test_routes_and_inhibitions_name_what_exists():
    """Routes name declared receivers and only the severities the rules use; every alert name
    an inhibit rule matches is one of alerts.yml."""
    config = load(CONFIG)
    declared = {r["name"] for r in config["receivers"]}
    route = config["route"]
    assert route["receiver"] in declared
    assert {child["receiver"] for child in route["routes"]} <= declared
    severities = {rule["labels"]["severity"] for rule in alert_rules()}
    assert severities == set(RECEIVERS)
    names = {rule["alert"] for rule in alert_rules()}
    for inhibit in config["inhibit_rules"]:
        for matcher in inhibit["source_matchers"] + inhibit["target_matchers"]:
            found = re.fullmatch(r'alertname(=~|!=|=)"([^"]+)"', matcher)
            assert found, matcher
            op, value = found.groups()
            hits = {n for n in names if re.fullmatch(value, n)} if op == "=~" else {value} & names
            assert hits, f"{matcher} matches no alert of alerts.yml"
        assert inhibit["equal"] == ["job"]
