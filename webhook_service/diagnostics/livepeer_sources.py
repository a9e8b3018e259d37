"""The Livepeer behaviour each verdict rests on, so a reader can check the reasoning (pure).

Paths are in livepeer/studio, packages/api/src unless named otherwise; "observed" marks what
LIVEPEER.md records from Livepeer's services without a source file to point at.
"""

from __future__ import annotations

GATE = "controllers/access-control.ts, the /gate route"
RECORDING = "controllers/stream.ts, getRecordingFields"
PROCESSING = "controllers/stream.ts, triggerSessionRecordingProcessing"
CANNON = "webhooks/cannon.ts"

RESTS_ON: dict[str, str] = {
    "rtmp.account_suspended": (
        'middleware/auth.ts, authorizer: 403 "user is suspended" for every call; '
        "controllers/stream.ts, PUT /:id/setactive refuses a suspended user's stream"
    ),
    "rtmp.stream_not_found": (
        "controllers/stream.ts, GET /:id and GET /key/:streamKey answer 404; POST /hook "
        "refuses a push to an unknown stream"
    ),
    "rtmp.stream_deleted": (
        "controllers/stream.ts, GET /:id hides a deleted stream (404); GET /:id/config refuses "
        "deleted or suspended streams"
    ),
    "rtmp.stream_suspended": 'controllers/stream.ts, POST /hook: 403 "stream is suspended"',
    "rtmp.key_mismatch": "controllers/stream.ts, POST /hook: the push path names the stream key",
    "rtmp.ingest_url_invalid": (
        'controllers/stream.ts, POST /hook: "ingest url must start with /live/", "RTMP address '
        'should be rtmp://example.com/live"'
    ),
    "rtmp.receiving": "controllers/stream.ts, ACTIVE_TIMEOUT and shouldCleanUpIsActive (90 s)",
    "rtmp.ready": "controllers/stream.ts, GET /:id (the stream exists and is not suspended)",
    "rtmp.no_api_key": "needs the Livepeer API (LIVEPEER_API_KEY) to look the stream up",
    "hls.stream_idle": "controllers/stream.ts, ACTIVE_TIMEOUT: a stream idle or without media",
    "hls.not_found": f'{GATE}: a missing or deleted stream answers 404 "Content not found"',
    "hls.access_denied": (
        f"{GATE} (403); observed: a denied viewer's manifest carries #EXT-X-ERROR and its "
        'segments answer 401 "access control denied"'
    ),
    "hls.not_a_playlist": "RFC 8216: a playlist starts with #EXTM3U (observed: HTML error pages)",
    "hls.stream_offline": (
        'observed: an offline stream\'s manifest is "#EXT-X-ERROR: Stream open failed"'
    ),
    "hls.first_segment_pending": "observed: the first segment appears 5-10 s after media arrives",
    "hls.no_segments": "observed: no segments long after going live means no transcoded output",
    "hls.ok": "RFC 8216: a media playlist lists its segments",
    "hls.unreachable": "the CDN (livepeercdn.studio, 307 to a regional node) did not answer",
    "playback.content_unavailable": (
        f"{GATE}: `!content || content.deleted` and `user.suspended || content.suspended || "
        'user.disabled` throw NotFoundError("Content not found") before any policy rule'
    ),
    "playback.no_api_key": "needs the stream's playbackPolicy (the API, or a delivery)",
    "playback.origin_not_allowed": (
        f"{GATE}: Origin (Referer when null or empty) is decodeURIComponent-ed and loses one "
        'trailing slash, then must be in playbackPolicy.allowedOrigins unless it holds "*", '
        "for every policy type"
    ),
    "playback.origin_restricted": f"{GATE}: the same allowedOrigins rule, public policy included",
    "playback.public": f'{GATE}: case "public" allows; the account\'s viewer limit still applies',
    "playback.jwt_required": f'{GATE}: case "jwt" without `pub` -> 403 "requires a public key"',
    "playback.jwt_malformed": "the edge verifies an ES256 JWT (observed; LIVEPEER.md)",
    "playback.jwt_expired": "the edge refuses an exp in the past or more than 7 days ahead",
    "playback.jwt_wrong_playback_id": "the edge requires `sub` to be the playback id",
    "playback.jwt_bad_signature": "the edge verifies the token with its own `pub` key",
    "playback.jwt_key_disabled": (
        f'{GATE}: `signingKey.disabled || signingKey.deleted` -> 403 "The public key is '
        'disabled or deleted"; controllers/signing-key.ts lists `disabled`'
    ),
    "playback.jwt_unknown_key": (
        f"{GATE}: the key is found across the account (`db.signingKey.find` by publicKey) and "
        "must share the content's owner; controllers/signing-key.ts, GET / lists the project's "
        "keys only, deleted ones omitted"
    ),
    "playback.jwt_valid": f'{GATE}: case "jwt" allows an enabled key of the content\'s owner',
    "playback.access_key_missing": (
        f'{GATE}: case "webhook": `!req.body.accessKey || req.body.type !== "accessKey"` -> 403, '
        "before the webhook is looked up"
    ),
    "playback.webhook_missing": (
        f'{GATE}: case "webhook": no webhook -> 500 "corresponding webhook not found"'
    ),
    "playback.webhook_points_here": (
        f"{GATE}, fireGateWebhook: the body has no id, event or createdAt, which this receiver "
        "refuses"
    ),
    "playback.webhook_failing": (
        f"{GATE}, fireGateWebhook and {CANNON}, storeTriggerStatus (lastFailure is never "
        "cleared: failing now when it equals lastTriggeredAt)"
    ),
    "playback.webhook_ok": f"{GATE}, fireGateWebhook: any 2xx allows unless its body has `ret`",
    "recording.not_enabled": (
        f"controllers/stream.ts: a session copies `record` when it begins; {RECORDING} returns "
        f"nothing when `!session.record`; {PROCESSING} skips it"
    ),
    "recording.no_sessions": "controllers/session.ts, GET /?parentId: no session",
    "recording.still_live": (
        f"{PROCESSING} runs when the stream goes idle (setStreamActiveWithHooks)"
    ),
    "recording.deleted": f'{RECORDING}: asset phase deleting/deleted -> recordingStatus "deleted"',
    "recording.ready": f"{CANNON}: recording.ready with recordingUrl and mp4Url; {RECORDING}",
    "recording.failed": f"{RECORDING}: asset phase failed; {CANNON}: asset.failed, task.failed",
    "recording.no_media": "controllers/stream.ts: a session without source segments has no media",
    "recording.not_idle": (
        "controllers/stream.ts, ACTIVE_TIMEOUT and shouldCleanUpIsActive: the clean-up job closes "
        f"a stream whose lastSeen is over 90 s old; {PROCESSING} runs after"
    ),
    "recording.skipped": (
        f"controllers/stream.ts, isStreamStale (STALE_SESSION_TIMEOUT, 3 h): {PROCESSING} skips "
        f'a stale session; {RECORDING} reports "none"'
    ),
    "recording.overdue": (
        f"{CANNON}, handleRecordingWaitingChecks; recording.ready normally within minutes"
    ),
    "recording.processing": (
        "controllers/stream.ts, publishDelayedRecordingWaitingHook: recording.waiting carries "
        'recordingStatus "ready" before the recording exists'
    ),
    "webhooks.account_suspended": (
        f"{CANNON}, processWebhookEvent: a suspended user's events are dropped; "
        'middleware/auth.ts: 403 "user is suspended"'
    ),
    "webhooks.url_not_public": f"{CANNON}, _fireHook and checkIsLocalIp: local URLs are skipped",
    "webhooks.not_registered": (
        f"{CANNON}, processWebhookEvent: db.webhook.listSubscribed(userId, event, projectId, "
        "defaultProjectId): only the stream's project's webhooks"
    ),
    "webhooks.redirected": (
        f"{CANNON}, _fireHook: fetchWithTimeout (node-fetch v2) follows a 301/302/303 with a GET; "
        "storeResponse records response.redirected; a 4xx is never retried"
    ),
    "webhooks.delivery_failing": (
        f"{CANNON}, storeTriggerStatus (status.lastFailure) and storeResponse (the log)"
    ),
    "webhooks.unsigned_deliveries": (
        f"{CANNON}, signatureHeaders: no sharedSecret, no Livepeer-Signature header"
    ),
    "webhooks.signature_mismatch": f"{CANNON}, signatureHeaders and sign: HMAC-SHA256 of the body",
    "webhooks.clock_skew": f"{CANNON}, _fireHook: `timestamp` and the header's t are the send time",
    "webhooks.not_subscribed": "controllers/webhook.ts: a webhook receives only its `events`",
    "webhooks.silent": f"{CANNON}: no event reached this receiver for WEBHOOK_SILENT_SECONDS",
    "webhooks.ok": f"{CANNON}: deliveries arrive and verify",
    "ai.multipart_required": (
        "controllers/generate.ts, registerGenerateHandler (multipart for file inputs); "
        "schema/ai-api-schema.yaml"
    ),
    "ai.dimensions_not_integer": "schema/ai-api-schema.yaml: width and height are integers (422)",
    "ai.model_id_format": "livepeer/docs, AI troubleshooting: model_id is a Hugging Face id",
    "ai.validation": "schema/ai-api-schema.yaml: the gateway's 422 {detail: [{loc, msg, type}]}",
    "ai.cold_model": "livepeer/docs, AI troubleshooting: 503 while a model loads; the retry plan",
    "ai.generate_failed": (
        "controllers/generate.ts, proxyGenerate: a gateway status >= 500 becomes 500 "
        '{"errors": ["Failed to generate <type>"]} for non-admins'
    ),
    "ai.gateway_error": "controllers/generate.ts, proxyGenerate passes other statuses on",
    "ai.ok": "the gateway answered 2xx",
}
