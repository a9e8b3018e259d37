"""Test helpers: secrets, delivery builders, signing, ports, the CLI (imported by the tests)."""

from __future__ import annotations

import json
import socket
import time
import uuid
from typing import Any

from click.testing import CliRunner, Result

from webhook_service.cli import main
from webhook_service.config import Secret, Settings
from webhook_service.ingest.signature import format_header

SECRET = "whsec-test-3f1d"
OTHER_SECRET = "whsec-rotated-9a7b"
TOKEN = "ops-token-test-6c2e"
SECOND_TOKEN = "ops-token-second-81d0"
NOW_MS = 1_764_086_400_000


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def make_settings(redis_url: str | None, key_prefix: str = "lp", **overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "webhook_secrets": (Secret(SECRET), Secret(OTHER_SECRET)),
        "ops_tokens": (Secret(TOKEN), Secret(SECOND_TOKEN)),
        "redis_url": redis_url,
        "redis_key_prefix": key_prefix,
        "redis_timeout_seconds": 1.0,
    }
    base.update(overrides)
    return Settings(**base)


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def delivery(
    event: str = "stream.started",
    stream_id: str | None = "stream-1",
    created_at: int | None = None,
    timestamp: int | None = None,
    event_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A delivery body shaped like Livepeer's, with times around the real clock."""
    now = now_ms()
    body: dict[str, Any] = {
        "id": event_id or str(uuid.uuid4()),
        "webhookId": "wh-1",
        "createdAt": created_at if created_at is not None else now - 500,
        "timestamp": timestamp if timestamp is not None else now,
        "event": event,
    }
    if stream_id is not None:
        body["stream"] = {
            "id": stream_id,
            "name": f"name of {stream_id}",
            "playbackId": f"pb{stream_id.replace('-', '')}"[:16],
            "record": True,
            "isActive": event == "stream.started",
        }
    body.update(extra)
    return body


def signed(body: dict[str, Any] | bytes, secret: str = SECRET, t: int | None = None):
    """(raw bytes, headers) of a delivery signed with `secret`; `t` defaults to body timestamp."""
    raw = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
    if t is None:
        t = body["timestamp"] if isinstance(body, dict) else NOW_MS
    headers = {
        "Content-Type": "application/json",
        "Livepeer-Signature": format_header(raw, secret, t),
    }
    return raw, headers


def post_delivery(client, body: dict[str, Any], secret: str = SECRET, **kwargs: Any):
    raw, headers = signed(body, secret)
    headers.update(kwargs.pop("headers", {}))
    return client.post("/webhooks/livepeer", data=raw, headers=headers, **kwargs)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def dead_redis_url() -> str:
    """A redis:// URL on a port where nothing listens."""
    return f"redis://127.0.0.1:{free_port()}/0"


class LiveApp:
    """The app served over real HTTP on 127.0.0.1 by werkzeug, in a background thread."""

    def __init__(self, app) -> None:
        import threading

        from werkzeug.serving import make_server

        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(5)


def assert_problem(response, status: int) -> dict[str, Any]:
    """Assert an RFC 9457 problem+json answer with this status; return its body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert set(problem) == {"type", "title", "status", "detail"}
    assert problem["status"] == status and problem["detail"]
    return problem


class CommandRunner(CliRunner):
    """click's CliRunner bound to `livepeer-webhooks` (webhook_service.cli:main), as Flask's
    `app.test_cli_runner()` is bound to the app: `invoke(args, env=..., obj=...)`.

    An exception the command does not handle fails the test instead of becoming exit code 1.
    """

    def invoke(self, args: Any = None, **kwargs: Any) -> Result:  # type: ignore[override]
        kwargs.setdefault("catch_exceptions", False)
        return super().invoke(main, args, **kwargs)


def stored_text(redis_client, key_prefix: str) -> str:
    """Every key, field and value under the test's prefix, as text (rejection counters too)."""
    dump = []
    for key in redis_client.scan_iter(match=f"{key_prefix}:*"):
        kind = redis_client.type(key)
        dump.append(key)
        if kind == b"hash":
            dump.extend(v for kv in redis_client.hgetall(key).items() for v in kv)
        elif kind == b"zset":
            dump.extend(redis_client.zrange(key, 0, -1))
        elif kind == b"string":
            dump.append(redis_client.get(key))
    return b"\n".join(dump).decode("utf-8", "replace")
