"""`livepeer-webhooks reconcile` and `forget-stale`, and the webhooks diagnosis pointing at them.

The commands run against the same Redis and fake Livepeer as a served app, whose ingest route
receives every resend over real HTTP.
"""

from __future__ import annotations

import json

import pytest
from helpers import auth, delivery, now_ms, post_delivery
from reconcile_harness import HOOK, Outage

from webhook_service.store.retention import DAY_MS


@pytest.fixture
def outage(redis_url, key_prefix, fake):
    scene = Outage(redis_url, key_prefix, fake)
    yield scene
    scene.stop()


@pytest.fixture
def run(runner, outage):
    """Run a command with the scene's settings (`env` overrides some): (exit code, output)."""

    def run(*args, **env):
        result = runner.invoke(list(args), env={**outage.env, **env})
        return result.exit_code, result.output

    return run


def test_dry_run_lists_what_would_be_resent(outage, run):
    """--dry-run prints one line per missing event and the counts; nothing is resent."""
    row = outage.missed("stream.started", "s1", minutes_ago=30)
    outage.recovered_by_retry("s2", minutes_ago=40)
    code, output = run("reconcile", "--since", "1h", "--dry-run")
    assert code == 0, output
    assert f"webhook {HOOK}: failed deliveries since" in output and "dry run" in output
    [line] = [line for line in output.splitlines() if line.startswith("would resend")]
    assert "stream.started" in line and f"log={row['id']}" in line
    assert output.rstrip().endswith("found=2 already_applied=1 resent=0 failed=0")
    assert outage.fake.resends == []


def test_reconcile_resends_and_the_service_applies(outage, run):
    """A real run resends through Livepeer; exit 0; the stream exists afterwards."""
    outage.missed("stream.started", "s1", minutes_ago=30)
    outage.missed("stream.idle", "s1", minutes_ago=20)
    code, output = run("reconcile", "--since", "1h", "--rate", "50")
    assert code == 0, output
    assert output.count("\nresent ") == 2
    assert output.rstrip().endswith("found=2 already_applied=0 resent=2 failed=0")
    assert outage.stream("s1")["state"] == "idle"


def test_a_failed_resend_exits_1(outage, run):
    """A resend the API refuses is printed as FAILED with its reason; exit 1."""
    row = outage.missed("stream.started", "s1")
    outage.fake.fail(f"/webhook/{HOOK}/log/{row['id']}/resend", 502)
    code, output = run("reconcile", "--since", "1h")
    assert code == 1 and "FAILED" in output and "HTTP 502" in output


def test_max_resends_says_to_run_again(outage, run):
    """A capped run says how to go on."""
    for i in range(3):
        outage.missed("stream.detection", f"m{i}", minutes_ago=30 - i)
    code, output = run("reconcile", "--since", "1h", "--rate", "50", "--max-resends", "1")
    assert code == 0 and "run the same command again" in output


@pytest.mark.parametrize(
    ("args", "env", "code", "says"),
    [
        (["--since", "yesterday"], {}, 2, "--since"),
        (["--since", "2025-11-25T16:00:00"], {}, 2, "time zone"),
        (["--since", "1h"], {"LIVEPEER_API_KEY": ""}, 2, "LIVEPEER_API_KEY"),
        (["--since", "1h"], {"PUBLIC_URL": ""}, 2, "PUBLIC_URL"),
        (["--since", "1h", "--webhook-id", "nope"], {}, 2, "no webhook 'nope'"),
        (["--since", "1h"], {"REDIS_URL": ""}, 2, "REDIS_URL"),
        (["--since", "1h", "--rate", "0"], {}, 2, "--rate"),
    ],
)
def test_usage_and_configuration_errors_exit_2(run, args, env, code, says):
    """What is missing or wrong is named; exit 2."""
    got, output = run("reconcile", *args, **env)
    assert got == code and says in output, output


def test_livepeer_api_down_exits_1(outage, run):
    """The log cannot be read: exit 1 with the reason."""
    outage.fake.fail("/webhook", 500)
    code, output = run("reconcile", "--since", "1h")
    assert code == 1 and "HTTP 500" in output


def test_reconcile_has_help_with_examples(runner):
    """Both new commands have --help with examples."""
    for command in ("reconcile", "forget-stale"):
        result = runner.invoke([command, "--help"])
        assert result.exit_code == 0 and "Example" in result.output


def test_forget_stale_forgets_now(outage, run):
    """forget-stale removes streams older than --days at once and says how many."""
    for stream_id, days in (("ancient", 10), ("recent", 1)):
        body = delivery("stream.started", stream_id, created_at=now_ms() - days * DAY_MS)
        assert post_delivery(outage.client, body).status_code == 200
    code, output = run("forget-stale", "--days", "7")
    assert code == 0 and output.startswith("forgot 1 stream(s)")
    assert outage.stream("ancient") is None and outage.stream("recent") is not None


def test_diagnosis_gives_the_reconcile_command_that_recovers(outage, run):
    """The webhooks check counts failed deliveries missing here and names the exact command;
    running that command recovers them and the count drops to 0."""
    outage.missed("stream.started", "s1", minutes_ago=30)
    outage.missed("stream.idle", "s1", minutes_ago=20)
    outage.recovered_by_retry("s2", minutes_ago=50)
    verdict = outage.client.get("/api/diagnosis/webhooks", headers=auth()).get_json()
    evidence = verdict["evidence"]
    assert evidence["missing_from_log"] == 2, json.dumps(verdict, indent=1)
    command = evidence["reconcile_command"]
    assert command.startswith("livepeer-webhooks reconcile --since ") and command in verdict["fix"]

    code, output = run(*command.split()[1:], "--rate", "50")
    assert code == 0 and "resent=2" in output, output
    after = outage.client.get("/api/diagnosis/webhooks", headers=auth()).get_json()
    assert (
        after["evidence"]["missing_from_log"] == 0 and "reconcile_command" not in after["evidence"]
    )
