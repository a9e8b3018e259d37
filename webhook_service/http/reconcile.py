"""POST /api/reconcile: have Livepeer resend failed deliveries whose events never arrived here."""

from __future__ import annotations

import time

from flask import Blueprint, Response, current_app
from pydantic import BaseModel, ConfigDict, Field, StrictBool
from svcs.exceptions import ServiceNotFoundError
from svcs.flask import get as service

from webhook_service.http.api import json_answer
from webhook_service.http.auth import require_ops_token
from webhook_service.http.body import parse_body
from webhook_service.http.errors import BadRequestError, LivepeerApiError, NotFoundError
from webhook_service.http.openapi import documented
from webhook_service.ingest.events import TOKEN_PATTERN
from webhook_service.livepeer.api import LivepeerApi
from webhook_service.reconcile.failures import FIXES
from webhook_service.reconcile.plan import Summary, parse_since
from webhook_service.reconcile.runner import DEFAULT_RATE, Limits, ReconcileError, Reconciler
from webhook_service.store import Store
from webhook_service.times import now_ms

bp = Blueprint("reconcile", __name__, url_prefix="/api")
bp.before_request(require_ops_token)

# One call stays inside gunicorn's 30 s worker timeout (and a proxy's): at most 20 s, 50 log
# pages (5,000 failed rows) and 100 resends. A larger backlog takes several calls, each going on
# where the last stopped, or the CLI, which has no caps.
ROUTE_SECONDS = 20.0
ROUTE_MAX_PAGES = 50
ROUTE_MAX_RESENDS = 100


class ReconcileRequest(BaseModel):
    """Which failed deliveries to recover: since when, of which webhook; or only count them."""

    model_config = ConfigDict(extra="forbid")
    since: str = Field(
        strict=True,
        max_length=64,
        description=(
            "ISO-8601 with a time zone (2026-11-25T18:00:00Z, 2026-11-25T13:00:00-05:00), or a "
            "duration back from now: minutes, hours or days (90m, 24h, 7d), as the CLI takes"
        ),
        examples=["2026-11-25T18:00:00Z", "24h"],
    )
    webhook_id: str | None = Field(
        default=None,
        pattern=TOKEN_PATTERN,
        description="Livepeer webhook id; default: the webhook whose url is PUBLIC_URL",
    )
    dry_run: StrictBool = Field(default=False, description="count only; resend nothing")


class ReconcileFailures(BaseModel):
    """The deliveries that could not be recovered, by kind; the kinds add up to `failed`."""

    old_secret: int = Field(
        description="Livepeer's resend was refused here as bad_signature. " + FIXES["old_secret"]
    )
    old_url: int = Field(
        description="The delivery went to another URL than PUBLIC_URL; not resent. "
        + FIXES["old_url"]
    )
    other: int = Field(
        description="The Livepeer API refused or failed the resend, or this receiver answered "
        "something else than 2xx. " + FIXES["other"]
    )


class ReconcileSummary(BaseModel):
    """Failed deliveries in the webhook's log since then (one per event id): already applied
    here, resent now or by an earlier run, or failed (by kind in `failures`). One call reads at
    most 50 log pages and resends at most 100 events in 20 s; when `found` exceeds the other
    three summed, call again: it continues where this one stopped."""

    found: int
    already_applied: int
    resent: int
    failed: int = Field(description="not recovered: the sum of `failures`")
    failures: ReconcileFailures


def _api() -> LivepeerApi:
    try:
        return service(LivepeerApi)
    except ServiceNotFoundError:
        raise BadRequestError(
            "LIVEPEER_API_KEY is not set: reconcile reads our webhook's log from the Livepeer API"
        ) from None


def _run(body: ReconcileRequest, reconciler: Reconciler) -> Summary:
    try:
        since = parse_since(body.since, now_ms())
    except ValueError as error:
        raise BadRequestError(f"since: {error}") from None
    limits = Limits(
        rate=DEFAULT_RATE,
        max_pages=ROUTE_MAX_PAGES,
        max_resends=ROUTE_MAX_RESENDS,
        deadline=time.monotonic() + ROUTE_SECONDS,
    )
    public_url = current_app.config["SETTINGS"].public_url
    try:
        webhook_id = reconciler.find_webhook(body.webhook_id, public_url, limits)
        return reconciler.run(
            webhook_id, since, public_url=public_url, dry_run=body.dry_run, limits=limits
        )
    except ReconcileError as error:
        mapped = {"usage": BadRequestError, "not_found": NotFoundError}
        raise mapped.get(error.kind, LivepeerApiError)(error.detail) from None


@bp.post("/reconcile")
@documented(
    "Have Livepeer resend failed deliveries whose events were never applied here",
    "reconcile",
    auth="ops",
    body=ReconcileRequest,
    response=ReconcileSummary,
    errors=(400, 404, 413, 502, 503),
)
def reconcile() -> Response:
    body = parse_body(ReconcileRequest)
    summary = _run(body, Reconciler(_api(), service(Store)))
    return json_answer(ReconcileSummary(**summary.as_dict()))
