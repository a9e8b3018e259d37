"""`livepeer-webhooks reconcile` and `forget-stale`, and the webhooks diagnosis pointing at them.

The commands run against the same Redis and fake Livepeer as a served app, whose ingest route
receives every resend over real HTTP.
"""

from __future__ import annotations

import json

import pytest
from helpers import SECRET, auth, delivery, now_ms, post_delivery
from reconcile_harness import HOOK, MINUTE, Outage

from webhook_service.config import Secret
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
    assert output.rstrip().endswith(
        "found=2 already_applied=1 resent=0 failed=0 old_secret=0 old_url=0 other=0"
    )
    assert outage.fake.resends == []


def test_reconcile_resends_and_the_service_applies(outage, run):
    """A real run resends through Livepeer; exit 0; the stream exists afterwards."""
    outage.missed("stream.started", "s1", minutes_ago=30)
    outage.missed("stream.idle", "s1", minutes_ago=20)
    code, output = run("reconcile", "--since", "1h", "--rate", "50")
    assert code == 0, output
    assert output.count("\nresent ") == 2
    assert output.rstrip().endswith(
        "found=2 already_applied=0 resent=2 failed=0 old_secret=0 old_url=0 other=0"
    )
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


OLD_SECRET = "whsec-before-rotation-5e0c"
OLD_URL = "https://old-host.example.com/webhooks/livepeer"


def test_a_rotation_that_dropped_the_old_secret_says_add_it_back(
    redis_url, key_prefix, fake, runner
):
    """cannon.ts resendWebhook signs a resend with the row's sharedSecret (the webhook's at the
    first delivery) and controllers/webhook-log.ts answers with the new row: the CLI prints
    old_secret with its fix and exits 1; restarted with the old secret listed again, the
    command it printed recovers the events and exits 0."""
    rotated = Outage(redis_url, key_prefix, fake, webhook_secrets=(Secret(SECRET),))
    try:
        rotated.missed("stream.started", "rot1", minutes_ago=50, secret=OLD_SECRET)
        rotated.missed("stream.idle", "rot1", minutes_ago=40, secret=OLD_SECRET)
        result = runner.invoke(["reconcile", "--since", "1h", "--rate", "50"], env=rotated.env)
    finally:
        rotated.stop()
    output = result.output
    assert result.exit_code == 1, output
    assert (
        output.count("FAILED") == 2 and output.count(": old_secret: refused here as bad_sig") == 2
    )
    assert "failed=2 old_secret=2 old_url=0 other=0" in output
    assert "LIVEPEER_WEBHOOK_SECRET=<new>,<previous>" in output.replace("\n  ", " ")
    assert OLD_SECRET not in output and SECRET not in output
    again = output.rstrip().splitlines()[-1].split(": ", 1)[1]
    assert again.startswith("livepeer-webhooks reconcile --since 20")

    both = Outage(redis_url, key_prefix, fake, webhook_secrets=(Secret(SECRET), Secret(OLD_SECRET)))
    try:
        result = runner.invoke(again.split()[1:], env=both.env)
        assert result.exit_code == 0, result.output
        assert "resent=2 failed=0 old_secret=0" in result.output
        assert both.stream("rot1")["state"] == "idle"
    finally:
        both.stop()


def test_deliveries_to_an_old_url_are_listed_not_resent(outage, run):
    """cannon.ts resendWebhook sends a resend to the row's request.url, the URL of that
    delivery (storeResponse): a row that went elsewhere is printed NOT RESENT with where it
    went (no credentials) and the old_url fix; the others are resent; exit 1."""
    gone = outage.missed("stream.started", "url1", minutes_ago=50, url=OLD_URL + "?token=t0p")
    here = outage.missed("stream.started", "url2", minutes_ago=30)
    code, output = run("reconcile", "--since", "1h", "--rate", "50")
    assert code == 1, output
    [line] = [line for line in output.splitlines() if line.startswith("NOT RESENT")]
    assert f"log={gone['id']}: old_url: it went to {OLD_URL}, not PUBLIC_URL" in line
    assert "t0p" not in output and "resent=1 failed=1 old_secret=0 old_url=1 other=0" in output
    assert "only to the URL it first went to" in output.replace("\n  ", " ")
    assert outage.resent_log_ids() == [here["id"]]
    assert outage.elsewhere == [] and outage.stream("url1") is None


def test_other_failures_print_their_reason(outage, run):
    """A resend the API fails (controllers/webhook-log.ts `POST /:requestId/resend`) or this
    receiver refuses for another reason (the new row, cannon.ts storeResponse) is other, with
    its reason on its line; exit 1."""
    malformed = {"id": "evt-no-created-at", "event": "stream.started", "stream": {"id": "o1"}}
    outage.fake.add_log(HOOK, malformed, status=500, created_at=now_ms() - 40 * MINUTE)
    broken = outage.missed("stream.started", "o2", minutes_ago=30)
    outage.fake.fail(f"/webhook/{HOOK}/log/{broken['id']}/resend", 503)
    code, output = run("reconcile", "--since", "1h", "--rate", "50")
    assert code == 1, output
    assert "other: this receiver answered the resend HTTP 400 (malformed)" in output
    assert "other: the Livepeer API call failed: HTTP 503" in output
    assert "failed=2 old_secret=0 old_url=0 other=2" in output
    assert "to run this reconcile again (the same window): livepeer-webhooks" in output


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
