"""`send-test-event` and `simulate`: signed, realistic deliveries posted to a running service."""

from __future__ import annotations

import time
import uuid

import click

from webhook_service.cli.common import (
    EXIT_FAILED,
    HttpUrl,
    default_url,
    fail,
    first_secret,
    post_signed,
)
from webhook_service.ingest.samples import build_delivery
from webhook_service.times import now_ms
from webhook_service.urls import redact_url

URL_OPTION = click.option(
    "--url",
    type=HttpUrl(),
    default=default_url,
    show_default="http://127.0.0.1:$PORT/webhooks/livepeer",
    help="The receiver's webhook URL.",
)
# (event, seconds after the previous step) for a recorded broadcast, as Livepeer spaces them:
# recording.waiting ~70 s after idle, the upload finishing within a few minutes.
LIFECYCLE: tuple[tuple[str, float], ...] = (
    ("stream.started", 0),
    ("stream.idle", 60),
    ("asset.created", 70),
    ("task.spawned", 0.5),
    ("recording.waiting", 0.5),
    ("task.completed", 120),
    ("asset.ready", 0.5),
    ("recording.ready", 0.5),
)


@click.command("send-test-event")
@URL_OPTION
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
    secret = first_secret()
    now = now_ms()
    body = build_delivery(event_name, stream_id or str(uuid.uuid4()), now, now, session_id)
    stream = body.get("stream", {}).get("id")
    click.echo(f"POST {redact_url(url)} event={event_name} id={body['id']} stream={stream}")
    status, text = post_signed(url, body, secret)
    click.echo(f"{status} {text.strip()}")
    if not 200 <= status < 300:
        raise SystemExit(EXIT_FAILED)


@click.command()
@URL_OPTION
@click.option("--stream-id", default=None, help="Stream id (default: a new UUID).")
@click.option(
    "--speed",
    type=click.FloatRange(min=1),
    default=1.0,
    show_default=True,
    help="Divide the waits between events by this (e.g. 100 plays ~4 min in ~3 s).",
)
def simulate(url: str, stream_id: str | None, speed: float) -> None:
    """Play a whole recorded broadcast against a running service, spaced like Livepeer does.

    \b
    stream.started, stream.idle 60 s later, then ~70 s later asset.created, task.spawned and
    recording.waiting, and ~2 min after that task.completed, asset.ready, recording.ready.
    The asset id is the session id, as for Livepeer recordings.
    \b
    Examples:
      livepeer-webhooks simulate --url http://127.0.0.1:8000/webhooks/livepeer --speed 100
      livepeer-webhooks simulate --stream-id my-stream           # real time, ~4 minutes
    """
    secret = first_secret()
    stream_id = stream_id or str(uuid.uuid4())
    session_id = str(uuid.uuid4())
    click.echo(f"simulating stream {stream_id} (session {session_id}) at {speed:g}x")
    failures = 0
    for event_name, wait in LIFECYCLE:
        time.sleep(wait / speed)
        now = now_ms()
        body = build_delivery(event_name, stream_id, now, now, session_id)
        status, text = post_signed(url, body, secret)
        click.echo(f"{event_name:<20} {status} {text.strip()}")
        if status == 401:  # every later delivery would be refused the same way
            fail(f"stopped: {refused_because(text)}", EXIT_FAILED)
        failures += not 200 <= status < 300
    if failures:
        click.echo(f"{failures} deliveries were not accepted", err=True)
        raise SystemExit(EXIT_FAILED)


def refused_because(problem: str) -> str:
    """The likely cause of a 401 from the receiver, from its problem+json type."""
    if ":stale" in problem:
        return (
            "the receiver refused the delivery as stale: this host's clock and the receiver's "
            "differ by more than WEBHOOK_TOLERANCE_SECONDS (check NTP on both)"
        )
    return (
        "the receiver refused the signature: LIVEPEER_WEBHOOK_SECRET here is not one of the "
        "receiver's secrets (compare the two, e.g. with check-config on the receiver)"
    )
