"""`ai-check`: run the hung-job checklist against a Livepeer AI gateway, step by step."""

from __future__ import annotations

import os

import click
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from webhook_service.ai.gateway import (
    DEFAULT_GET_TIMEOUT,
    DEFAULT_POST_TIMEOUT,
    Checklist,
    Gateway,
    StepResult,
    Timing,
)
from webhook_service.ai.retry import COLD_MODEL_DELAYS, StatusError
from webhook_service.cli.common import EXIT_FAILED, fail
from webhook_service.diagnostics.ai import PIPELINES

STEPS = 3
_SECONDS = click.FloatRange(min=0, min_open=True)


def _gateway_url(url: str) -> str:
    """The --gateway URL if it is a plain http(s) base URL; else a usage error."""
    try:
        parts = parse_url(url)
    except LocationParseError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.host:
        fail("--gateway must be an http(s) URL such as https://dream-gateway.livepeer.cloud")
    if parts.auth:  # it would be printed, and urllib3 would not send it anyway
        fail("--gateway must not hold credentials: pass a key with --api-key-env")
    if parts.query is not None or parts.fragment is not None:
        fail("--gateway is a base URL: pipeline paths are appended to it, so no ?query or #")
    return url


def _token(env_name: str | None) -> str | None:
    """The bearer token from the variable --api-key-env names (never from the command line)."""
    if env_name is None:
        return None
    token = os.environ.get(env_name, "").strip()
    if not token:
        fail(f"--api-key-env names {env_name}, which is not set")
    return token


def _report(result: StepResult) -> None:
    found = result.found
    mark = found.outcome.upper()
    click.echo(
        f"[{result.number}/{STEPS}] {result.name:<12} {mark:<4} {result.seconds:6.2f} s  "
        f"{found.summary}"
    )
    errors = found.verdict.evidence.get("errors", []) if found.verdict else []
    for error in errors:  # the gateway's own words for each field it refused
        click.echo(f"      {'.'.join(error['loc'])}: {error['msg']} ({error['type']})")
    if found.next_check:
        click.echo(f"      next: {found.next_check}")


def _retrying(number: int, delay: float, error: StatusError) -> None:
    click.echo(
        f"      {error.status}: the model is loading; retry {number}/{len(COLD_MODEL_DELAYS)} "
        f"in {delay:g} s"
    )


@click.command("ai-check")
@click.option("--gateway", required=True, help="The gateway's base URL (pipelines below it).")
@click.option("--pipeline", required=True, type=click.Choice(PIPELINES), help="The pipeline.")
@click.option(
    "--model", "model_id", default=None, help="model_id to try (default: the warm model)."
)
@click.option(
    "--timeout",
    type=_SECONDS,
    default=DEFAULT_POST_TIMEOUT,
    show_default=True,
    help="Seconds each POST may take before it counts as hung.",
)
@click.option(
    "--get-timeout",
    type=_SECONDS,
    default=DEFAULT_GET_TIMEOUT,
    show_default=True,
    help="Seconds the reachability GET may take.",
)
@click.option(
    "--api-key-env",
    default=None,
    metavar="NAME",
    help="Environment variable holding a bearer API key (Livepeer Studio needs one).",
)
@click.pass_context
def ai_check(
    ctx: click.Context,
    gateway: str,
    pipeline: str,
    model_id: str | None,
    timeout: float,
    get_timeout: float,
    api_key_env: str | None,
) -> None:
    """Find why an AI job hangs or fails: run the checklist, stop at the first failing step.

    \b
    1. reachable: GET /<pipeline> must answer 405 (the route exists; it takes POST)
    2. minimal POST: the smallest valid request, with --model or else the warm model
    3. warm model: the same with the warm model (skipped when step 2 used it)

    A 503 (cold model) is retried after 5, 7.5, 11.25, 16.875 and 25.3125 s. Each step
    prints its outcome and time; a failed step says what to check next (the self-hosted
    gateway's status, the orchestrators' capabilities). Exit 0 when every step passes, 1 when
    one fails, 2 on bad usage.

    \b
    Examples:
      livepeer-webhooks ai-check --gateway https://dream-gateway.livepeer.cloud --pipeline llm
      livepeer-webhooks ai-check --gateway http://127.0.0.1:8937 --pipeline text-to-image \\
          --model ByteDance/SDXL-Lightning --timeout 300
      LP_KEY=... livepeer-webhooks ai-check --gateway https://livepeer.studio/api/beta/generate \\
          --pipeline image-to-image --api-key-env LP_KEY
    """
    timing = ctx.find_object(Timing) or Timing()  # tests pass a fast sleep as the context obj
    base = _gateway_url(gateway)
    target = Gateway(base, get_timeout=get_timeout, post_timeout=timeout, token=_token(api_key_env))
    click.echo(f"ai-check: {pipeline} at {target.base_url}")
    checklist = Checklist(target, pipeline, model_id, timing, on_retry=_retrying)
    results = checklist.run(_report)
    failed = next((r for r in results if r.found.outcome == "fail"), None)
    if failed is None:
        click.echo("All steps passed.")
        return
    click.echo(f"Stopped at step {failed.number} ({failed.name}).")
    raise SystemExit(EXIT_FAILED)
