"""The command line's contract: --version, one-line usage errors with exit 2, failures that name
what was tried (never a credential), and simulate stopping at the first refusal."""

from __future__ import annotations

import pytest
from helpers import LiveApp, free_port

from webhook_service.config.parse import redact_tokens

SECRET = "cli-contract-secret-1a2b"


def test_version(runner):
    """`--version` names the program and its version."""
    result = runner.invoke(["--version"])
    assert result.exit_code == 0 and result.output.startswith("livepeer-webhooks 0.")


@pytest.mark.parametrize(
    "argv",
    [
        ["--bogus"],
        ["no-such-command"],
        ["send-test-event", "--bogus"],
        ["send-test-event", "--url", "notaurl"],
        ["send-test-event", "--url", "ftp://example.com/x"],
        ["simulate", "--speed", "0"],
        ["reconcile"],
        ["forget-stale", "--days", "zero"],
        ["ai-check", "--gateway", "https://g.example", "--pipeline", "nope"],
    ],
)
def test_a_usage_error_is_one_line_and_exit_2(runner, argv):
    """Whatever is wrong with the command line, the answer is one line, never a traceback."""
    result = runner.invoke(argv, env={"LIVEPEER_WEBHOOK_SECRET": SECRET})
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("livepeer-webhooks: "), result.output
    assert "Traceback" not in result.output and "Usage:" not in result.output


def test_an_unreachable_url_is_named_without_its_credentials(runner):
    """A receiver that does not answer: exit 1, the URL tried (no userinfo, no query)."""
    url = f"http://user:pw-s3cret@127.0.0.1:{free_port()}/webhooks/livepeer?token=t0k"
    result = runner.invoke(
        ["send-test-event", "--url", url], env={"LIVEPEER_WEBHOOK_SECRET": SECRET}
    )
    assert result.exit_code == 1
    assert "could not reach http://127.0.0.1:" in result.output
    assert "s3cret" not in result.output and "t0k" not in result.output


@pytest.mark.parametrize("argv", [["forget-stale"], ["check-config"]])
def test_a_redis_that_does_not_answer_is_named_without_its_password(runner, argv):
    """Exit 1 and one line naming REDIS_URL (no password) and redis-py's reason."""
    port = free_port()
    env = {
        "REDIS_URL": f"redis://:pw-s3cret@127.0.0.1:{port}/0",
        "LIVEPEER_WEBHOOK_SECRET": SECRET,
        "OPS_API_TOKEN": "cli-contract-token-9z8y",
    }
    result = runner.invoke(argv, env=env)
    assert result.exit_code == 1, result.output
    [line] = [x for x in result.output.splitlines() if f"127.0.0.1:{port}" in x]
    assert f"Redis at redis://127.0.0.1:{port}/0 failed: ConnectionError" in line, line
    assert "Connection refused" in line and "s3cret" not in result.output


def test_simulate_stops_at_the_first_refusal_and_says_why(runner, app):
    """A receiver with another secret refuses the first delivery: simulate stops there (not
    eight 401s) and names the likely cause."""
    live = LiveApp(app)
    try:
        url = f"{live.url}/webhooks/livepeer"
        result = runner.invoke(
            ["simulate", "--url", url, "--speed", "1000"],
            env={"LIVEPEER_WEBHOOK_SECRET": "not-the-receivers-secret"},
        )
    finally:
        live.stop()
    assert result.exit_code == 1
    assert result.output.count(" 401 ") == 1, result.output
    assert "LIVEPEER_WEBHOOK_SECRET" in result.output.splitlines()[-1]


@pytest.mark.parametrize(
    ("text", "values", "shown"),
    [
        ("DNS lookup failed", ["k"], "DNS lookup failed"),
        ("no token k found", ["k"], "no token [redacted] found"),
        ("/stream/key/ab-12/x", ["ab-12"], "/stream/key/[redacted]/x"),
        ("key=ab%2F12", ["ab/12"], "key=[redacted]"),
        ("abc-123x and abc-123", ["abc-123"], "abc-123x and [redacted]"),
        ("nothing", [""], "nothing"),
    ],
)
def test_secrets_are_redacted_as_whole_tokens(text, values, shown):
    """A short secret does not garble a message; a secret, raw or URL-quoted, never shows."""
    assert redact_tokens(text, values) == shown
