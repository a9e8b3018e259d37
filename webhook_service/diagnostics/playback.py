"""The `playback` check: why Livepeer's access control denies a viewer (pure: facts in, Verdict)."""

from __future__ import annotations

from typing import Any

import jwt

from webhook_service.diagnostics.facts import PlaybackFacts
from webhook_service.diagnostics.verdict import Status, Verdict, unknown
from webhook_service.diagnostics.viewer_token import (
    ALGORITHM,
    MAX_TEXT,
    match_signing_key,
    read_token,
)
from webhook_service.times import iso_from_ms
from webhook_service.urls import redact_url, same_url

MAX_EXP_AHEAD_MS = 7 * 24 * 3600 * 1000  # the edge refuses an exp more than 7 days ahead

# code suffix -> (status, cause, fix), formatted with the values of `_verdict`.
_ROWS: dict[str, tuple[Status, str, str]] = {
    "no_api_key": (
        "unknown",
        "The playback policy is unknown: no LIVEPEER_API_KEY, and no delivery carried it.",
        "Set LIVEPEER_API_KEY (or wait for the stream's next delivery) and run the check again.",
    ),
    "public": (
        "ok",
        "Stream '{stream}' has no access control (policy public): a 403 comes from elsewhere.",
        "Look in front of the player (a proxy, your own CDN or signed URLs) and at the account's "
        "viewer limit; run the hls check.",
    ),
    "jwt_required": (
        "warn",
        "Stream '{stream}' plays only with a signed JWT, and no token was given to check.",
        "Run the check again with the viewer's token in the Livepeer-Jwt header.",
    ),
    "jwt_malformed": (
        "fail",
        "The token is not one Livepeer's edge accepts: {problem}.",
        "Sign an ES256 JWT with the signing key's private key and the claims sub (playback id), "
        "pub (the key's publicKey exactly as Livepeer shows it) and exp, e.g. with signAccessJwt.",
    ),
    "jwt_expired": (
        "fail",
        "The token is outside the time the edge accepts: {problem}.",
        "Issue tokens that expire at most 7 days ahead, from a server whose clock is right "
        "(check NTP), and refresh them before exp.",
    ),
    "jwt_wrong_playback_id": (
        "fail",
        "The token's sub is '{sub}', but the stream's playback id is '{playback_id}'.",
        "Sign the token with sub set to the stream's playbackId (GET /stream/{stream}).",
    ),
    "jwt_bad_signature": (
        "fail",
        "The token's signature does not verify with the key in its pub claim: it was signed "
        "with another private key, or altered.",
        "Sign with the private key of the signing key whose publicKey is in pub, and pass the "
        "token on unmodified.",
    ),
    "jwt_unknown_key": (
        "fail",
        "The token's pub key ({fingerprint}) is not an enabled signing key of the "
        "account{problem}: Livepeer denies it.",
        "Use a key listed by GET /access-control/signing-key (enable it if disabled) and copy "
        "its publicKey text exactly into pub.",
    ),
    "jwt_valid": (
        "ok",
        "The token verifies with its pub key, has sub '{sub}' and expires at {exp}{problem}.",
        "Nothing to fix in the token; check that the player sends it (jwt query parameter or "
        "Livepeer-Jwt header) and run the hls check.",
    ),
    "webhook_missing": (
        "fail",
        "The policy is webhook, but the access-control webhook {webhook} does not exist.",
        "Create a playback.accessControl webhook and PATCH /stream/{stream} with its id in "
        "playbackPolicy.webhookId, or make the policy public.",
    ),
    "webhook_points_here": (
        "fail",
        "The access-control webhook {webhook} calls this receiver ({url}), which cannot decide "
        "who may watch: every viewer is denied.",
        "Point the access-control webhook at your own service that answers "
        "playback.accessControl (2xx allows); keep this receiver for stream events.",
    ),
    "webhook_failing": (
        "fail",
        "The access-control webhook {webhook} is failing now ({problem}): viewers are denied.",
        "Make {url} answer 2xx within about 2 s (its logs show why it failed), then retry "
        "playback; Livepeer caches decisions for 120 s.",
    ),
    "webhook_ok": (
        "ok",
        "The access-control webhook {webhook} exists and is not failing: denials are its own.",
        "Read that service's logs for the viewer's playback.accessControl call: a non-2xx, a "
        'body like {{"ret": 403}} or an answer slower than ~2 s denies.',
    ),
}


def diagnose_playback(facts: PlaybackFacts) -> Verdict:
    """Answer with the first playback row of DESIGN.md whose condition holds on `facts`."""
    ev: dict[str, Any] = {
        "stream_id": facts.stream_id,
        "playback_id": facts.playback_id,
        "policy": facts.policy,
        "policy_source": facts.policy_source,
    }
    if facts.api_error is not None:
        ev["api_error"] = facts.api_error
    policy = facts.policy.strip().lower() if facts.policy is not None else None
    if policy is None and not facts.api_configured:
        return _verdict(facts, "no_api_key", ev)
    if policy is None:
        reason = "neither the Livepeer API nor a delivery gave the stream's playback policy"
        if facts.api_error is not None:
            reason = f"the Livepeer API failed ({facts.api_error})"
        return unknown("playback", reason, _UNKNOWN_FIX, **ev)
    if policy == "public":
        return _verdict(facts, "public", ev)
    if policy == "jwt":
        return _diagnose_jwt(facts, ev)
    if policy == "webhook":
        return _diagnose_webhook(facts, ev)
    reason = f"the playback policy type '{policy[:MAX_TEXT]}' is not one this check knows"
    return unknown("playback", reason, _UNKNOWN_FIX, **ev)


_UNKNOWN_FIX = (
    "Check the stream's playbackPolicy with GET /stream/<id> and that LIVEPEER_API_KEY works, "
    "then run the check again."
)


def _diagnose_jwt(facts: PlaybackFacts, ev: dict[str, Any]) -> Verdict:
    """The jwt rows, in order, for a stream whose policy is `jwt`."""
    token = (facts.jwt or "").strip()
    ev["token_given"] = bool(token)
    if not token:
        return _verdict(facts, "jwt_required", ev)
    read = read_token(token)
    if isinstance(read, str):
        return _verdict(facts, "jwt_malformed", {**ev, "problem": read}, problem=read)
    ev.update(read.evidence)
    now = facts.now_ms
    if read.exp * 1000 <= now:
        problem = f"it expired at {ev['exp']}"
    elif read.exp * 1000 - now > MAX_EXP_AHEAD_MS:
        problem = f"its exp ({ev['exp'] or read.exp}) is more than 7 days ahead"
    elif read.not_before is not None and read.not_before * 1000 > now:
        problem = "its iat or nbf is in the future (the signer's clock is ahead)"
    else:
        problem = ""
    if problem:
        return _verdict(facts, "jwt_expired", {**ev, "problem": problem}, problem=problem)
    if facts.playback_id is not None and read.sub != facts.playback_id:
        return _verdict(facts, "jwt_wrong_playback_id", ev)
    try:
        jwt.api_jws.decode_complete(token, key=read.key, algorithms=[ALGORITHM])
    except jwt.PyJWTError:
        return _verdict(facts, "jwt_bad_signature", ev)
    note = "" if facts.playback_id else " (sub not compared: the playback id is unknown)"
    if facts.signing_keys is not None:
        known, extra = match_signing_key(read, facts.signing_keys)
        ev.update(extra)
        if not known:
            if extra.get("key_disabled"):
                note = " (it is a disabled key)"
            elif extra.get("same_key_other_text"):
                note = " (an enabled key is the same key, but its text differs)"
            return _verdict(facts, "jwt_unknown_key", ev, problem=note)
    else:
        note += " (pub not checked: the account's signing keys could not be listed)"
    return _verdict(facts, "jwt_valid", ev, problem=note)


def _diagnose_webhook(facts: PlaybackFacts, ev: dict[str, Any]) -> Verdict:
    """The webhook rows, in order, for a stream whose policy is `webhook`."""
    ev["webhook_id"] = facts.webhook_id
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


def _verdict(facts: PlaybackFacts, row: str, ev: dict[str, Any], problem: str = "") -> Verdict:
    """The verdict of one row, its cause and fix filled in from the facts."""
    status, cause, fix = _ROWS[row]
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
