"""The `playback` check: why Livepeer's access control denies a viewer (pure: facts in, Verdict).

It walks the gate's own order (access-control.ts, the `/gate` route): content and account,
allowed origins, then the policy type's rules. Rows and their texts: playback_rows.py.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import jwt

from webhook_service.diagnostics.facts import PlaybackFacts
from webhook_service.diagnostics.playback_rows import ROWS
from webhook_service.diagnostics.verdict import Verdict, unknown
from webhook_service.diagnostics.viewer_token import (
    ALGORITHM,
    MAX_TEXT,
    find_signing_key,
    read_token,
)
from webhook_service.times import iso_from_ms
from webhook_service.urls import redact_url, same_url

MAX_EXP_AHEAD_MS = 7 * 24 * 3600 * 1000  # the edge refuses an exp more than 7 days ahead
_UNKNOWN_FIX = (
    "Check the stream's playbackPolicy with GET /stream/<id> and that LIVEPEER_API_KEY works, "
    "then run the check again."
)


def diagnose_playback(facts: PlaybackFacts) -> Verdict:
    """Answer with the first playback row of DESIGN.md whose condition holds on `facts`."""
    ev = _evidence(facts)
    gone = _content_unavailable(facts)
    if gone is not None:
        return _verdict(facts, "content_unavailable", ev, problem=gone)
    policy = facts.policy.strip().lower() if facts.policy is not None else None
    if policy is None and not facts.api_configured:
        return _verdict(facts, "no_api_key", ev)
    if policy is None:
        reason = "neither the Livepeer API nor a delivery gave the stream's playback policy"
        if facts.api_error is not None:
            reason = f"the Livepeer API failed ({facts.api_error})"
        return unknown("playback", reason, _UNKNOWN_FIX, **ev)
    by_origin = _origin_rows(facts, policy, ev)
    if by_origin is not None:
        return by_origin
    if policy == "public":
        return _verdict(facts, "public", ev)
    if policy == "jwt":
        return _diagnose_jwt(facts, ev)
    if policy == "webhook":
        return _diagnose_webhook(facts, ev)
    reason = f"the playback policy type '{policy[:MAX_TEXT]}' is not one this check knows"
    return unknown("playback", reason, _UNKNOWN_FIX, **ev)


def _content_unavailable(facts: PlaybackFacts) -> str | None:
    """Why the gate refuses every viewer with 404 before any policy rule, or None."""
    if facts.account_suspended:
        return 'the Livepeer account is suspended (the API answers 403 "user is suspended")'
    if facts.stream_deleted:
        return (
            "the stream is deleted (or LIVEPEER_API_KEY belongs to another project: the API "
            "answers 404 for both)"
        )
    if facts.stream_suspended:
        return "the stream is suspended"
    return None


def viewer_origin(origin: str) -> str:
    """The viewer's Origin as the gate compares it: URL-decoded, one trailing `/` removed."""
    decoded = unquote(origin)
    return decoded[:-1] if decoded.endswith("/") else decoded


def _origin_rows(facts: PlaybackFacts, policy: str, ev: dict[str, Any]) -> Verdict | None:
    """allowedOrigins (without `*`) holds for every policy type, public included."""
    allowed = facts.allowed_origins or ()
    if not allowed or "*" in allowed:
        return None
    ev["allowed_origins"] = list(allowed[:20])
    slashed = [o for o in allowed if o.endswith("/")]
    if slashed:  # the gate strips the viewer's slash only: these match no viewer
        ev["allowed_origins_matching_no_viewer"] = slashed[:20]
    given = facts.viewer.origin if facts.viewer is not None else None
    if given in (None, "", "null"):
        if given is not None:  # the gate falls back to the Referer, which we were not given
            ev["origin_note"] = "Origin 'null' or empty: the gate compares the Referer instead"
        return _verdict(facts, "origin_restricted", ev) if policy == "public" else None
    compared = viewer_origin(given)
    if compared in allowed:
        return None
    return _verdict(facts, "origin_not_allowed", ev, problem=f"'{compared[:MAX_TEXT]}'")


def _diagnose_jwt(facts: PlaybackFacts, ev: dict[str, Any]) -> Verdict:
    """The jwt rows, in order, for a stream whose policy is `jwt`."""
    token = (facts.jwt or "").strip()
    ev["token_given"] = bool(token)
    if not token:
        return _verdict(facts, "jwt_required", ev)
    if len(token) >= 20:  # names the token; never most of a short one
        ev["token_last4"] = token[-4:]
    read = read_token(token)
    if isinstance(read, str):
        return _verdict(facts, "jwt_malformed", {**ev, "problem": read}, problem=read)
    ev.update(read.evidence)
    problem = _time_problem(read.exp, read.not_before, facts.now_ms, ev)
    if problem:
        return _verdict(facts, "jwt_expired", {**ev, "problem": problem}, problem=problem)
    if facts.playback_id is not None and read.sub != facts.playback_id:
        return _verdict(facts, "jwt_wrong_playback_id", ev)
    try:
        jwt.api_jws.decode_complete(token, key=read.key, algorithms=[ALGORITHM])
    except jwt.PyJWTError:
        return _verdict(facts, "jwt_bad_signature", ev)
    note = "" if facts.playback_id else " (sub not compared: the playback id is unknown)"
    if facts.signing_keys is None:
        note += " (pub not checked: the project's signing keys could not be listed)"
        return _verdict(facts, "jwt_valid", ev, problem=note)
    key, extra = find_signing_key(read, facts.signing_keys)
    ev.update(extra)
    if key is None:
        same = " (a key of this project is the same key, but its text differs)"
        return _verdict(
            facts, "jwt_unknown_key", ev, problem=same if extra.get("same_key_other_text") else ""
        )
    if key.disabled:
        return _verdict(facts, "jwt_key_disabled", ev)
    return _verdict(facts, "jwt_valid", ev, problem=note)


def _time_problem(exp: float, not_before: float | None, now: int, ev: dict[str, Any]) -> str:
    """What is wrong with the token's times at `now` (ms), or ""."""
    if exp * 1000 <= now:
        return f"it expired at {ev['exp']}"
    if exp * 1000 - now > MAX_EXP_AHEAD_MS:
        return f"its exp ({ev['exp'] or exp}) is more than 7 days ahead"
    if not_before is not None and not_before * 1000 > now:
        return "its iat or nbf is in the future (the signer's clock is ahead)"
    return ""


def _diagnose_webhook(facts: PlaybackFacts, ev: dict[str, Any]) -> Verdict:
    """The webhook rows, in order, for a stream whose policy is `webhook`."""
    ev["webhook_id"] = facts.webhook_id
    viewer = facts.viewer
    if viewer is not None and viewer.url_given and not viewer.access_key_given:
        return _verdict(facts, "access_key_missing", ev)
    # An API stream whose policy names no webhookId has no webhook to call: that is "missing".
    if facts.webhook_missing or (facts.webhook_id is None and facts.policy_source == "api"):
        return _verdict(facts, "webhook_missing", ev)
    hook = facts.webhook
    if hook is None:
        if not facts.api_configured:
            reason = "LIVEPEER_API_KEY is not set, so the access-control webhook cannot be read"
        else:
            reason = f"the access-control webhook could not be read ({facts.api_error or '-'})"
        fix = "Check GET /webhook/<webhookId> with LIVEPEER_API_KEY, then run the check again."
        return unknown("playback", reason, fix, **ev)
    ev.update(
        webhook_id=hook.id,
        webhook_url=_shown(hook.url),
        last_triggered_at=iso_from_ms(hook.last_triggered_at_ms),
        last_failure_at=iso_from_ms(hook.last_failure_at_ms),
        last_failure_status=hook.last_failure_status,
        last_failure_error=(hook.last_failure_error or "")[:MAX_TEXT] or None,
    )
    if facts.public_url is not None:
        ev["public_url"] = _shown(facts.public_url)
        if same_url(hook.url, facts.public_url):
            return _verdict(facts, "webhook_points_here", ev)
    failing_at = hook.last_failure_at_ms
    if failing_at is not None and failing_at == hook.last_triggered_at_ms:
        status = hook.last_failure_status
        answer = f"HTTP {status}" if status else ev["last_failure_error"] or "no answer"
        problem = f"last call at {ev['last_failure_at']}: {answer}"
        return _verdict(facts, "webhook_failing", ev, problem=problem)
    return _verdict(facts, "webhook_ok", ev)


def _evidence(facts: PlaybackFacts) -> dict[str, Any]:
    """The facts every playback verdict shows: never a token or an access key."""
    ev: dict[str, Any] = {
        "stream_id": facts.stream_id,
        "playback_id": facts.playback_id,
        "policy": facts.policy,
        "policy_source": facts.policy_source,
    }
    if facts.api_error is not None:
        ev["api_error"] = facts.api_error
    viewer = facts.viewer
    if viewer is not None:
        ev["viewer_url_path"] = (viewer.url_path or "")[: 2 * MAX_TEXT] or None
        ev["viewer_origin"] = (viewer.origin or "")[:MAX_TEXT] or None
        ev["access_key_given"] = viewer.access_key_given
    return ev


def _verdict(facts: PlaybackFacts, row: str, ev: dict[str, Any], problem: str = "") -> Verdict:
    """The verdict of one row, its cause and fix filled in from the facts."""
    status, cause, fix = ROWS[row]
    values = {
        "stream": facts.stream_id,
        "playback_id": facts.playback_id,
        "sub": ev.get("sub"),
        "exp": ev.get("exp"),
        "fingerprint": ev.get("key_fingerprint"),
        "webhook": f"'{ev['webhook_id']}'" if ev.get("webhook_id") else "(no webhookId set)",
        "url": ev.get("webhook_url"),
        "problem": problem,
    }
    return Verdict(
        "playback", status, f"playback.{row}", cause.format(**values), fix.format(**values), ev
    )


def _shown(url: str) -> str:
    """A URL as evidence shows it: no credentials or query string, which may hold tokens."""
    return redact_url(url, limit=2 * MAX_TEXT)
