"""The `rtmp` check: why would Livepeer refuse this encoder's push (pure: facts in, Verdict out)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from webhook_service.diagnostics.facts import RtmpFacts
from webhook_service.diagnostics.liveness import liveness
from webhook_service.diagnostics.verdict import Status, Verdict, unknown
from webhook_service.urls import UNPARSEABLE, redact_url

INGEST_SCHEMES = ("rtmp", "rtmps")
LIVE_APP = "live"
# Every path segment but `live` may be a stream key, so evidence shows only this in its place.
REDACTED = "<redacted>"

# code suffix -> (status, cause, fix); `{stream}` is the stream id or "the stream with this key".
ROWS: dict[str, tuple[Status, str, str]] = {
    "account_suspended": (
        "fail",
        'The Livepeer account of LIVEPEER_API_KEY is suspended (the API answers 403 "user is '
        "suspended\"): Livepeer's edge still accepts the push, but the stream never goes live, "
        "no webhook is sent and viewers are denied.",
        "Contact Livepeer support about the suspension; nothing in the encoder or this "
        "service can fix it.",
    ),
    "stream_not_found": (
        "fail",
        "The Livepeer API knows no stream {stream}, and this service never received an event "
        "for it: Livepeer refuses pushes to an unknown stream or key.",
        "Copy the stream key (and id) again from Livepeer Studio in the project of "
        "LIVEPEER_API_KEY, or create a stream there and put its key in the encoder.",
    ),
    "stream_deleted": (
        "fail",
        "{deleted_cause} Livepeer refuses pushes to a deleted stream's key.",
        "Check in Livepeer Studio that the stream exists in the project LIVEPEER_API_KEY "
        "belongs to; if it was deleted, create a new stream and put its key in the encoder.",
    ),
    "stream_suspended": (
        "fail",
        "Stream {stream} is suspended: Livepeer refuses its pushes and denies its viewers.",
        "Unsuspend the stream in Livepeer Studio (or with PATCH /stream/{{id}} "
        '{{"suspended": false}}), or contact Livepeer support if the account was suspended.',
    ),
    "key_mismatch": (
        "fail",
        "The encoder's stream key is not the key of stream {stream}: Livepeer refuses the push.",
        "Copy the stream key from Livepeer Studio (stream page, 'Stream key') into the "
        "encoder's stream key field, then restart the stream.",
    ),
    "ingest_url_invalid": (
        "fail",
        "The encoder's server URL is not a Livepeer RTMP ingest URL: {problem}.",
        "Set the encoder's server to rtmp://{host}/live and put only the stream key in its "
        "separate key field.",
    ),
    "receiving": (
        "ok",
        "Stream {stream} is live now (according to {live_source}): ingest works.",
        "Nothing to fix at ingest; if viewers see nothing, run the hls and playback checks.",
    ),
    "ready": (
        "ok",
        "Stream {stream} exists, is not suspended{key_note}: a push to it would be accepted.",
        "Start the encoder with server rtmp://{host}/live and the stream key; if the push "
        "still fails, check that the encoder's network allows outgoing TCP to {host}:1935.",
    ),
    "no_api_key": (
        "unknown",
        "The stream is not live, and without LIVEPEER_API_KEY this service cannot look up "
        "whether it exists, is suspended, or what its key is.",
        "Set LIVEPEER_API_KEY (a Livepeer Studio API key of the stream's project) and run "
        "the rtmp check again.",
    ),
}


def diagnose_rtmp(facts: RtmpFacts) -> Verdict:
    """Answer with the first rtmp row of DESIGN.md whose condition holds on `facts`."""
    api = facts.api_stream
    live = liveness(facts.api_stream, facts.local, facts.now_ms)
    url_problem = None
    if facts.ingest_url is not None:
        url_problem = check_ingest_url(
            facts.ingest_url, facts.ingest_hosts, key_in_separate_field=facts.key_given
        )
    ev = _evidence(facts, live.live, live.source, url_problem)
    if live.stuck:
        ev["api_last_seen_seconds_ago"] = (facts.now_ms - (live.last_seen_ms or 0)) // 1000
    if facts.account_suspended:
        return _verdict(facts, "account_suspended", ev)
    if facts.api_not_found and facts.local is None:
        return _verdict(facts, "stream_not_found", ev)
    if (api is not None and api.deleted) or (facts.api_not_found and facts.local is not None):
        return _verdict(facts, "stream_deleted", ev)
    if api is not None and api.suspended:
        return _verdict(facts, "stream_suspended", ev)
    if facts.key_matches is False:
        return _verdict(facts, "key_mismatch", ev)
    if url_problem is not None:
        return _verdict(facts, "ingest_url_invalid", ev, problem=url_problem)
    if live.live:
        return _verdict(facts, "receiving", ev)
    if api is not None and (not facts.key_given or facts.key_matches):
        return _verdict(facts, "ready", ev)
    if not facts.api_configured:
        return _verdict(facts, "no_api_key", ev)
    return _unknown(facts, ev)


def _unknown(facts: RtmpFacts, ev: dict[str, Any]) -> Verdict:
    """`rtmp.unknown`: the API failed, or could not compare the key."""
    if facts.api_error is not None:
        reason = f"the Livepeer API failed ({facts.api_error})"
    elif facts.api_stream is not None:  # only when a key was given that could not be compared
        reason = "the stream key could not be compared with the stream's key"
    else:
        reason = "the Livepeer API returned no stream"
    fix = (
        "Check that this host can reach LIVEPEER_API_URL and that LIVEPEER_API_KEY is valid "
        "(curl -H 'Authorization: Bearer ...' $LIVEPEER_API_URL/stream/<id>), then run again."
    )
    return unknown("rtmp", reason, fix, **ev)


def check_ingest_url(
    url: str, hosts: tuple[str, ...], *, key_in_separate_field: bool = False
) -> str | None:
    """The problem with an encoder's RTMP server URL, or None when Livepeer would accept it.

    Livepeer accepts pushes to `/live/<key>` only. Encoders like OBS take a server URL
    (`rtmp://rtmp.livepeer.com/live`) and the key in a separate field, and push to
    `<server>/<key>`; ffmpeg takes the full `/live/<key>` URL. So `/live/<x>` is valid only
    as a full push URL: when the key field is also set (`key_in_separate_field`), the push goes
    to `/live/<x>/<key>`, which embeds the key twice whatever `<x>` is. `/live/<a>/<a>` is a
    key embedded twice already. The problem never echoes the path: it may hold the key.
    """
    text = url.strip() if isinstance(url, str) else ""
    if not text:
        return "the server URL is empty"
    try:
        parts = urlsplit(text)
        host = (parts.hostname or "").rstrip(".")
        _ = parts.port  # urlsplit validates the port only when it is read
    except ValueError:
        return "the server URL cannot be parsed"
    scheme = parts.scheme.lower()
    if scheme not in INGEST_SCHEMES:
        shown = f"'{scheme[:16]}'" if scheme else "missing"
        return f"the scheme is {shown}, not rtmp:// or rtmps://"
    if not host:
        return "the server URL has no host"
    if host not in {h.strip().lower().rstrip(".") for h in hosts}:
        expected = ", ".join(hosts) or "none configured"
        return f"the host '{host[:253]}' is not a Livepeer RTMP ingest host ({expected})"
    path = parts.path[:-1] if parts.path.endswith("/") else parts.path
    segments = path.split("/")[1:]  # a path always starts with "/" after a host
    if not segments or segments[0] != LIVE_APP or "" in segments:
        return "the path is not /live"
    if len(segments) == 1:
        return None
    if len(segments) == 3 and segments[1] == segments[2]:
        return "the URL embeds the stream key twice (/live/<key>/<key>)"
    if len(segments) == 2 and not key_in_separate_field:
        return None  # a full push URL, as ffmpeg takes it
    if len(segments) == 2:
        return (
            "the server URL already ends in a key after /live, and the encoder appends the "
            "stream key field to it, so it pushes to /live/<key>/<key>"
        )
    return "the path has more than /live/<key>"


def redact_ingest_url(url: str) -> str:
    """The URL as evidence may show it: no credentials or query, path segments but `live` hidden."""
    shown = redact_url(url, keep_path=False)
    if shown == UNPARSEABLE:
        return shown
    path = urlsplit(url.strip()).path  # it parses: redact_url just split it
    segments = [s if s == LIVE_APP else REDACTED for s in path.split("/")[1:] if s]
    return shown + "".join(f"/{s}" for s in segments)


def _evidence(
    facts: RtmpFacts, live: bool | None, live_source: str | None, url_problem: str | None
) -> dict[str, Any]:
    """The facts every rtmp verdict shows; the key itself never, only its last 4 characters."""
    api = facts.api_stream
    ev: dict[str, Any] = {
        "stream_id": facts.stream_id or (api.id if api is not None else None),
        "api_configured": facts.api_configured,
        "seen_by_webhooks": facts.local is not None,
        "live": live,
        "live_source": live_source,
        "key_given": facts.key_given,
    }
    if facts.local is not None:
        ev["webhook_state"] = facts.local.state
    if api is not None:
        ev.update(name=api.name, is_active=api.is_active, suspended=api.suspended)
        if api.deleted is not None:
            ev["deleted"] = api.deleted
    if facts.api_not_found:
        ev["api_status"] = 404
    if facts.api_error is not None:
        ev["api_error"] = facts.api_error
    if facts.key_given:
        ev.update(key_matches=facts.key_matches, key_last4=facts.key_last4)
    if facts.ingest_url is not None:
        ev["ingest_url"] = redact_ingest_url(facts.ingest_url)
        ev["ingest_url_problem"] = url_problem
    return ev


def _verdict(facts: RtmpFacts, row: str, ev: dict[str, Any], problem: str = "") -> Verdict:
    """The verdict of one row, its cause and fix filled in from the facts."""
    status, cause, fix = ROWS[row]
    stream_id = ev["stream_id"]
    stream = f"'{stream_id}'" if stream_id else "with this key"
    if facts.api_stream is not None and facts.api_stream.deleted:
        deleted = f"The Livepeer API shows stream {stream} as deleted."
    else:
        deleted = (
            f"The Livepeer API answers 404 for stream {stream}, which this service has received "
            "events of: it was deleted, or LIVEPEER_API_KEY belongs to another project (an API "
            "key of another project also gets 404)."
        )
    key_note = " and the key matches" if facts.key_matches else ""
    values = {
        "stream": stream,
        "deleted_cause": deleted,
        "problem": problem,
        "host": facts.ingest_hosts[0] if facts.ingest_hosts else "rtmp.livepeer.com",
        "live_source": "Livepeer's API" if ev["live_source"] == "api" else "webhook events",
        "key_note": key_note,
    }
    return Verdict("rtmp", status, f"rtmp.{row}", cause.format(**values), fix.format(**values), ev)
