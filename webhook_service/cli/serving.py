"""`serve` (production) and `dev` (what `make run` runs)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import click

from webhook_service.cli.common import fail, load_settings
from webhook_service.store.embedded import EmbeddedRedisError

DEV_ENV_FILE = ".dev.env"


@click.command()
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to bind.")
def serve(host: str) -> None:
    """Run the production server (gunicorn, gthread workers) on $PORT.

    \b
    Reads configuration from the environment (docs/configuration.md). Without REDIS_URL it
    starts an embedded redis-server for all workers and stops it on exit.
    \b
    Example:
      LIVEPEER_WEBHOOK_SECRET=... OPS_API_TOKEN=... REDIS_URL=redis://localhost:6379/0 \\
        livepeer-webhooks serve
    """
    from webhook_service.cli.server import serve as run_server

    settings = load_settings()
    try:
        run_server(settings, host=host, log_format=settings.log_format)
    except EmbeddedRedisError as error:
        fail(str(error))


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


@click.command()
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
    settings = load_settings()
    from webhook_service.cli.server import serve as run_server

    def banner(redis_url: str) -> None:
        click.echo(_banner(settings.port, chosen, redis_url, embedded=settings.redis_url is None))

    try:
        run_server(settings, host=host, log_format=settings.log_format, announce=banner)
    except EmbeddedRedisError as error:
        fail(str(error))


def _banner(port: int, chosen: dict[str, str], redis_url: str, embedded: bool) -> str:
    """What `make run` prints first: where to send deliveries, the secrets, where Redis is."""
    base = f"http://127.0.0.1:{port}"
    secret, token = chosen["LIVEPEER_WEBHOOK_SECRET"], chosen["OPS_API_TOKEN"]
    lost = " (embedded: its data is lost when this stops)" if embedded else ""
    return "\n".join(
        [
            "livepeer-webhooks (development)",
            f"  webhook URL:              {base}/webhooks/livepeer",
            f"  status page:              {base}/",
            f"  LIVEPEER_WEBHOOK_SECRET = {secret}",
            f"  OPS_API_TOKEN           = {token}",
            f"  REDIS_URL               = {redis_url}{lost}",
            "",
            "Send a signed test delivery:",
            f"  LIVEPEER_WEBHOOK_SECRET='{secret}' .venv/bin/livepeer-webhooks "
            f"send-test-event --url {base}/webhooks/livepeer",
            "List streams:",
            f"  curl -H 'Authorization: Bearer {token}' {base}/api/streams",
            "Other commands on this Redis (reconcile, forget-stale):",
            f"  REDIS_URL='{redis_url}' .venv/bin/livepeer-webhooks forget-stale --days 30",
            "",
        ]
    )
