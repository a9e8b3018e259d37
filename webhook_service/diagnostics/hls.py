"""The `hls` check: why the HLS manifest is empty or refused (pure: facts in, Verdict out)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import m3u8

from webhook_service.diagnostics.facts import HlsFacts
from webhook_service.diagnostics.verdict import (
    ACCOUNT_SUSPENDED_FIX,
    ACCOUNT_SUSPENDED_REASON,
    STUCK_NOTE,
    Status,
    Verdict,
    unknown,
)
from webhook_service.livepeer.facts import HttpResult
from webhook_service.urls import redact_url

# An #EXT-X-ERROR naming one of these is the edge's access-control denial, not an offline stream.
ACCESS_WORDS = ("access control", "unauthorised", "unauthorized", "denied", "forbidden")
EXCERPT_LINES = 5
MAX_LINE = 200
LEADING_JUNK = "\ufeff \t\r\n"  # a BOM or blank lines before #EXTM3U are tolerated
LIVE_SOURCES = {"api": "Livepeer's API", "webhooks": "this service's webhook events"}

# code suffix -> (status, cause, fix), formatted with the values of `_verdict`.
ROWS: dict[str, tuple[Status, str, str]] = {
    "stream_idle": (
        "warn",
        "According to {live_source}, stream '{stream}' is not live: there is nothing to play, "
        "whatever the CDN answers.",
        "Start the encoder (run the rtmp check if pushes fail); the playlist fills within about "
        "10 s of the stream going live.",
    ),
    "not_found": (
        "fail",
        "The CDN answers 404 for the {probe} playlist of playback id '{playback_id}'.",
        "Check that the player uses the stream's playbackId from GET /stream/{stream} (not the "
        "stream id or key); a deleted stream's playback id also answers 404.",
    ),
    "access_denied": (
        "fail",
        "The CDN refuses the {probe} playlist ({detail}): the stream's playback policy denies "
        "this request.",
        "Run the playback check (with the viewer's token in the Livepeer-Jwt header) to see why "
        "access control denies the viewer.",
    ),
    "not_a_playlist": (
        "fail",
        "The CDN answered HTTP {status} for the {probe} playlist, but the body is not an HLS "
        "playlist ({detail}).",
        "Fetch {url} with curl -v and read the body: a proxy or error page is answering in "
        "place of the CDN; if it is Livepeer's, send the evidence to Livepeer support.",
    ),
    "stream_offline": (
        "fail",
        "Stream '{stream}' is live according to {live_source}, but the CDN answers '{detail}' "
        "for the {probe} playlist.",
        "Probe again in 10-20 s (the stream may be moving region); if it persists, check "
        "isHealthy and issues in GET /stream/{stream} and restart the encoder.",
    ),
    "first_segment_pending": (
        "warn",
        "The stream went live {seconds} s ago and the {probe} playlist has no segments yet; "
        "the first one normally appears within {threshold} s.",
        "Wait 5-10 s and run the check again; still no segments then means transcoding "
        "produces no output.",
    ),
    "no_segments": (
        "fail",
        "The stream has been live for {seconds} s (the limit is {threshold} s) and the {probe} "
        "playlist still has no segments: transcoding is not producing output.",
        "Check the encoder sends H.264 video with a keyframe at least every 2 s, look at "
        "issues in GET /stream/{stream}, then restart the encoder.",
    ),
    "ok": (
        "ok",
        "The {probe} playlist has {segments} media segment(s): the CDN serves the stream.",
        "Nothing to fix on the CDN side; if a viewer still fails, run the playback check and "
        "read the player's own error.",
    ),
    "unreachable": (
        "unknown",
        "The CDN could not be reached for the {probe} playlist ({detail}).",
        "Check DNS and outbound HTTPS from this host to the playback host (curl -v {url}), "
        "then run the check again.",
    ),
}


@dataclass(frozen=True)
class _Probe:
    """One playlist fetch, read as text but not yet parsed."""

    name: str  # "master" | "rendition"
    result: HttpResult
    text: str  # the body without a leading BOM or whitespace
    error_line: str | None  # the first #EXT-X-ERROR line, if any

    @property
    def is_playlist(self) -> bool:
        return self.text.startswith("#EXTM3U")


def diagnose_hls(facts: HlsFacts) -> Verdict:
    """Answer with the first hls row of DESIGN.md whose condition holds on `facts`."""
    ev = _base_evidence(facts)
    if facts.account_suspended:
        return unknown("hls", ACCOUNT_SUSPENDED_REASON, ACCOUNT_SUSPENDED_FIX, **ev)
    if facts.live is False:
        if facts.master is not None:
            ev["master_status"] = facts.master.status
        return _verdict(facts, "stream_idle", ev)
    if facts.master is None:
        return unknown("hls", _not_probed(facts), _UNKNOWN_FIX, **ev)
    fetched = _fetched_playlist(facts, "master", facts.master, ev)
    if isinstance(fetched, Verdict):
        return fetched
    playlist, probe = fetched
    if playlist.is_variant:
        ev["renditions"] = len(playlist.playlists)
        if facts.rendition is None:
            reason = "the master playlist lists renditions, but none was fetched"
            return unknown("hls", reason, _UNKNOWN_FIX, **ev)
        fetched = _fetched_playlist(facts, "rendition", facts.rendition, ev)
        if isinstance(fetched, Verdict):
            return fetched
        playlist, probe = fetched
        if playlist.is_variant:
            reason = "the rendition playlist is another master playlist"
            return unknown("hls", reason, _UNKNOWN_FIX, **ev)
    ev["segments"] = segments = len(playlist.segments)
    if segments > 0:
        return _verdict(facts, "ok", ev, probe)
    seconds = ev.get("seconds_since_live")
    if facts.live and seconds is not None:
        row = "first_segment_pending" if seconds < facts.first_segment_seconds else "no_segments"
        return _verdict(facts, row, ev, probe)
    if facts.live is None:
        reason = "the playlist has no segments, and whether the stream is live is unknown"
    else:
        reason = "the playlist has no segments, and when the stream went live is unknown"
    return unknown("hls", reason, _UNKNOWN_FIX, **ev)


def _not_probed(facts: HlsFacts) -> str:
    """Why the CDN was not asked: no playback id (and why), or no probe was made."""
    if facts.playback_id is not None:
        return "the CDN was not probed"
    reason = "the stream's playback id is unknown"
    if facts.api_error is not None:
        reason += f" (the Livepeer API failed: {facts.api_error})"
    return reason


_UNKNOWN_FIX = (
    "Fetch the playlist with curl -v and check the stream with GET /stream/<id> "
    "(isActive, playbackId); set LIVEPEER_API_KEY if it is missing, then run the check again."
)


def _fetched_playlist(
    facts: HlsFacts, name: str, result: HttpResult, ev: dict[str, Any]
) -> tuple[Any, _Probe] | Verdict:
    """The parsed playlist (an m3u8.M3U8) and its probe, or the Verdict the answer decides."""
    probe = _read(name, result)
    ev.update(_probe_evidence(probe))
    early = _judge_fetch(facts, probe, ev)
    if early is not None:
        return early
    playlist, problem = _parse(probe)
    if playlist is None:
        return _verdict(facts, "not_a_playlist", ev, probe, detail=problem)
    return playlist, probe


def _judge_fetch(facts: HlsFacts, probe: _Probe, ev: dict[str, Any]) -> Verdict | None:
    """The rows decided by one fetch's status and first lines, before any parsing."""
    result = probe.result
    if result.error is not None or result.status is None:
        return _verdict(facts, "unreachable", ev, probe, detail=result.error or "no answer")
    status = result.status
    if status == 404:
        return _verdict(facts, "not_found", ev, probe)
    ok_status = 200 <= status < 300
    error = probe.error_line
    if status in (401, 403):
        return _verdict(facts, "access_denied", ev, probe, detail=f"HTTP {status}")
    if ok_status and error is not None and any(w in error.lower() for w in ACCESS_WORDS):
        return _verdict(facts, "access_denied", ev, probe, detail=error)
    if not ok_status:
        reason = f"the CDN answered HTTP {status} for the {probe.name} playlist"
        return unknown("hls", reason, _UNKNOWN_FIX, **ev)
    if not probe.is_playlist:
        return _verdict(facts, "not_a_playlist", ev, probe, detail="it does not start with #EXTM3U")
    if error is not None:
        if facts.live:
            return _verdict(facts, "stream_offline", ev, probe, detail=error)
        reason = f"the CDN answers '{error}', and whether the stream is live is unknown"
        return unknown("hls", reason, _UNKNOWN_FIX, **ev)
    return None


def _read(name: str, result: HttpResult) -> _Probe:
    """Split off what can be judged without parsing: the start of the body, an error line."""
    text = (result.body or "").lstrip(LEADING_JUNK)
    error_line = next(
        (
            line.strip()[:MAX_LINE]
            for line in text.splitlines()
            if line.strip().upper().startswith("#EXT-X-ERROR")
        ),
        None,
    )
    return _Probe(name, result, text, error_line)


def _parse(probe: _Probe) -> tuple[Any, str]:
    """The parsed playlist, or None and why not; m3u8 raises assorted errors on hostile input."""
    try:
        return m3u8.loads(probe.text), ""
    # m3u8 raises ValueError, IndexError, AttributeError... on hostile text: all mean "unusable".
    except Exception as exc:
        return None, f"it starts with #EXTM3U but does not parse ({type(exc).__name__})"


def _probe_evidence(probe: _Probe) -> dict[str, Any]:
    """A fetch as evidence: status, URL without query, the first lines or the error line."""
    result, name = probe.result, probe.name
    ev: dict[str, Any] = {f"{name}_status": result.status, f"{name}_url": _strip_query(result.url)}
    if result.error is not None:
        ev[f"{name}_error"] = result.error
    if result.redirects:
        ev[f"{name}_redirects"] = result.redirects
    if probe.error_line is not None:
        ev["ext_x_error"] = probe.error_line
    elif probe.text:
        lines = probe.text.splitlines()[:EXCERPT_LINES]
        ev[f"{name}_excerpt"] = [_strip_query(line)[:MAX_LINE] for line in lines]
    return ev


def _strip_query(text: str) -> str:
    """A URL or a playlist line without its query string (it may carry a viewer's token)."""
    if text.startswith("#"):
        return text.split("?", 1)[0] + ("?<redacted>" if "?" in text else "")
    return redact_url(text)


def _base_evidence(facts: HlsFacts) -> dict[str, Any]:
    """The liveness facts every hls verdict shows, with who decided them."""
    ev: dict[str, Any] = {
        "stream_id": facts.stream_id,
        "playback_id": facts.playback_id,
        "live": facts.live,
        "live_source": facts.live_source,
        "first_segment_seconds": facts.first_segment_seconds,
    }
    if facts.live_since_ms is not None and facts.live is not False:
        ev["seconds_since_live"] = round((facts.now_ms - facts.live_since_ms) / 1000, 1)
    if facts.api_error is not None:
        ev["api_error"] = facts.api_error
    if facts.live_stuck:
        ev["live_note"] = STUCK_NOTE
    return ev


def _verdict(
    facts: HlsFacts, row: str, ev: dict[str, Any], probe: _Probe | None = None, detail: str = ""
) -> Verdict:
    """The verdict of one row, its cause and fix filled in from the facts."""
    status, cause, fix = ROWS[row]
    if probe is not None:
        ev = {**ev, "probe": probe.name}
    values = {
        "stream": facts.stream_id,
        "playback_id": facts.playback_id,
        "live_source": LIVE_SOURCES.get(facts.live_source or "", "this service's records"),
        "probe": probe.name if probe is not None else "master",
        "status": probe.result.status if probe is not None else None,
        "url": _strip_query(probe.result.url) if probe is not None else "the playlist URL",
        "detail": detail,
        "seconds": ev.get("seconds_since_live"),
        "threshold": facts.first_segment_seconds,
        "segments": ev.get("segments"),
    }
    if row == "unreachable":
        ev = {**ev, "reason": detail}
    return Verdict("hls", status, f"hls.{row}", cause.format(**values), fix.format(**values), ev)
