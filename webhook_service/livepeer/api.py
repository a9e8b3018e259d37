"""A small Livepeer Studio API client for live checks: bounded, never raising, never leaking keys.

Every method takes a `deadline` (a `time.monotonic()` value) and answers a result holding the
value, `not_found=True` (HTTP 404) or an `error` string; shapes are in LIVEPEER.md.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from webhook_service.config import Secret, Settings
from webhook_service.config.parse import redact_tokens
from webhook_service.livepeer.facts import (
    ApiSession,
    ApiWebhook,
    PlaybackInfo,
    SigningKey,
)
from webhook_service.livepeer.probe import Prober
from webhook_service.livepeer.replies import (
    SHAPE_ERROR,
    Reply,
    entries,
    livepeer_error,
    single,
    status_error,
)
from webhook_service.livepeer.results import (
    ApiResult,
    ResendResult,
    StreamResult,
    WebhookLogPage,
)
from webhook_service.livepeer.shapes import (
    ShapeError,
    parse_log_entry,
    parse_playback,
    parse_session,
    parse_signing_key,
    parse_stream,
    parse_webhook,
)
from webhook_service.urls import path_segment, same_url

T = TypeVar("T")

_NEXT_LINK = re.compile(r'<([^>]*)>\s*;\s*rel="?next"?', re.IGNORECASE)


class LivepeerApi:
    """Livepeer Studio API calls over a `Prober`, authenticated with the account's API key."""

    def __init__(
        self,
        prober: Prober,
        api_key: Secret,
        base_url: str,
        *,
        max_bytes: int = 1_048_576,
        page_limit: int = 100,
        max_pages: int = 5,
    ) -> None:
        self._prober = prober
        self._key = api_key
        self.base_url = base_url.rstrip("/")
        self._max_bytes = max_bytes
        # Without `limit` Livepeer returns every row at once; pages keep bodies bounded.
        self._limit = str(page_limit)
        self._max_pages = max_pages

    @classmethod
    def from_settings(cls, settings: Settings, prober: Prober) -> LivepeerApi | None:
        """The client for LIVEPEER_API_KEY, or None when no key is configured."""
        if settings.livepeer_api_key is None:
            return None
        return cls(prober, settings.livepeer_api_key, settings.livepeer_api_url)

    def __repr__(self) -> str:
        return f"LivepeerApi(base_url={self.base_url!r})"

    def get_stream(
        self, stream_id: str, *, deadline: float, compare_key: str | None = None
    ) -> StreamResult:
        """GET /stream/{id}; with `compare_key`, also whether it is the stream's key."""
        return self._stream(self._url("stream", stream_id), deadline, compare_key)

    def get_stream_by_key(self, stream_key: str, *, deadline: float) -> StreamResult:
        """GET /stream/key/{key}: the stream an encoder's key belongs to (404: none)."""
        return self._stream(self._url("stream", "key", stream_key), deadline, stream_key)

    def list_sessions(
        self, parent_id: str, *, deadline: float
    ) -> ApiResult[tuple[ApiSession, ...]]:
        """GET /session?parentId=...: every session of a stream (recording fields included)."""
        # An empty parentId would list every session of the account.
        url = self._url("session", parentId=parent_id, limit=self._limit) if parent_id else None
        return self._list(url, deadline, parse_session)

    def get_playback(self, playback_id: str, *, deadline: float) -> ApiResult[PlaybackInfo]:
        """GET /playback/{id}: sources and policy (404 for a deleted or suspended stream)."""
        reply = self._call("GET", self._url("playback", playback_id), deadline)
        return single(reply, lambda data: parse_playback(playback_id, data))

    def list_webhooks(self, *, deadline: float) -> ApiResult[tuple[ApiWebhook, ...]]:
        """GET /webhook, following `Link: rel="next"` for up to max_pages pages."""
        return self._list(self._url("webhook", limit=self._limit), deadline, parse_webhook)

    def find_webhook(self, url: str, *, deadline: float) -> ApiResult[ApiWebhook]:
        """Our webhook: the one whose url is `url` by `urls.same_url` (`not_found`: none is)."""
        listed = self.list_webhooks(deadline=deadline)
        if listed.value is None:
            return ApiResult(error=listed.error or "no answer", status=listed.status)
        hooks = listed.value
        hook = next((h for h in hooks if same_url(h.url, url)), None)
        if hook is None:  # the http/https twin is ours too (the webhooks check says why not)
            hook = next((h for h in hooks if same_url(h.url, url, any_scheme=True)), None)
        return ApiResult(value=hook, not_found=hook is None, status=listed.status)

    def get_webhook(self, webhook_id: str, *, deadline: float) -> ApiResult[ApiWebhook]:
        """GET /webhook/{id}."""
        return single(self._call("GET", self._url("webhook", webhook_id), deadline), parse_webhook)

    def webhook_log(
        self,
        webhook_id: str,
        *,
        deadline: float,
        limit: int = 50,
        next_url: str | None = None,
        failed_only: bool = False,
    ) -> ApiResult[WebhookLogPage]:
        """One page of GET /webhook/{id}/log, newest first; `next_url` comes from a prior page.

        `failed_only` asks Livepeer to filter on `success` (its Link keeps the filter); callers
        still check each row, as a deployment that ignores the filter sends every row.
        """
        if next_url is not None:
            url = self._on_api(next_url)
            if url is None:
                return ApiResult(error="next page is not on the Livepeer API")
        else:
            query = {"limit": str(limit)}
            if failed_only:
                query["filters"] = json.dumps([{"id": "success", "value": "false"}])
            url = self._url("webhook", webhook_id, "log", **query)
        reply = self._call("GET", url, deadline)
        result = single(reply, lambda data: entries(data, parse_log_entry))
        if result.value is None:
            return ApiResult(not_found=result.not_found, error=result.error, status=result.status)
        more = reply.next_url if result.value else None  # Livepeer links even an empty page
        return ApiResult(value=WebhookLogPage(result.value, more), status=result.status)

    def resend(self, webhook_id: str, log_id: str, *, deadline: float) -> ResendResult:
        """POST /webhook/{id}/log/{logId}/resend: Livepeer delivers the stored event again.

        Livepeer waits for the delivery and answers with its new log row (`row`): the value is
        False when that row says the receiver did not answer 2xx, else True.
        """
        url = self._url("webhook", webhook_id, "log", log_id, "resend")
        reply = self._call("POST", url, deadline, body=b"")
        if reply.error is not None or reply.not_found:
            return ResendResult(not_found=reply.not_found, error=reply.error, status=reply.status)
        delivered = not (isinstance(reply.data, dict) and reply.data.get("success") is False)
        row = single(reply, parse_log_entry).value  # None: the answer is not a log row
        return ResendResult(value=delivered, status=reply.status, row=row)

    def list_signing_keys(self, *, deadline: float) -> ApiResult[tuple[SigningKey, ...]]:
        """GET /access-control/signing-key: the keys playback JWTs may be signed with."""
        url = self._url("access-control", "signing-key", limit=self._limit)
        return self._list(url, deadline, parse_signing_key)

    # -- plumbing ---------------------------------------------------------------------------

    def _stream(self, url: str | None, deadline: float, compare_key: str | None) -> StreamResult:
        reply = self._call("GET", url, deadline, secret=compare_key)
        if reply.error is not None or reply.not_found:
            return StreamResult(not_found=reply.not_found, error=reply.error, status=reply.status)
        try:
            stream = parse_stream(reply.data)
        except ShapeError:
            return StreamResult(error=SHAPE_ERROR, status=reply.status)
        # The API's key lives only in this frame: compared, never stored (ApiStream has no key).
        api_key = reply.data.pop("streamKey", None)
        matches = None
        if compare_key is not None and isinstance(api_key, str):
            matches = hmac.compare_digest(compare_key.encode(), api_key.encode())
        return StreamResult(value=stream, status=reply.status, key_matches=matches)

    def _list(
        self, url: str | None, deadline: float, parse: Callable[[Any], T]
    ) -> ApiResult[tuple[T, ...]]:
        if url is None:
            return ApiResult(error="empty id")
        items: list[T] = []
        next_url: str | None = url
        status = None
        for _ in range(self._max_pages):
            if next_url is None:
                break
            reply = self._call("GET", next_url, deadline)
            page = single(reply, lambda data: entries(data, parse))
            if page.value is None:
                return ApiResult(not_found=page.not_found, error=page.error, status=page.status)
            items.extend(page.value)
            status = page.status
            next_url = reply.next_url if page.value else None  # Livepeer links empty pages too
        return ApiResult(value=tuple(items), status=status, incomplete=next_url is not None)

    def _url(self, *segments: str, **query: str) -> str | None:
        """The API URL for these path segments, or None when one is empty (a missing id)."""
        if not all(segments):
            return None  # "/stream/" would list streams instead of failing
        # Ids come from operators, deliveries and URLs: each is one segment, whatever it holds.
        path = "/".join(path_segment(s) for s in segments)
        return f"{self.base_url}/{path}" + (f"?{urlencode(query)}" if query else "")

    def _on_api(self, url: str) -> str | None:
        """A Link URL rebased onto the configured API base, or None if it points elsewhere.

        Livepeer builds Link from the request's own protocol, which behind its proxy may say
        http: the bearer token must only ever travel to the configured scheme and host.
        """
        try:
            link, base = urlsplit(url), urlsplit(self.base_url)
            same_host = link.hostname == base.hostname
        except ValueError:
            return None
        if not same_host or not link.path.startswith(base.path + "/"):
            return None
        cursor = parse_qs(link.query).get("cursor", [""])[0]
        if cursor in {"", "undefined", "null"}:
            return None  # Livepeer links past the last page with a cursor it never set
        return urlunsplit((base.scheme, base.netloc, link.path, link.query, ""))

    def _call(
        self,
        method: str,
        url: str | None,
        deadline: float,
        *,
        body: bytes | None = None,
        secret: str | None = None,
    ) -> Reply:
        if url is None:
            return Reply(error="empty id")
        headers = {"Authorization": f"Bearer {self._key.reveal()}", "Accept": "application/json"}
        response = self._prober.request(
            method, url, deadline=deadline, headers=headers, body=body, max_bytes=self._max_bytes
        )
        result, status = response.result, response.result.status
        if result.error is not None or status is None:
            return Reply(error=self._redact(result.error or "no response", secret))
        if status == 404:
            return Reply(not_found=True, status=status)
        if not 200 <= status < 300:
            said = self._redact(livepeer_error(response.content), secret)
            return Reply(error=status_error(status, said), status=status)
        if response.truncated:
            return Reply(error="response too large", status=status)
        if not response.content.strip() and method == "POST":
            return Reply(status=status)
        try:
            data = json.loads(response.content)
        except (ValueError, RecursionError):
            return Reply(error="not JSON", status=status)
        link = _NEXT_LINK.search(response.headers.get("link", ""))
        next_url = self._on_api(link.group(1)) if link else None
        return Reply(data=data, next_url=next_url, status=status)

    def _redact(self, text: str, secret: str | None) -> str:
        """Livepeer's error texts may quote what was sent (auth.ts: "no token <key> found"):
        the API key and a compared stream key never reach an error string."""
        return redact_tokens(text, (self._key.reveal(), secret or ""))
