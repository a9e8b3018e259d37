"""The `livepeer-webhooks` command.

Exit codes for every subcommand: 0 success, 1 the check or action failed, 2 bad usage or
configuration. A usage error is one line on stderr, never a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import click

from webhook_service.cli.ai_check import ai_check
from webhook_service.cli.common import EXIT_FAILED, EXIT_USAGE, PROG
from webhook_service.cli.config_check import check_config
from webhook_service.cli.deliveries import send_test_event, simulate
from webhook_service.cli.reconcile import reconcile
from webhook_service.cli.retention import forget_stale
from webhook_service.cli.serving import dev, serve
from webhook_service.cli.signature_check import verify_signature


def _version() -> str:
    try:
        return version("livepeer-webhooks")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


class OneLineErrors(click.Group):
    """click's group whose usage errors are one line (`livepeer-webhooks: ...`) and exit 2."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            code = super().main(args, prog_name, complete_var, False, **extra)
        except click.UsageError as error:
            hint = f" (see {error.ctx.command_path} --help)" if error.ctx else ""
            message = error.format_message().rstrip(".")
            click.echo(f"{PROG}: {message}{hint}", err=True)
            sys.exit(EXIT_USAGE)
        except click.ClickException as error:
            click.echo(f"{PROG}: {error.format_message()}", err=True)
            sys.exit(error.exit_code)
        except click.Abort:
            click.echo(f"{PROG}: aborted", err=True)
            sys.exit(EXIT_FAILED)
        sys.exit(code if isinstance(code, int) else 0)


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(_version(), "--version", prog_name=PROG, message="%(prog)s %(version)s")
def main() -> None:
    """Livepeer Studio webhook receiver: verified ingest, stream state, diagnosis."""


for command in (serve, dev, send_test_event, simulate, verify_signature, check_config, ai_check):
    main.add_command(command)
main.add_command(reconcile)
main.add_command(forget_stale)
