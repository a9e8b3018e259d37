"""The `livepeer-webhooks` command: serve, dev, send-test-event.

Exit codes: 0 success, 1 the action failed (e.g. the service answered non-2xx), 2 bad usage
or configuration.
"""

from __future__ import annotations

import os
import secrets
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import click

from .config import ConfigError, Settings
from .embedded_redis import EmbeddedRedisError
from .sample_events import build_delivery, signed_request

DEV_ENV_FILE = ".dev.env"


def _fail(message: str, code: int = 2) -> None:
    click.echo(f"livepeer-webhooks: {message}", err=True)
    sys.exit(code)


def _settings() -> Settings:
    try:
        return Settings.from_env(os.environ)
    except ConfigError as error:
        _fail(str(error))
        raise  # unreachable; keeps mypy sure of the return


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Livepeer Studio webhook receiver: verified ingest, stream state, diagnosis."""


@main.command()
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to bind.")
def serve(host: str) -> None:
    """Run the production server (gunicorn, gthread workers) on $PORT.

    \b
    Reads configuration from the environment (see README). Without REDIS_URL it starts an
    embedded redis-server for all workers and stops it on exit.
    \b
    Example:
      LIVEPEER_WEBHOOK_SECRET=... OPS_API_TOKEN=... REDIS_URL=redis://localhost:6379/0 \\
        livepeer-webhooks serve
    """
    from .server import serve as run_server

    settings = _settings()
    try:
        run_server(settings, host=host, log_format=os.environ.get("LOG_FORMAT", "json"))
    except EmbeddedRedisError as error:
        _fail(str(error))


def _load_dev_env(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            key, sep, value = line.strip().partition("=")
            if sep and not key.startswith("#"):
                values[key.strip()] = value.strip()
    return values


def _ensure_dev_secrets(path: Path) -> dict[str, str]:
    """Dev secrets: the environment wins, then .dev.env, else new ones saved there (mode 600)."""
    saved = _load_dev_env(path)
    chosen: dict[str, str] = {}
    for name in ("LIVEPEER_WEBHOOK_SECRET", "OPS_API_TOKEN"):
        chosen[name] = os.environ.get(name) or saved.get(name) or secrets.token_urlsafe(24)
    if any(saved.get(k) != v and k not in os.environ for k, v in chosen.items()):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write("# Local development secrets made by `make run`; never commit.\n")
            for key, value in {**saved, **chosen}.items():
                handle.write(f"{key}={value}\n")
    return chosen


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
def dev(host: str) -> None:
    """Serve for local development: make (or reuse) dev secrets, print them, then serve.

    \b
    Secrets already in the environment win; otherwise they are kept in ./.dev.env so a
    restart keeps them. Logs are plain text unless LOG_FORMAT is set.
    """
    chosen = _ensure_dev_secrets(Path(DEV_ENV_FILE))
    os.environ.update(chosen)
    os.environ.setdefault("LOG_FORMAT", "text")
    settings = _settings()
    base = f"http://127.0.0.1:{settings.port}"
    secret, token = chosen["LIVEPEER_WEBHOOK_SECRET"], chosen["OPS_API_TOKEN"]
    click.echo(
        "\n".join(
            [
                "livepeer-webhooks (development)",
                f"  webhook URL:              {base}/webhooks/livepeer",
                f"  LIVEPEER_WEBHOOK_SECRET = {secret}",
                f"  OPS_API_TOKEN           = {token}",
                f"  redis:                    {settings.redis_url or 'embedded, lost on exit'}",
                "",
                "Send a signed test delivery:",
                f"  LIVEPEER_WEBHOOK_SECRET='{secret}' .venv/bin/livepeer-webhooks "
                f"send-test-event --url {base}/webhooks/livepeer",
                "List streams:",
                f"  curl -H 'Authorization: Bearer {token}' {base}/api/streams",
                "",
            ]
        )
    )
    from .server import serve as run_server

    try:
        run_server(settings, host=host, log_format=os.environ["LOG_FORMAT"])
    except EmbeddedRedisError as error:
        _fail(str(error))


@main.command("send-test-event")
@click.option(
    "--url",
    default=lambda: f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/webhooks/livepeer",
    show_default="http://127.0.0.1:$PORT/webhooks/livepeer",
    help="The receiver's webhook URL.",
)
@click.option("--event", "event_name", default="stream.started", show_default=True)
@click.option("--stream-id", default=None, help="Stream id (default: a new UUID).")
@click.option("--session-id", default=None, help="Session id for recording.* events.")
def send_test_event(
    url: str, event_name: str, stream_id: str | None, session_id: str | None
) -> None:
    """Post one realistic delivery, signed with the first LIVEPEER_WEBHOOK_SECRET.

    \b
    Examples:
      livepeer-webhooks send-test-event --url http://127.0.0.1:8000/webhooks/livepeer
      livepeer-webhooks send-test-event --event stream.idle --stream-id my-stream
    """
    secret = os.environ.get("LIVEPEER_WEBHOOK_SECRET", "").split(",")[0].strip()
    if not secret:
        _fail("LIVEPEER_WEBHOOK_SECRET is not set: the delivery must be signed with it")
    now_ms = time.time_ns() // 1_000_000
    body = build_delivery(
        event_name, stream_id or str(uuid.uuid4()), now_ms, now_ms, session_id=session_id
    )
    raw, headers = signed_request(body, secret)
    request = urllib.request.Request(url, data=raw, headers=headers, method="POST")
    click.echo(
        f"POST {url} event={event_name} id={body['id']} stream={body.get('stream', {}).get('id')}"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            click.echo(f"{response.status} {response.read().decode(errors='replace')}")
    except urllib.error.HTTPError as error:
        click.echo(f"{error.code} {error.read().decode(errors='replace')}")
        sys.exit(1)
    except (urllib.error.URLError, OSError) as error:
        _fail(f"could not reach {url}: {getattr(error, 'reason', error)}", code=1)
