"""Helpers shared by the subcommands: failing with an exit code, settings, posting."""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from typing import Any, NoReturn

import click

from webhook_service.config import ConfigError, Settings
from webhook_service.ingest.samples import signed_request

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    click.echo(f"livepeer-webhooks: {message}", err=True)
    sys.exit(code)


def load_settings() -> Settings:
    try:
        return Settings.from_env(os.environ)
    except ConfigError as error:
        fail(str(error))


def first_secret() -> str:
    """The secret deliveries are signed with: the first of LIVEPEER_WEBHOOK_SECRET."""
    secret = os.environ.get("LIVEPEER_WEBHOOK_SECRET", "").split(",")[0].strip()
    if not secret:
        fail("LIVEPEER_WEBHOOK_SECRET is not set: the delivery must be signed with it")
    return secret


def default_url() -> str:
    return f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/webhooks/livepeer"


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
        fail(f"could not reach {url}: {getattr(error, 'reason', error)}", code=EXIT_FAILED)
