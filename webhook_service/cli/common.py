"""Helpers shared by the subcommands: failing with an exit code, settings, posting."""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from collections.abc import Collection
from typing import Any, NoReturn
from urllib.parse import urlsplit

import click

from webhook_service.config import ConfigError, Settings
from webhook_service.ingest.samples import signed_request
from webhook_service.store import StorageError
from webhook_service.urls import redact_url

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
PROG = "livepeer-webhooks"
# Settings fields by what a subcommand talks to: it reads only the variables it uses.
REDIS_SETTINGS = (
    "redis_url",
    "redis_cluster",
    "redis_ssl_cert_reqs",
    "redis_key_prefix",
    "redis_timeout_seconds",
)
API_SETTINGS = (
    "livepeer_api_key",
    "livepeer_api_url",
    "livepeer_playback_url",
    "probe_allowed_hosts",
)


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    click.echo(f"{PROG}: {message}", err=True)
    sys.exit(code)


def load_settings(only: Collection[str] | None = None) -> Settings:
    """Settings from the environment (only the `only` fields: see Settings.from_env).

    A missing or bad value is one line on stderr naming the variable, and exit 2.
    """
    try:
        return Settings.from_env(os.environ, only=only)
    except ConfigError as error:
        fail(str(error))


def first_secret() -> str:
    """The secret deliveries are signed with: the first of LIVEPEER_WEBHOOK_SECRET."""
    return load_settings(only=("webhook_secrets",)).webhook_secrets[0].reveal()


def default_url() -> str:
    """The local service's webhook URL, on $PORT: the default of --url."""
    try:
        port = Settings.from_env(os.environ, only=("port",)).port
    except ConfigError as error:
        fail(f"{error} (it makes the default --url; or pass --url)")
    return f"http://127.0.0.1:{port}/webhooks/livepeer"


class HttpUrl(click.ParamType):  # type: ignore[type-arg]
    """An http(s) URL with a host; anything else is a usage error (one line, exit 2)."""

    name = "url"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value).strip()
        parts = urlsplit(text) if " " not in text else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            shown = redact_url(text, keep_path=False) if "://" in text else text[:40]
            self.fail(f"{shown!r} is not an http(s) URL such as {default_url()}", param, ctx)
        return text


def redis_error(settings: Settings, error: StorageError) -> str:
    """Why Redis failed, naming REDIS_URL without its password."""
    return f"Redis at {redact_url(settings.redis_url)} failed: {error.reason}"


def reach_error(url: str, error: BaseException) -> str:
    """Why `url` could not be reached, naming it without credentials or query."""
    reason = getattr(error, "reason", None) or error
    return f"could not reach {redact_url(url)}: {reason}"


def post_signed(url: str, body: dict[str, Any], secret: str) -> tuple[int, str]:
    """POST a signed delivery; returns (status, body text). Unreachable: exit 1."""
    raw, headers = signed_request(body, secret)
    request = urllib.request.Request(url, data=raw, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")
    except (urllib.error.URLError, OSError) as error:
        fail(reach_error(url, error), code=EXIT_FAILED)
