"""`forget-stale`: forget streams with no event for a while, now, in bounded batches."""

from __future__ import annotations

import click

from webhook_service.cli.common import EXIT_FAILED, REDIS_SETTINGS, fail, load_settings, redis_error
from webhook_service.store import StorageError, Store, connect
from webhook_service.times import iso_from_ms, now_ms

BATCH = 500


@click.command("forget-stale")
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=None,
    help="Forget streams with no event for this many days (default: STREAM_RETENTION_DAYS).",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=100_000,
    show_default=True,
    help="Forget at most this many streams.",
)
def forget_stale(days: int | None, limit: int) -> None:
    """Forget streams with no event for --days: their state, timeline and index entries.

    The service does this by itself, a batch a minute after accepted deliveries; this command
    catches up at once (say after lowering STREAM_RETENTION_DAYS). Exit 1 if Redis fails.

    \b
    Examples:
      livepeer-webhooks forget-stale
      livepeer-webhooks forget-stale --days 7
    """
    # Imported here: metrics (through retention) must not load before `serve` configures them.
    from webhook_service.store.retention import DAY_MS, Sweeper

    # Only what it uses: never the webhook secret or the ops token.
    settings = load_settings(only=REDIS_SETTINGS + (() if days else ("stream_retention_days",)))
    if settings.redis_url is None:
        fail("REDIS_URL is not set: there is no Redis to clean up")
    days = days or settings.stream_retention_days
    now = now_ms()
    total = 0
    try:
        sweeper = Sweeper(Store(connect(settings), settings.redis_key_prefix), days)
        while total < limit:
            forgotten = sweeper.sweep(now, min(BATCH, limit - total))
            total += forgotten
            if not forgotten:
                break
    except StorageError as error:
        fail(redis_error(settings, error), EXIT_FAILED)
    click.echo(f"forgot {total} stream(s) with no event since {iso_from_ms(now - days * DAY_MS)}")
