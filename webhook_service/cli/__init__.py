"""The `livepeer-webhooks` command.

Exit codes for every subcommand: 0 success, 1 the check or action failed, 2 bad usage or
configuration.
"""

from __future__ import annotations

import click

from webhook_service.cli.ai_check import ai_check
from webhook_service.cli.config_check import check_config
from webhook_service.cli.deliveries import send_test_event, simulate
from webhook_service.cli.reconcile import reconcile
from webhook_service.cli.retention import forget_stale
from webhook_service.cli.serving import dev, serve
from webhook_service.cli.signature_check import verify_signature


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Livepeer Studio webhook receiver: verified ingest, stream state, diagnosis."""


for command in (serve, dev, send_test_event, simulate, verify_signature, check_config, ai_check):
    main.add_command(command)
main.add_command(reconcile)
main.add_command(forget_stale)
