"""`ai-check`: run the hung-job checklist against a Livepeer AI gateway, step by step."""

from __future__ import annotations

import os

import click
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from webhook_service.ai.checklist import Checklist, StepResult, Timing
from webhook_service.ai.gateway import DEFAULT_GET_TIMEOUT, DEFAULT_POST_TIMEOUT, Gateway
from webhook_service.ai.pipelines import PIPELINES
from webhook_service.ai.retry import COLD_MODEL_DELAYS, StatusError
from webhook_service.ai.studio import generate_failed_message, is_studio_url
from webhook_service.cli.common import EXIT_FAILED, fail

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
    evidence = found.verdict.evidence if found.verdict else {}
    for error in evidence.get("errors", []):  # the gateway's own words for each refused field
        click.echo(f"      {'.'.join(error['loc'])}: {error['msg']} ({error['type']})")
    if found.verdict and found.verdict.code == "ai.validation" and "gateway_message" in evidence:
        click.echo(f"      said: {evidence['gateway_message']}")  # Studio's {"errors": [...]}
    if found.next_check:
        click.echo(f"      next: {found.next_check}")


def _retrying(number: int, delay: float, error: StatusError) -> None:
    studio = generate_failed_message(error.status, error.body)
    why = "the model is loading"
    if studio is not None:
        why = f'"{studio}" (Studio hides the gateway\'s status; a cold model answers so)'
    click.echo(
        f"      {error.status}: {why}; retry {number}/{len(COLD_MODEL_DELAYS)} in {delay:g} s"
    )


def _conclude(results: list[StepResult], studio: bool) -> None:
    """The last line, and exit 1 when a step failed or none could run."""
    failed = next((r for r in results if r.found.outcome == "fail"), None)
    if failed is not None:
        click.echo(f"Stopped at step {failed.number} ({failed.name}).")
        raise SystemExit(EXIT_FAILED)
    if all(r.found.outcome == "skip" for r in results):
        where = "Livepeer Studio" if studio else "this target"
        click.echo(
            f"Nothing was checked: {where} has no route for this pipeline. Run ai-check against "
            "an AI gateway for it (e.g. --gateway https://dream-gateway.livepeer.cloud)."
        )
        raise SystemExit(EXIT_FAILED)
    click.echo("All steps passed.")


@click.command("ai-check")
@click.option(
    "--gateway",
    required=True,
    help="Base URL: a gateway's (pipelines below it), or Studio's .../api/beta/generate.",
)
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
    help="Seconds step 1 may take (a gateway's GET, Studio's empty POST).",
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
    1. reachable: GET /<pipeline> must answer 405 (Studio: an empty POST, 422)
    2. minimal POST: the smallest valid request, with --model or else the warm model
    3. warm model: the same with the warm model (skipped when step 2 used it)

    Gateway or Studio: a --gateway whose path ends in /api/generate or /api/beta/generate
    (Livepeer Studio's generate routes) is Studio; any other URL is an AI gateway. Studio is
    sent Studio's requests: llm as a form with `prompt` (a gateway gets JSON {messages,
    model}); step 1 POSTs an empty JSON body, which Studio's route refuses with 422 before
    any job (Studio serves no GET); image-to-text is skipped (Studio has no such route).

    A 503 (cold model), or Studio's 500 "Failed to generate <pipeline>" (Studio's answer for
    any gateway 5xx), is retried after 5, 7.5, 11.25, 16.875 and 25.3125 s. Each step prints
    its outcome and time; a failed step says what to check next (the self-hosted gateway's
    status, the orchestrators' capabilities). Exit 0 when every step that ran passed, 1 when
    one fails or none could run, 2 on bad usage.

    \b
    Examples:
      livepeer-webhooks ai-check --gateway https://dream-gateway.livepeer.cloud --pipeline llm
      livepeer-webhooks ai-check --gateway http://127.0.0.1:8937 --pipeline text-to-image \\
          --model ByteDance/SDXL-Lightning --timeout 300
      LP_KEY=... livepeer-webhooks ai-check --gateway https://livepeer.studio/api/beta/generate \\
          --pipeline llm --api-key-env LP_KEY
    """
    timing = ctx.find_object(Timing) or Timing()  # tests pass a fast sleep as the context obj
    base = _gateway_url(gateway)
    target = Gateway(base, get_timeout=get_timeout, post_timeout=timeout, token=_token(api_key_env))
    studio = is_studio_url(base)
    kind = "an AI gateway: sending the gateway's own requests"
    if studio:
        kind = "Livepeer Studio's generate API, by its path: sending Studio's request forms"
    click.echo(f"ai-check: {pipeline} at {target.base_url} ({kind})")
    checklist = Checklist(target, pipeline, model_id, timing, on_retry=_retrying, studio=studio)
    _conclude(checklist.run(_report), studio)
