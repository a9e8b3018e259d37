"""`check-config`: validate the environment, ping Redis, and try the Livepeer API key."""

from __future__ import annotations

import os
import time
from itertools import takewhile

import click

from webhook_service.cli.common import EXIT_FAILED, EXIT_USAGE, redis_error
from webhook_service.config import LOG_FORMATS, ConfigError, Settings
from webhook_service.livepeer.api import LivepeerApi
from webhook_service.livepeer.probe import Prober
from webhook_service.store import StorageError, Store, connect
from webhook_service.urls import same_url


def _line(ok: bool | None, what: str, detail: str) -> None:
    mark = {True: "ok  ", False: "FAIL", None: "--  "}[ok]
    click.echo(f"{mark} {what}: {detail}")


def _check_redis(settings: Settings) -> bool:
    if settings.redis_url is None:
        _line(None, "redis", "REDIS_URL unset: `serve` would start an embedded Redis (dev only)")
        return True
    try:
        store = Store(connect(settings), settings.redis_key_prefix)
        store.ping()
        versions = store.server_versions()
    except StorageError as error:
        advice = "check REDIS_URL (and REDIS_SSL_CERT_REQS for rediss://)"
        _line(False, "redis", f"{redis_error(settings, error)}; {advice}")
        return False
    oldest = min(versions, key=version_tuple, default="unknown")
    where = " (cluster)" if settings.redis_cluster else ""
    if oldest != "unknown" and version_tuple(oldest) < MIN_REDIS_VERSION:
        needed = ".".join(map(str, MIN_REDIS_VERSION))
        _line(False, "redis", f"Redis {oldest}{where} is older than {needed}: {MIN_REDIS_WHY}")
        return False
    _line(True, "redis", f"PING answered, Redis {oldest}{where}")
    return True


# The oldest Redis the service runs on, and why (docs/deployment.md).
MIN_REDIS_VERSION = (6, 2)
MIN_REDIS_WHY = "GET /api/deliveries pages its Redis streams with exclusive ranges, new in 6.2"


def version_tuple(version: str) -> tuple[int, ...]:
    """`7.0.15` as (7, 0, 15); each part by its leading digits (`2-rc1` is 2, none is 0)."""
    return tuple(int("".join(takewhile(str.isdigit, part)) or 0) for part in version.split("."))


def _check_api(settings: Settings) -> bool:
    api = LivepeerApi.from_settings(settings, Prober.from_settings(settings))
    if api is None:
        _line(None, "livepeer api", "LIVEPEER_API_KEY unset: diagnosis uses webhook data only")
        return True
    result = api.list_webhooks(deadline=time.monotonic() + 10)
    if result.error or result.value is None:
        _line(False, "livepeer api", f"{result.error or 'no answer'} from {api.base_url}")
        return False
    hooks = result.value
    _line(True, "livepeer api", f"key accepted; {len(hooks)} webhook(s) registered")
    if settings.public_url:
        ours = any(same_url(h.url, settings.public_url) for h in hooks)
        state = "is" if ours else "is not"
        _line(ours, "webhook registration", f"PUBLIC_URL {state} registered in Livepeer Studio")
        return ours
    return True


@click.command("check-config")
def check_config() -> None:
    """Validate the environment, ping Redis and, with LIVEPEER_API_KEY, call the Livepeer API.

    Reads every variable in docs/configuration.md. Prints one line per check; never prints a
    secret. Exit 0 when all checks pass, 1 when Redis or the API fails, 2 when the
    configuration itself is invalid.

    \b
    Examples:
      livepeer-webhooks check-config
      REDIS_URL=rediss://:pw@host:6380 REDIS_SSL_CERT_REQS=none livepeer-webhooks check-config
    """
    try:
        settings = Settings.from_env(os.environ)
    except ConfigError as error:
        _line(False, "configuration", str(error))
        raise SystemExit(EXIT_USAGE) from None
    secrets = len(settings.webhook_secrets)
    _line(
        True, "configuration", f"{secrets} webhook secret(s), {len(settings.ops_tokens)} token(s)"
    )
    if settings.log_format not in LOG_FORMATS:
        # Not an error: the service still starts, and logs JSON.
        click.echo(f"warn LOG_FORMAT: {settings.log_format!r} is not json or text: logs are JSON")
    results = [_check_redis(settings), _check_api(settings)]
    if not all(results):
        raise SystemExit(EXIT_FAILED)
