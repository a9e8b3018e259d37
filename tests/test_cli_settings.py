"""Each subcommand reads only the settings it uses; a bad one is one line and exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import SECRET, TOKEN, LiveApp, dead_redis_url

from webhook_service.config import ENV_NAMES

VECTORS = json.loads((Path(__file__).parent / "vectors" / "livepeer-signature.json").read_text())
SCRIPT = Path(sys.executable).parent / "livepeer-webhooks"
DEAD_REDIS = dead_redis_url()
VALID = {
    "LIVEPEER_WEBHOOK_SECRET": SECRET,
    "OPS_API_TOKEN": TOKEN,
    "REDIS_URL": DEAD_REDIS,
    "LIVEPEER_API_KEY": "api-key",
    "PUBLIC_URL": "https://hooks.example.com/webhooks/livepeer",
}


def service_env(**values):
    """Every service variable unset (none leaks in from outside), then the valid base, then
    `values`; a value of None unsets the variable."""
    return {name: None for name in ENV_NAMES} | VALID | values


@pytest.fixture
def body_file(tmp_path):
    path = tmp_path / "body.json"
    path.write_text(VECTORS["body"])
    return str(path)


VERIFY = ["verify-signature", "--header", "t=1,v1=00", "--body-file", "{body}"]
SEND = ["send-test-event"]
SEND_TO = ["send-test-event", "--url", "http://127.0.0.1:9/webhooks/livepeer"]
SIMULATE = ["simulate", "--speed", "1000"]
FORGET = ["forget-stale"]
RECONCILE = ["reconcile", "--since", "1h", "--dry-run"]


BAD_VARIABLES = [
    (VERIFY, "WEBHOOK_TOLERANCE_SECONDS", "abc"),
    (VERIFY, "WEBHOOK_TOLERANCE_SECONDS", "0"),
    (VERIFY, "LIVEPEER_WEBHOOK_SECRET", None),
    (VERIFY, "LIVEPEER_WEBHOOK_SECRET", " , "),
    (SEND, "PORT", "abc"),
    (SEND_TO, "LIVEPEER_WEBHOOK_SECRET", ""),
    (SIMULATE, "PORT", "0"),
    (SIMULATE, "LIVEPEER_WEBHOOK_SECRET", None),
    (FORGET, "REDIS_URL", "http://cache:6379"),
    (FORGET, "REDIS_CLUSTER", "maybe"),
    (FORGET, "REDIS_SSL_CERT_REQS", "optional"),
    (FORGET, "REDIS_KEY_PREFIX", "a b"),
    (FORGET, "REDIS_TIMEOUT_SECONDS", "abc"),
    (FORGET, "STREAM_RETENTION_DAYS", "0"),
    (RECONCILE, "REDIS_URL", "http://cache:6379"),
    (RECONCILE, "LIVEPEER_API_URL", "ftp://livepeer.studio"),
    (RECONCILE, "LIVEPEER_PLAYBACK_URL", "cdn"),
    (RECONCILE, "PUBLIC_URL", "hooks.example.com"),
    (["serve"], "PORT", "abc"),
    (["serve"], "WEB_CONCURRENCY", "0"),
    (["serve"], "GUNICORN_THREADS", "x"),
    (["serve"], "OPS_API_TOKEN", None),
    (["serve"], "AUTH_FAILURE_LIMIT", "-1"),
    (["dev"], "PORT", "abc"),
    (["dev"], "WEBHOOK_MAX_BODY_BYTES", "10"),
]


@pytest.mark.parametrize(
    ("args", "variable", "value"),
    BAD_VARIABLES,
    ids=[f"{args[0]}-{variable}={value!r}" for args, variable, value in BAD_VARIABLES],
)
def test_a_bad_variable_is_one_line_and_exit_2(
    runner, body_file, monkeypatch, tmp_path, args, variable, value
):
    """A missing or bad value of a variable the subcommand reads: exit 2 and one line on stderr,
    `livepeer-webhooks: <VAR> ...`, never a traceback; nothing on stdout."""
    args = [arg.format(body=body_file) for arg in args]
    monkeypatch.chdir(tmp_path)  # `dev` keeps its secrets in ./.dev.env
    result = runner.invoke(args, env=service_env(**{variable: value}))
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(f"livepeer-webhooks: {variable} "), line
    assert " must " in line or " is not set: " in line


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PORT", "abc"),
        ("OPS_API_TOKEN", ""),
        ("PROBE_TIMEOUT_SECONDS", "0"),
        ("REDIS_SSL_CERT_REQS", "optional"),
    ],
)
def test_check_config_reports_a_bad_variable_in_its_report(runner, variable, value):
    """check-config reads everything; a bad value is its one FAIL line (its report is on
    stdout) and exit 2, before anything is tried."""
    result = runner.invoke(["check-config"], env=service_env(**{variable: value}))
    assert result.exit_code == 2, result.output
    [line] = result.output.splitlines()
    assert line.startswith(f"FAIL configuration: {variable} ")


def test_check_config_warns_about_an_unknown_log_format(runner, redis_url):
    """An unknown LOG_FORMAT is a warning (the service still starts, logging JSON), not a FAIL."""
    result = runner.invoke(
        ["check-config"],
        env=service_env(REDIS_URL=redis_url, LIVEPEER_API_KEY=None, LOG_FORMAT="xml"),
    )
    assert result.exit_code == 0, result.output
    assert "warn LOG_FORMAT: 'xml' is not json or text: logs are JSON" in result.output


def test_verify_signature_with_a_bad_tolerance_from_the_real_command_line(body_file):
    """The issue's case, through the installed script: one line on stderr, exit 2."""
    env = {k: v for k, v in service_env(WEBHOOK_TOLERANCE_SECONDS="abc").items() if v is not None}
    completed = subprocess.run(
        [str(SCRIPT), "verify-signature", "--header", "x", "--body-file", body_file],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 2 and completed.stdout == ""
    assert completed.stderr == (
        "livepeer-webhooks: WEBHOOK_TOLERANCE_SECONDS must be a whole number, got 'abc'\n"
    )


# Variables each subcommand never reads: set to nonsense, they must not stop it.
UNREAD = {
    "OPS_API_TOKEN": None,
    "REDIS_URL": "http://not-redis",
    "PORT": "abc",
    "LIVEPEER_API_URL": "ftp://x",
    "PUBLIC_URL": "nope",
}


def test_verify_signature_reads_only_the_secrets_and_the_tolerance(runner, tmp_path):
    """verify-signature works with every other variable bad or unset."""
    path = tmp_path / "body.json"
    path.write_text(VECTORS["body"])
    args = ["verify-signature", "--header", VECTORS["cases"][0]["header"], "--body-file", str(path)]
    env = service_env(**UNREAD, LIVEPEER_WEBHOOK_SECRET=VECTORS["secret"], WEB_CONCURRENCY="0")
    result = runner.invoke([*args, "--now", str(VECTORS["now_ms"])], env=env)
    assert result.exit_code == 0, result.output
    assert "VALID" in result.output


def test_send_test_event_reads_only_the_first_secret(runner, app):
    """send-test-event signs with the first secret and needs no token, Redis or tolerance."""
    server = LiveApp(app)
    try:
        env = service_env(**UNREAD, WEBHOOK_TOLERANCE_SECONDS="abc", LIVEPEER_WEBHOOK_SECRET=SECRET)
        result = runner.invoke(
            ["send-test-event", "--url", f"{server.url}/webhooks/livepeer"], env=env
        )
    finally:
        server.stop()
    assert result.exit_code == 0, result.output
    assert '"duplicate":false' in result.output


@pytest.mark.parametrize("days", [[], ["--days", "7"]])
def test_forget_stale_needs_neither_secret_nor_token(runner, redis_url, key_prefix, days):
    """forget-stale never uses the webhook secret or the ops token: it runs without them (and
    with --days, STREAM_RETENTION_DAYS is not read either)."""
    env = service_env(
        LIVEPEER_WEBHOOK_SECRET=None,
        OPS_API_TOKEN=None,
        REDIS_URL=redis_url,
        REDIS_KEY_PREFIX=key_prefix,
        PORT="abc",
        WEBHOOK_TOLERANCE_SECONDS="abc",
        STREAM_RETENTION_DAYS="0" if days else "30",
    )
    result = runner.invoke(["forget-stale", *days], env=env)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("forgot 0 stream(s) with no event since")
