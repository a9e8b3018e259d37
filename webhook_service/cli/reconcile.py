"""`reconcile`: have Livepeer resend the failed deliveries whose events never reached Redis."""

from __future__ import annotations

import shlex
import textwrap

import click

from webhook_service.cli.common import (
    API_SETTINGS,
    EXIT_FAILED,
    EXIT_USAGE,
    REDIS_SETTINGS,
    fail,
    load_settings,
    redis_error,
)
from webhook_service.config import Settings
from webhook_service.livepeer.api import LivepeerApi
from webhook_service.livepeer.probe import Prober
from webhook_service.reconcile.failures import FAILURE_KINDS, FIXES
from webhook_service.reconcile.plan import Candidate, Summary, parse_since
from webhook_service.reconcile.runner import (
    CALL_SECONDS,
    DEFAULT_RATE,
    Limits,
    Outcome,
    ReconcileError,
    Reconciler,
)
from webhook_service.store import StorageError, Store, connect
from webhook_service.times import iso_from_ms, now_ms

_LABELS: dict[Outcome, str] = {
    "would_resend": "would resend",
    "resent": "resent",
    "old_secret": "FAILED",
    "old_url": "NOT RESENT",
    "other": "FAILED",
}


def _report(candidate: Candidate, outcome: Outcome, detail: str) -> None:
    line = (
        f"{_LABELS[outcome]:<13} {iso_from_ms(candidate.created_at_ms)}  "
        f"{candidate.event or '?':<20} {candidate.event_id}  log={candidate.log_id}"
    )
    if outcome in FAILURE_KINDS:
        detail = f"{outcome}: {detail}"
    click.echo(f"{line}: {detail}" if detail else line)


def _counts(summary: Summary) -> str:
    """The counts, then `failed` by kind: one line of name=value pairs."""
    counts = [(k, v) for k, v in summary.as_dict().items() if isinstance(v, int)]
    return " ".join(f"{name}={count}" for name, count in [*counts, *summary.failures.items()])


def _explain(summary: Summary, again: str, dry_run: bool) -> None:
    """For each kind of failure that occurred: how many, and what to do about it."""
    for kind in FAILURE_KINDS:
        if summary.failures[kind]:
            text = f"{kind}={summary.failures[kind]}: {FIXES[kind]}"
            click.echo("\n" + textwrap.fill(text, width=96, subsequent_indent="  "))
    then = "to resend the rest" if dry_run else "to run this reconcile again (the same window)"
    click.echo(f"\n{then}: {again}")


def _reconciler(settings: Settings) -> Reconciler:
    """The API client and store for a run; exits 2 when either is not configured."""
    if settings.livepeer_api_key is None:
        fail("LIVEPEER_API_KEY is not set: reconcile reads our webhook's log from the API")
    if settings.redis_url is None:
        fail("REDIS_URL is not set: reconcile asks the service's Redis what it applied")
    # A resend answers once Livepeer's delivery to this service got its answer: allow for it.
    prober = Prober.from_settings(settings, call_timeout=CALL_SECONDS)
    api = LivepeerApi(prober, settings.livepeer_api_key, settings.livepeer_api_url)
    return Reconciler(api, Store(connect(settings), settings.redis_key_prefix))


@click.command()
@click.option(
    "--since",
    "since_text",
    required=True,
    metavar="TIME",
    help="ISO-8601 with a zone (2026-11-25T18:00:00Z) or a duration back (90m, 24h, 3d).",
)
@click.option("--webhook-id", default=None, help="Default: the webhook whose URL is PUBLIC_URL.")
@click.option("--dry-run", is_flag=True, help="List what would be resent; resend nothing.")
@click.option(
    "--rate",
    type=click.FloatRange(min=0.1, max=50),
    default=DEFAULT_RATE,
    show_default=True,
    help="At most this many resends per second.",
)
@click.option(
    "--max-resends",
    type=click.IntRange(min=1),
    default=None,
    help="Stop after this many resends (run again to go on).",
)
def reconcile(
    since_text: str, webhook_id: str | None, dry_run: bool, rate: float, max_resends: int | None
) -> None:
    """Have Livepeer resend failed deliveries whose events this service never applied.

    Reads our webhook's log from the Livepeer API (LIVEPEER_API_KEY) back to --since, keeps
    the failed deliveries whose event ids are not in Redis, and asks Livepeer to resend each:
    they arrive signed, through the normal ingest route. Each resend is noted in Redis, so a
    run that was interrupted (Ctrl-C, a crash) can simply be run again. Prints one line per
    event and the counts, and for each kind of failure what fixes it: old_secret (refused
    here as bad_signature: Livepeer signs a resend with the webhook's secret at the time of the
    first delivery), old_url (it went to another URL than PUBLIC_URL; not resent), other. Exit
    0 when nothing failed, 1 when an event was not recovered or the API failed, 2 on bad usage
    or configuration.

    \b
    Examples:
      livepeer-webhooks reconcile --since 24h --dry-run
      livepeer-webhooks reconcile --since 2026-11-25T18:00:00Z
      livepeer-webhooks reconcile --since 3d --webhook-id 4f1c… --rate 2
    """
    settings = load_settings(only=(*REDIS_SETTINGS, *API_SETTINGS, "public_url"))
    try:
        since = parse_since(since_text, now_ms())
    except ValueError as error:
        fail(f"--since: {error}")
    reconciler = _reconciler(settings)
    limits = Limits(rate=rate, max_resends=max_resends)
    try:
        hook = reconciler.find_webhook(webhook_id, settings.public_url, limits)
        dry = " (dry run: nothing is resent)" if dry_run else ""
        click.echo(f"webhook {hook}: failed deliveries since {iso_from_ms(since)}{dry}")
        summary = reconciler.run(
            hook,
            since,
            public_url=settings.public_url,
            dry_run=dry_run,
            limits=limits,
            report=_report,
        )
    except ReconcileError as error:
        fail(error.detail, EXIT_FAILED if error.kind == "upstream" else EXIT_USAGE)
    except StorageError as error:
        fail(redis_error(settings, error), EXIT_FAILED)
    _finish(summary, since, webhook_id, dry_run)


def _finish(summary: Summary, since: int, webhook_id: str | None, dry_run: bool) -> None:
    """The counts, what to do next, and exit 1 when an event was not recovered."""
    click.echo(_counts(summary))
    # The same window later: a duration such as 24h would have moved on by then.
    again = f"livepeer-webhooks reconcile --since {iso_from_ms(since)}"
    again += f" --webhook-id {shlex.quote(webhook_id)}" if webhook_id else ""
    if not dry_run and summary.found > summary.already_applied + summary.resent + summary.failed:
        click.echo(f"stopped at --max-resends: run the same command again to go on ({again})")
    if summary.failed:
        _explain(summary, again, dry_run)
        raise SystemExit(EXIT_FAILED)
