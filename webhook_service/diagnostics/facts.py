"""The facts each check decides on, gathered from Redis, the Livepeer API and the CDN.

Every field that could not be gathered is None, and the check skips the rows that need it
(DESIGN.md: a row whose facts are missing is skipped). `*_error` fields say why a source failed
("timeout", "HTTP 502", "not JSON", ...), for `evidence.reason`.
Times are milliseconds since the epoch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from webhook_service.livepeer.facts import (
    ApiSession,
    ApiStream,
    ApiWebhook,
    HttpResult,
    SigningKey,
    WebhookLogEntry,
)


@dataclass(frozen=True)
class LocalStream:
    """What this service's own records say about a stream (None when it never sent an event)."""

    id: str
    state: str  # "active" | "idle"
    playback_id: str | None
    record: bool | None
    playback_policy: str | None
    playback_policy_webhook_id: str | None
    last_started_at_ms: int | None
    last_idle_at_ms: int | None
    sessions: tuple[dict[str, Any], ...] = ()  # stored session dicts, newest first
    allowed_origins: tuple[str, ...] | None = None  # playbackPolicy.allowedOrigins delivered


@dataclass(frozen=True)
class RtmpFacts:
    stream_id: str | None  # None when diagnosing by key only
    local: LocalStream | None
    api_configured: bool
    api_stream: ApiStream | None = None
    api_not_found: bool = False  # the API answered 404 for the id or key
    api_error: str | None = None
    key_given: bool = False
    key_matches: bool | None = None  # None when no key was given or the API could not tell
    key_last4: str | None = None
    ingest_url: str | None = None
    ingest_hosts: tuple[str, ...] = ("rtmp.livepeer.com",)
    now_ms: int = 0
    account_suspended: bool = False  # the API answered 403 "user is suspended"


@dataclass(frozen=True)
class HlsFacts:
    stream_id: str
    now_ms: int
    first_segment_seconds: int
    live: bool | None  # API isActive when known, else the webhook state, else None
    live_source: str | None  # "api" | "webhooks"
    live_since_ms: int | None
    playback_id: str | None
    master: HttpResult | None = None  # the master playlist probe, None if not attempted
    rendition: HttpResult | None = None  # the first rendition playlist, if the master had one
    api_error: str | None = None
    live_stuck: bool = False  # the API says active, but media stopped (liveness.Liveness.stuck)
    account_suspended: bool = False


@dataclass(frozen=True)
class PlaybackFacts:
    stream_id: str
    now_ms: int
    playback_id: str | None
    policy: str | None  # None: unknown (no API key and no delivery carried it)
    policy_source: str | None  # "api" | "webhooks"
    jwt: str | None = None  # the viewer's token (header, body or URL); never in evidence
    signing_keys: tuple[SigningKey, ...] | None = None  # None: could not be listed
    webhook_id: str | None = None  # playbackPolicy.webhookId
    webhook: ApiWebhook | None = None
    webhook_missing: bool = False  # the API answered 404 for webhook_id
    public_url: str | None = None
    api_configured: bool = False
    api_error: str | None = None
    viewer: ViewerRequest | None = None  # what the failing viewer sent, when the operator gave it
    allowed_origins: tuple[str, ...] | None = None  # playbackPolicy.allowedOrigins
    # Why Livepeer's gate would answer 404 to every viewer, as far as the facts show.
    stream_deleted: bool = False  # the API shows it deleted, or 404 for a stream seen here
    stream_suspended: bool = False
    account_suspended: bool = False


@dataclass(frozen=True)
class ViewerRequest:
    """The failing viewer's request, as the operator gave it (never a token: see `jwt`)."""

    url_given: bool = False  # the exact URL the player requested was given
    url_path: str | None = None  # its path (it may appear in evidence; its query may not)
    access_key_given: bool = False  # an access key in the URL's query or the body
    origin: str | None = None  # the page's origin (the gate reads Origin, else Referer)


@dataclass(frozen=True)
class TimelineFacts:
    """The stream's timeline as the recording check needs it."""

    last_started_at_ms: int | None
    last_idle_at_ms: int | None  # newest stream.idle
    recording_ready: dict[str, dict[str, Any]] = field(default_factory=dict)
    # session id -> {"recording_url", "mp4_url", "at"} from recording.ready
    recording_waiting: frozenset[str] = frozenset()  # session ids with recording.waiting
    failed_sessions: dict[str, str] = field(default_factory=dict)
    # session id -> event name ("asset.failed"/"task.failed") whose asset id is the session id
    deleted_sessions: frozenset[str] = frozenset()  # session ids whose asset.deleted arrived


@dataclass(frozen=True)
class RecordingFacts:
    stream_id: str
    now_ms: int
    ready_timeout_seconds: int
    record: bool | None  # the stream's current flag: API wins over webhooks
    live: bool | None
    latest_session_id: str | None  # by createdAt, from the API or the stored sessions
    latest_session_created_ms: int | None
    api_session: ApiSession | None  # the latest session as the API describes it
    stored_session: dict[str, Any] | None  # the latest session as deliveries described it
    timeline: TimelineFacts
    api_configured: bool = False
    api_error: str | None = None
    live_stuck: bool = False  # the API says active, but media stopped (liveness.Liveness.stuck)
    last_seen_ms: int | None = None  # the API stream's lastSeen
    account_suspended: bool = False


@dataclass(frozen=True)
class RejectionStats:
    """Rejected deliveries by reason over the last hour, from Redis."""

    counts: dict[str, int]  # reason -> count in the window
    last_at_ms: dict[str, int]  # reason -> newest rejection time
    last_accepted_at_ms: int | None


@dataclass(frozen=True)
class WebhooksFacts:
    now_ms: int
    silent_seconds: int
    public_url: str | None
    public_url_addresses: tuple[str, ...] | None  # DNS answers for PUBLIC_URL's host
    public_url_error: str | None
    rejections: RejectionStats | None
    webhook: ApiWebhook | None  # ours, matched by PUBLIC_URL or id
    webhook_lookup_error: str | None = None
    recent_log: tuple[WebhookLogEntry, ...] | None = None
    api_configured: bool = False
    # Failed deliveries in recent_log whose event ids were never applied here (None: unknown),
    # and the oldest one's createdAt: where `livepeer-webhooks reconcile --since` should start.
    missing_from_log: int | None = None
    missing_since_ms: int | None = None
    account_suspended: bool = False  # the API answered 403 "user is suspended"
