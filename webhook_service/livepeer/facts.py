"""What the Livepeer API and CDN say, as typed facts (pure): the domain model every part shares.

`livepeer.shapes` builds these from Livepeer's JSON; diagnostics, reconcile and metrics read them.
Times are milliseconds since the epoch; a field that was absent or mistyped is None.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HttpResult:
    """One probe: final status and a bounded body, or the error that prevented an answer."""

    url: str  # final URL after redirects, with any query string removed
    status: int | None = None
    body: str | None = None  # at most ~64 KiB, decoded as UTF-8 with replacement
    content_type: str | None = None
    error: str | None = None  # "timeout", "connection refused", "redirect to a disallowed host"
    redirects: int = 0
    elapsed_ms: float = 0.0


@dataclass(frozen=True)
class ApiStream:
    """The fields of Livepeer's GET /stream/{id} the checks use (the stream key is not kept)."""

    id: str
    name: str | None = None
    playback_id: str | None = None
    is_active: bool | None = None
    suspended: bool | None = None
    deleted: bool | None = None
    record: bool | None = None
    playback_policy: str | None = None  # "public" | "jwt" | "webhook"
    playback_policy_webhook_id: str | None = None
    # playbackPolicy.allowedOrigins: None when absent; the gate checks the viewer's Origin
    allowed_origins: tuple[str, ...] | None = None
    last_seen_ms: int | None = None
    source_segments: int | None = None


@dataclass(frozen=True)
class ApiSession:
    """A session from GET /session?parentId=..., as the recording check uses it."""

    id: str
    created_at_ms: int | None = None
    last_seen_ms: int | None = None
    recording_status: str | None = None  # waiting | ready | failed | deleted | none
    recording_url: str | None = None
    mp4_url: str | None = None
    source_segments: int | None = None
    record: bool | None = None  # the stream's flag, copied when the session began


@dataclass(frozen=True)
class ApiWebhook:
    """A webhook from GET /webhook or /webhook/{id} (never its sharedSecret)."""

    id: str
    url: str
    events: tuple[str, ...] = ()
    last_triggered_at_ms: int | None = None
    last_failure_at_ms: int | None = None
    last_failure_status: int | None = None
    last_failure_error: str | None = None


@dataclass(frozen=True)
class WebhookLogEntry:
    """One row of GET /webhook/{id}/log."""

    id: str
    event: str | None
    created_at_ms: int | None
    success: bool | None
    response_status: int | None  # None on timeout or network error
    event_id: str | None = None  # the delivery's body `id`, when request.body parses
    stream_id: str | None = None  # body `stream.id`, else `payload.session.parentId`
    redirected: bool | None = None  # response.redirected: node-fetch followed a redirect
    # request.url: where this delivery went (the webhook's url when the row was written), and
    # where a resend of this row goes (cannon.ts storeResponse, resendWebhook)
    request_url: str | None = None
    response_body: str | None = None  # response.body, decoded: the receiver's first 1024 chars

    @property
    def failed(self) -> bool:
        """Whether this delivery failed: `success` false, or no 2xx answer at all.

        A row without a response status is a timeout or a network error: a failure
        (DESIGN.md). `success`, when Livepeer gives it, decides.
        """
        if self.success is not None:
            return self.success is False
        status = self.response_status
        return not (isinstance(status, int) and 200 <= status < 300)


@dataclass(frozen=True)
class SigningKey:
    """A signing key of the API key's project (GET /access-control/signing-key)."""

    public_key_b64: str  # base64 of the PEM, as Livepeer stores it and the JWT `pub` carries
    disabled: bool
    id: str | None = None


@dataclass(frozen=True)
class PlaybackInfo:
    """GET /playback/{id}: what the player would be told."""

    playback_id: str
    kind: str | None  # live | vod | recording
    live: bool | None
    playback_policy: str | None
    playback_policy_webhook_id: str | None
    hls_url: str | None
