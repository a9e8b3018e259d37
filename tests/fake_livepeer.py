"""A fake Livepeer Studio API and CDN: real HTTP servers on 127.0.0.1 with state tests set.

Shapes follow Livepeer's api-schema.yaml (see LIVEPEER.md); faults are per path prefix.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from fake_http import HANG_SECONDS, FakeServer, Recorded, Reply, json_reply, text_reply

API_PREFIX = "/api"
FAKE_API_KEY = "fake-livepeer-api-key-7f3a"
CDN_MODES = ("live", "empty", "offline", "denied", "html403", "html200", "404", "hang")
PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
RENDITIONS = (("720p0", 2_500_000, "1280x720"), ("360p0", 800_000, "640x360"))
HTML_PAGE = "<!DOCTYPE html><html><head><title>{t}</title></head><body><h1>{t}</h1></body></html>"

# on_resend(url, body, headers): Livepeer's resend of a log row, POSTed to that row's
# request.url (cannon.ts resendWebhook) -> the receiver's status (None: 200), or (status, body)
ResendCallback = Callable[[str, str, dict[str, str]], int | tuple[int, str] | None]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def sign(body: str, secret: str, timestamp: int) -> str:
    """A Livepeer-Signature header value: HMAC-SHA256 over the body only, `t` in ms."""
    digest = hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


@dataclass
class Fault:
    kind: str  # hang | fail | garbage | redirect
    seconds: float = 0.0
    status: int = 500
    body: bytes = b""
    content_type: str = "application/json"
    location: str = ""


def errors(status: int, message: str) -> Reply:
    return json_reply(status, {"errors": [message]})


class FakeLivepeer(FakeServer):
    """The API at `.url` (with Livepeer's `/api` prefix) and the CDN at `.cdn_url`.

    Set state directly or with the `add_*` helpers; `requests` records every request
    (`server` is "api" or "cdn").
    """

    def __init__(self, api_key: str = FAKE_API_KEY) -> None:
        self.api_key = api_key
        self.streams: dict[str, dict[str, Any]] = {}
        self.sessions: dict[str, list[dict[str, Any]]] = {}  # parentId -> sessions
        self.webhooks: dict[str, dict[str, Any]] = {}  # with sharedSecret, never served
        self.webhook_logs: dict[str, list[dict[str, Any]]] = {}  # webhook id -> newest first
        self.signing_keys: list[dict[str, Any]] = []
        self.playback_info: dict[str, dict[str, Any]] = {}  # overrides GET /playback/{id}
        self.cdn_modes: dict[str, str] = {}  # playback id -> one of CDN_MODES
        self.resends: list[tuple[str, str]] = []
        self.account_suspended = False  # every API call then answers 403 "user is suspended"
        self.on_resend: ResendCallback | None = None
        self._faults: list[tuple[str, Fault]] = []
        super().__init__("api", "cdn")

    @property
    def url(self) -> str:
        return self.origin("api") + API_PREFIX

    @property
    def cdn_url(self) -> str:
        return self.origin("cdn")

    def hls_url(self, playback_id: str) -> str:
        return f"{self.cdn_url}/hls/{playback_id}/index.m3u8"

    # -- state --------------------------------------------------------------------------

    def add_stream(self, id: str | None = None, **fields: Any) -> dict[str, Any]:
        """A stream as GET /stream/{id} shows it; camelCase `fields` override the defaults."""
        stream_id = id or str(uuid.uuid4())
        stream = {
            "id": stream_id,
            "name": f"stream-{stream_id[:8]}",
            "kind": "stream",
            "createdAt": now_ms() - 3_600_000,
            "streamKey": f"{uuid.uuid4().hex[:4]}-{uuid.uuid4().hex[:4]}-{uuid.uuid4().hex[:4]}",
            "playbackId": uuid.uuid4().hex[:16],
            "isActive": False,
            "lastSeen": 0,
            "record": False,
            "suspended": False,
            "sourceSegments": 0,
            "isHealthy": None,
            "issues": None,
            **fields,
        }
        if stream["isActive"] and "lastSeen" not in fields:
            stream["lastSeen"] = now_ms()  # Livepeer refreshes lastSeen while media arrives
        with self.lock:
            self.streams[stream_id] = stream
        return stream

    def add_session(self, parent_id: str, id: str | None = None, **fields: Any) -> dict[str, Any]:
        """A session of `parent_id`, as GET /session?parentId= lists it."""
        session = {
            "id": id or str(uuid.uuid4()),
            "parentId": parent_id,
            "kind": "session",
            "name": "session",
            "createdAt": now_ms() - 600_000,
            "lastSeen": now_ms() - 300_000,
            "sourceSegments": 0,
            **fields,
        }
        with self.lock:
            self.sessions.setdefault(parent_id, []).append(session)
        return session

    def add_webhook(self, url: str, id: str | None = None, **fields: Any) -> dict[str, Any]:
        """A webhook; `sharedSecret` is kept for signing resends but never served."""
        webhook = {
            "id": id or str(uuid.uuid4()),
            "name": "hook",
            "kind": "webhook",
            "url": url,
            "events": ["stream.started", "stream.idle", "recording.ready"],
            "createdAt": now_ms() - 86_400_000,
            **fields,
        }
        with self.lock:
            self.webhooks[webhook["id"]] = webhook
            self.webhook_logs.setdefault(webhook["id"], [])
        return webhook

    def add_log(
        self,
        webhook_id: str,
        body: dict[str, Any] | str,
        *,
        status: int | None = 200,
        id: str | None = None,
        created_at: int | None = None,
        url: str | None = None,
        shared_secret: str | None = None,
        response_body: str = "",
    ) -> dict[str, Any]:
        """A webhook-log row (newest first); `status` None means a timeout (no response).

        As Livepeer writes it (cannon.ts storeResponse): `request.url` and `sharedSecret` are
        the webhook's at the time (unless given: a delivery from before a change), the secret is
        never served, and `response.body` is base64 of the answer's first 1024 characters.
        """
        text = body if isinstance(body, str) else json.dumps(body)
        hook = self.webhooks.get(webhook_id, {})
        entry: dict[str, Any] = {
            "id": id or str(uuid.uuid4()),
            "webhookId": webhook_id,
            "event": body.get("event") if isinstance(body, dict) else None,
            "createdAt": created_at or now_ms(),
            "duration": 0.05,
            "success": status is not None and 200 <= status < 300,
            "request": {
                "url": hook.get("url", "") if url is None else url,
                "method": "POST",
                "headers": {"user-agent": "livepeer.studio"},
                "body": text,
            },
            "sharedSecret": hook.get("sharedSecret") if shared_secret is None else shared_secret,
        }
        if status is not None:
            answer = base64.b64encode(response_body[:1024].encode()).decode()
            entry["response"] = {"status": status, "statusText": "", "body": answer}
        with self.lock:
            self.webhook_logs.setdefault(webhook_id, []).insert(0, entry)
        return entry

    def add_signing_key(self, public_key: str, disabled: bool = False) -> dict[str, Any]:
        key = {
            "id": str(uuid.uuid4()),
            "name": "key",
            "publicKey": public_key,
            "disabled": disabled,
            "createdAt": now_ms(),
        }
        with self.lock:
            self.signing_keys.append(key)
        return key

    def set_cdn(self, playback_id: str, mode: str) -> None:
        """How the CDN answers for a playback id (default: from the stream's isActive)."""
        if mode not in CDN_MODES:
            raise ValueError(f"mode must be one of {CDN_MODES}")
        self.cdn_modes[playback_id] = mode

    # -- faults: a prefix of the path after /api (or the CDN path), query string included ---

    def hang(self, path_prefix: str, seconds: float) -> None:
        """Requests under the prefix wait `seconds` before answering normally."""
        self._add_fault(path_prefix, Fault("hang", seconds=seconds))

    def fail(
        self,
        path_prefix: str,
        status: int,
        body: str | bytes | None = None,
        content_type: str = "application/json",
    ) -> None:
        """Requests under the prefix get this status and body (default Livepeer's error shape)."""
        raw = body.encode() if isinstance(body, str) else body
        if raw is None:
            raw = json.dumps({"errors": [f"fake failure {status}"]}).encode()
        self._add_fault(
            path_prefix, Fault("fail", status=status, body=raw, content_type=content_type)
        )

    def garbage(self, path_prefix: str) -> None:
        """Requests under the prefix get 200 with a body that is not JSON."""
        self._add_fault(path_prefix, Fault("garbage", status=200, body=b"\x00{not json<html>"))

    def redirect(self, path_prefix: str, location: str, status: int = 307) -> None:
        """Requests under the prefix are redirected to `location`."""
        self._add_fault(path_prefix, Fault("redirect", status=status, location=location))

    def clear_faults(self) -> None:
        with self.lock:
            self._faults.clear()

    def hits(self, path_prefix: str, server: str | None = None) -> int:
        """How many recorded requests had a path under the prefix."""
        with self.lock:
            return sum(
                1
                for r in self.requests
                if r.path.startswith(path_prefix) and server in (None, r.server)
            )

    def _add_fault(self, prefix: str, fault: Fault) -> None:
        with self.lock:
            self._faults.insert(0, (prefix, fault))

    def _fault(self, path: str) -> Fault | None:
        with self.lock:
            return next((f for p, f in self._faults if path.startswith(p)), None)

    # -- dispatch ---------------------------------------------------------------------------

    def handle(self, request: Recorded) -> Reply:
        role, headers = request.server, request.headers
        parts = urlsplit(request.path)
        path = parts.path  # still quoted: a %2F inside an id must not split it
        if role == "api":
            if not path.startswith(API_PREFIX + "/"):
                return errors(404, "not found")
            path = path[len(API_PREFIX) :]
        fault = self._fault(unquote(path) + (f"?{parts.query}" if parts.query else ""))
        if fault is not None:
            early = self._apply(fault)
            if early is not None:
                return early
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if role == "cdn":
            return self._cdn_route(path, parts.query)
        if not path.startswith("/playback/") and not self._authorized(headers):
            return errors(401, "No authorization header or API key invalid")
        if self.account_suspended:  # middleware/auth.ts, after the token is found
            return errors(403, "user is suspended")
        return self._api_route(request.method, path, query, headers.get("host", ""))

    def _apply(self, fault: Fault) -> Reply | None:
        if fault.kind == "hang":
            self.stopping.wait(fault.seconds)
            return None
        if fault.kind == "redirect":
            return text_reply(fault.status, "", Location=fault.location)
        return Reply(fault.status, fault.body, fault.content_type)

    def _authorized(self, headers: dict[str, str]) -> bool:
        given = headers.get("authorization", "").encode()
        return hmac.compare_digest(given, f"Bearer {self.api_key}".encode())

    def _api_route(self, method: str, path: str, query: dict[str, str], host: str) -> Reply:
        seg = [unquote(s) for s in path.split("/") if s]
        with self.lock:
            if method == "POST" and len(seg) == 5 and seg[0] == "webhook" and seg[4] == "resend":
                return self._resend(seg[1], seg[3])
            if method != "GET":
                return errors(404, "not found")
            return self._api_get(seg, query, host, path)

    def _api_get(self, seg: list[str], query: dict[str, str], host: str, path: str) -> Reply:
        if seg[:2] == ["stream", "key"] and len(seg) == 3:
            found = [s for s in self.streams.values() if s.get("streamKey") == seg[2]]
            return self._stream_reply(found[0] if found else None)
        if seg[:1] == ["stream"] and len(seg) == 2:
            return self._stream_reply(self.streams.get(seg[1]))
        if seg == ["session"]:
            rows = self.sessions.get(query.get("parentId", ""), [])
            rows = sorted(rows, key=lambda s: s.get("createdAt", 0), reverse=True)
            return self._page(rows, query, host, path)
        if seg[:1] == ["playback"] and len(seg) == 2:
            info = self.playback_info.get(seg[1]) or self._playback(seg[1])
            return json_reply(200, info) if info else errors(404, "not found")
        if seg == ["webhook"]:
            hooks = [_public_hook(h) for h in self.webhooks.values() if not h.get("deleted")]
            return self._page(hooks, query, host, path)
        if seg[:1] == ["webhook"] and len(seg) == 2:
            hook = self.webhooks.get(seg[1])
            return json_reply(200, _public_hook(hook)) if hook else errors(404, "not found")
        if seg[:1] == ["webhook"] and len(seg) == 3 and seg[2] == "log":
            if seg[1] not in self.webhooks:
                return errors(404, "webhook not found")
            rows = [_public_hook(r) for r in self.webhook_logs.get(seg[1], [])]
            return self._page(rows, query, host, path)
        if seg == ["access-control", "signing-key"]:
            return self._page(self.signing_keys, query, host, path)
        return errors(404, "not found")

    def _stream_reply(self, stream: dict[str, Any] | None) -> Reply:
        if stream is None or stream.get("deleted"):
            return errors(404, "not found")  # Livepeer hides deleted streams
        return json_reply(200, stream)

    def _page(self, rows: list[Any], query: dict[str, str], host: str, path: str) -> Reply:
        """Livepeer's paging: `cursor=skipN`; a full page gets a Link to the next one."""
        limit = int(query["limit"]) if query.get("limit", "").isdigit() else None
        cursor = query.get("cursor", "")
        offset = int(cursor[4:]) if cursor.startswith("skip") and cursor[4:].isdigit() else 0
        page = rows[offset : offset + limit] if limit else rows[offset:]
        headers = {}
        if limit and len(page) == limit:
            params = {**query, "cursor": f"skip{offset + limit}"}
            link = f"http://{host}{API_PREFIX}{path}?{urlencode(params)}"
            headers["Link"] = f'<{link}>; rel="next"'
        return json_reply(200, page, headers)

    def _playback(self, playback_id: str) -> dict[str, Any] | None:
        found = [s for s in self.streams.values() if s.get("playbackId") == playback_id]
        if not found or found[0].get("deleted") or found[0].get("suspended"):
            return None
        stream = found[0]
        meta: dict[str, Any] = {
            "live": 1 if stream.get("isActive") else 0,
            "source": [
                {"hrn": "HLS (TS)", "type": PLAYLIST_TYPE, "url": self.hls_url(playback_id)}
            ],
        }
        if "playbackPolicy" in stream:
            meta["playbackPolicy"] = stream["playbackPolicy"]
        return {"type": "live", "meta": meta}

    def _resend(self, webhook_id: str, log_id: str) -> Reply:
        hook = self.webhooks.get(webhook_id)
        logs = self.webhook_logs.get(webhook_id, [])
        old = next((e for e in logs if e["id"] == log_id), None)
        if hook is None or old is None:
            return errors(404, "webhook log not found")
        self.resends.append((webhook_id, log_id))
        # As cannon.ts resendWebhook: the same event id and createdAt, a new timestamp, signed
        # with the row's (original) secret and sent to the row's request.url; the new row
        # records the webhook's current url, and the resend answers with that row.
        timestamp = now_ms()
        try:
            body = json.dumps({**json.loads(old["request"]["body"]), "timestamp": timestamp})
        except (ValueError, TypeError):
            body = old["request"]["body"]
        headers = {"content-type": "application/json", "user-agent": "livepeer.studio"}
        secret = old.get("sharedSecret")
        if secret:
            headers["Livepeer-Signature"] = sign(body, secret, timestamp)
        callback = self.on_resend
        answer: int | tuple[int, str] | None = 200
        if callback is not None:
            self.lock.release()  # the callback may take a while or call back into the fake
            try:
                answer = callback(old["request"]["url"], body, headers)
            finally:
                self.lock.acquire()
        status, text = answer if isinstance(answer, tuple) else (answer or 200, "")
        entry = self.add_log(
            webhook_id, body, status=status, shared_secret=secret or "", response_body=text
        )
        entry["event"] = old.get("event")
        return json_reply(200, _public_hook(entry))

    def _cdn_mode(self, playback_id: str) -> str | None:
        with self.lock:
            if playback_id in self.cdn_modes:
                return self.cdn_modes[playback_id]
            for s in self.streams.values():
                if s.get("playbackId") == playback_id and not s.get("deleted"):
                    return "live" if s.get("isActive") else "offline"
        return None

    def _cdn_route(self, path: str, query: str) -> Reply:
        seg = [unquote(s) for s in path.split("/") if s]
        if seg[:1] == ["hls"] and len(seg) == 3 and seg[2] == "index.m3u8":
            # The global edge sends every viewer to a regional node, query (jwt) included.
            target = f"{self.cdn_url}/region/hls/{seg[1]}/index.m3u8"
            return text_reply(307, "", Location=target + (f"?{query}" if query else ""))
        if seg[:2] != ["region", "hls"] or len(seg) < 4:
            return text_reply(404, "404 page not found")
        mode = self._cdn_mode(seg[2])
        if mode == "hang":
            self.stopping.wait(HANG_SECONDS)
            mode = "offline"
        return _cdn_answer(mode, seg[3:])


def _public_hook(hook: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in hook.items() if k != "sharedSecret"}


def _playlist(*lines: str) -> Reply:
    return text_reply(200, "\n".join(lines) + "\n", PLAYLIST_TYPE)


def _cdn_answer(mode: str | None, rest: list[str]) -> Reply:
    """The regional node's answer for /region/hls/<playbackId>/<rest...>."""
    if mode in (None, "404"):
        return text_reply(404, "Stream not found")
    if mode == "html403":
        return text_reply(403, HTML_PAGE.format(t="403 Forbidden"), "text/html")
    if mode == "html200":
        return text_reply(200, HTML_PAGE.format(t="Livepeer"), "text/html")
    if mode == "offline":
        return _playlist("#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-ERROR: Stream open failed")
    if mode == "denied":
        if rest[-1].endswith(".ts"):
            return json_reply(
                401, {"error": "unauthorised", "error_detail": "access control denied"}
            )
        return _playlist("#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-ERROR: access control denied")
    if rest == ["index.m3u8"]:
        master = ["#EXTM3U", "#EXT-X-VERSION:3"]
        for name, bandwidth, resolution in RENDITIONS:
            master += [
                f"#EXT-X-STREAM-INF:BANDWIDTH={bandwidth},RESOLUTION={resolution}",
                f"{name}/index.m3u8",
            ]
        return _playlist(*master)
    if len(rest) == 2 and rest[1] == "index.m3u8":
        media = [
            "#EXTM3U",
            "#EXT-X-VERSION:3",
            "#EXT-X-TARGETDURATION:2",
            "#EXT-X-MEDIA-SEQUENCE:0",
        ]
        if mode == "live":
            for n in range(3):
                media += ["#EXTINF:2.000,", f"{n}.ts"]
        return _playlist(*media)
    if len(rest) == 2 and rest[1].endswith(".ts") and mode == "live":
        return Reply(200, b"\x47" + b"\x00" * 187, "video/mp2t")  # one MPEG-TS packet
    return text_reply(404, "not found")
