"""`verify-signature`: explain a captured delivery against the configured secrets."""

from __future__ import annotations

from pathlib import Path

import click

from webhook_service.cli.common import EXIT_FAILED, load_settings
from webhook_service.ingest.explain import explain
from webhook_service.times import now_ms as current_ms


@click.command("verify-signature")
@click.option("--header", required=True, help="The Livepeer-Signature value (t=...,v1=...).")
@click.option(
    "--body-file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The exact request body bytes, as received.",
)
@click.option("--now", "now_ms", type=int, default=None, help="Judge freshness at this time (ms).")
def verify_signature(header: str, body_file: Path, now_ms: int | None) -> None:
    """Explain why a captured delivery does or does not verify with LIVEPEER_WEBHOOK_SECRET.

    Checks the header format, the HMAC over the raw body against every configured secret
    (reported by position, never printed), common capture mistakes (re-serialised JSON, an
    added trailing newline), seconds instead of milliseconds, and the time tolerance.
    Exit 0 when the delivery would be accepted, 1 when not, 2 on bad usage.

    \b
    Examples:
      livepeer-webhooks verify-signature --header 't=1764086400000,v1=33…' --body-file body.json
      livepeer-webhooks verify-signature --header "$SIG" --body-file body.json --now 1764086400000
    """
    settings = load_settings(only=("webhook_secrets", "tolerance_seconds"))
    secrets = [secret.reveal() for secret in settings.webhook_secrets]
    now = now_ms if now_ms is not None else current_ms()
    report = explain(body_file.read_bytes(), header, secrets, now, settings.tolerance_seconds)
    for finding in report.findings:
        click.echo(finding)
    click.echo("VALID: the service would accept this delivery." if report.valid else "INVALID.")
    if not report.valid:
        raise SystemExit(EXIT_FAILED)
