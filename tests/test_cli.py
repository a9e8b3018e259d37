"""The command line: send-test-event, simulate, verify-signature, check-config; exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner
from fake_livepeer import FakeLivepeer
from helpers import SECRET, TOKEN, LiveApp, auth, dead_redis_url

from webhook_service.cli import main
from webhook_service.cli.config_check import MIN_REDIS_VERSION, version_tuple
from webhook_service.ingest.signature import format_header

VECTORS = json.loads((Path(__file__).parent / "vectors" / "livepeer-signature.json").read_text())


@pytest.fixture
def live(app):
    server = LiveApp(app)
    yield server
    server.stop()


def run(args, env=None):
    base = {"LIVEPEER_WEBHOOK_SECRET": SECRET}
    return CliRunner().invoke(main, args, env={**base, **(env or {})}, catch_exceptions=False)


@pytest.mark.parametrize(
    "command",
    ["serve", "dev", "send-test-event", "simulate", "verify-signature", "check-config"],
)
def test_every_command_has_help_with_examples(command):
    """--help works and shows examples (or the settings it reads)."""
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.output or "environment" in result.output


def test_send_test_event_is_accepted(live, client):
    """send-test-event posts a signed delivery the service accepts (exit 0)."""
    result = run(
        ["send-test-event", "--url", f"{live.url}/webhooks/livepeer", "--stream-id", "cli-s"]
    )
    assert result.exit_code == 0, result.output
    assert '"duplicate":false' in result.output
    assert client.get("/api/streams/cli-s", headers=auth()).get_json()["state"] == "active"


def test_send_test_event_with_wrong_secret_exits_1(live):
    """A 401 from the service is exit 1, with the answer printed."""
    result = run(
        ["send-test-event", "--url", f"{live.url}/webhooks/livepeer"],
        env={"LIVEPEER_WEBHOOK_SECRET": "not-it"},
    )
    assert result.exit_code == 1 and "401" in result.output


def test_send_test_event_without_secret_exits_2():
    """No secret to sign with is a usage error (exit 2) naming the variable."""
    result = run(["send-test-event"], env={"LIVEPEER_WEBHOOK_SECRET": ""})
    assert result.exit_code == 2 and "LIVEPEER_WEBHOOK_SECRET" in result.output


def test_unreachable_url_exits_1():
    """Nothing listening is exit 1 with a clear line."""
    result = run(["send-test-event", "--url", dead_redis_url().replace("redis", "http")])
    assert result.exit_code == 1 and "could not reach" in result.output


def test_simulate_plays_a_whole_recorded_broadcast(live, client):
    """simulate (compressed) leaves the stream idle with a ready recording and asset events."""
    result = run(
        [
            "simulate",
            "--url",
            f"{live.url}/webhooks/livepeer",
            "--stream-id",
            "sim-1",
            "--speed",
            "100000",
        ]
    )
    assert result.exit_code == 0, result.output
    stream = client.get("/api/streams/sim-1", headers=auth()).get_json()
    assert stream["state"] == "idle" and stream["last_event"] == "recording.ready"
    [session] = stream["sessions"]
    assert session["recording_status"] == "ready" and session["recording_url"].startswith(
        "https://"
    )
    events = client.get("/api/events?limit=20", headers=auth()).get_json()["events"]
    names = {e["event"] for e in events}
    assert {"asset.created", "task.spawned", "task.completed", "asset.ready"} <= names
    assert all(e["asset_id"] == session["id"] for e in events if e["event"].startswith("asset."))


def _verify(tmp_path, body: bytes, header: str, secret=VECTORS["secret"], now=VECTORS["now_ms"]):
    path = tmp_path / "body.json"
    path.write_bytes(body)
    args = ["verify-signature", "--header", header, "--body-file", str(path)]
    if now is not None:
        args += ["--now", str(now)]
    return run(args, env={"LIVEPEER_WEBHOOK_SECRET": f"old-one,{secret}"})


GOOD = VECTORS["cases"][0]["header"]
BODY = VECTORS["body"].encode()
# Livepeer's bodies are compact (JSON.stringify): a pretty-printed capture can be undone.
COMPACT = json.dumps(json.loads(BODY), separators=(",", ":"), ensure_ascii=False).encode()
COMPACT_HEADER = format_header(COMPACT, VECTORS["secret"], VECTORS["now_ms"])


@pytest.mark.parametrize(
    ("body", "header", "now", "code", "says"),
    [
        (BODY, GOOD, VECTORS["now_ms"], 0, "matches secret #2 of 2"),
        (BODY, "Livepeer-Signature: " + GOOD, VECTORS["now_ms"], 0, "header name was included"),
        (BODY, VECTORS["cases"][5]["header"], VECTORS["now_ms"], 1, "signing secret in Livepeer"),
        (
            json.dumps(json.loads(COMPACT), indent=2).encode(),
            COMPACT_HEADER,
            VECTORS["now_ms"],
            1,
            "re-serialised",
        ),
        (BODY + b"\n", GOOD, VECTORS["now_ms"], 1, "ends with a newline"),
        (BODY, VECTORS["cases"][11]["header"], VECTORS["now_ms"], 1, "looks like seconds"),
        (BODY, GOOD, VECTORS["now_ms"] + 600_000, 1, "600 s old"),
        (BODY, "t=abc", VECTORS["now_ms"], 1, "header:"),
    ],
    ids=[
        "valid",
        "with-name",
        "wrong-secret",
        "pretty-printed",
        "newline",
        "seconds",
        "stale",
        "bad-header",
    ],
)
def test_verify_signature_explains(tmp_path, body, header, now, code, says):
    """Each captured-delivery problem is named; the secret itself is never printed."""
    result = _verify(tmp_path, body, header, now=now)
    assert result.exit_code == code, result.output
    assert says in result.output
    assert VECTORS["secret"] not in result.output and "old-one" not in result.output


def test_check_config_invalid_environment_exits_2():
    """A missing token is reported in one line and exit 2."""
    result = CliRunner().invoke(
        main, ["check-config"], env={"LIVEPEER_WEBHOOK_SECRET": "s", "OPS_API_TOKEN": ""}
    )
    assert result.exit_code == 2 and "OPS_API_TOKEN" in result.output


def _config_env(redis_url, **extra):
    return {
        "LIVEPEER_WEBHOOK_SECRET": SECRET,
        "OPS_API_TOKEN": TOKEN,
        "REDIS_URL": redis_url,
        **extra,
    }


def test_check_config_passes_with_redis(redis_url):
    """With a reachable Redis and no API key, all checks pass (exit 0)."""
    result = CliRunner().invoke(
        main, ["check-config"], env=_config_env(redis_url, LIVEPEER_API_KEY="")
    )
    assert result.exit_code == 0, result.output
    assert "PING answered, Redis " in result.output and "LIVEPEER_API_KEY unset" in result.output
    assert SECRET not in result.output and TOKEN not in result.output
    with redis.Redis.from_url(redis_url) as client:
        version = client.info("server")["redis_version"]
    assert f"Redis {version}" in result.output


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("7.0.15", (7, 0, 15)),
        ("6.2.0", (6, 2, 0)),
        ("6.0.9", (6, 0, 9)),
        ("6.2-rc1", (6, 2)),
        ("x", (0,)),
    ],
)
def test_redis_versions_compare_as_numbers(version, expected):
    """check-config refuses a Redis older than 6.2 (the delivery log's exclusive ranges)."""
    assert version_tuple(version) == expected
    assert (version_tuple(version) >= MIN_REDIS_VERSION) == (expected[:2] >= (6, 2))


def test_check_config_fails_on_dead_redis():
    """An unreachable Redis fails the check (exit 1)."""
    result = CliRunner().invoke(
        main, ["check-config"], env=_config_env(dead_redis_url(), LIVEPEER_API_KEY="")
    )
    assert result.exit_code == 1 and "FAIL redis" in result.output


def test_check_config_tries_the_api_key(redis_url):
    """With LIVEPEER_API_KEY, check-config calls the API: accepted key 0, rejected key 1."""
    with FakeLivepeer(api_key="good-key") as fake:
        fake.add_webhook("https://hooks.example.com/webhooks/livepeer")
        env = _config_env(
            redis_url,
            LIVEPEER_API_URL=fake.url,
            PUBLIC_URL="https://hooks.example.com/webhooks/livepeer",
        )
        ok = CliRunner().invoke(main, ["check-config"], env={**env, "LIVEPEER_API_KEY": "good-key"})
        bad = CliRunner().invoke(main, ["check-config"], env={**env, "LIVEPEER_API_KEY": "bad-key"})
    assert ok.exit_code == 0, ok.output
    assert "key accepted; 1 webhook(s)" in ok.output and "is registered" in ok.output
    assert bad.exit_code == 1 and "good-key" not in bad.output and "bad-key" not in bad.output
