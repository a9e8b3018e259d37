"""What the fake servers share: real HTTP listeners on free 127.0.0.1 ports, in daemon threads.

A fake subclasses `FakeServer` and implements `handle(request) -> Reply | None` (None: hang
until stopped, then drop the connection); every request is recorded in `requests` first.
"""

from __future__ import annotations

import json
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

HANG_SECONDS = 30.0  # longer than any client timeout in the tests; released by stop()


@dataclass
class Recorded:
    """One request as it arrived; a fake may add the `fields` it parsed from the body."""

    server: str  # the listener's name, e.g. "api" or "cdn"
    method: str
    path: str  # as sent, with the query string
    headers: dict[str, str] = field(default_factory=dict)  # names lower-cased
    body: bytes = b""
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass
class Reply:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def json_reply(status: int, data: Any, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, json.dumps(data).encode(), "application/json", headers or {})


def text_reply(
    status: int, text: str | bytes, content_type: str = "text/plain", **headers: str
) -> Reply:
    raw = text.encode() if isinstance(text, str) else text
    return Reply(status, raw, content_type, dict(headers))


class FakeServer:
    """One listener per name in `listeners`; `url` is the first one's origin.

    `lock` guards the fake's state (re-entrant), `stopping` is set by stop() so that a
    handler waiting on it is released at once.
    """

    def __init__(self, *listeners: str) -> None:
        self.requests: list[Recorded] = []
        self.lock = threading.RLock()
        self.stopping = threading.Event()
        self._listeners = {name: _start(self, name) for name in listeners or ("main",)}

    @property
    def url(self) -> str:
        return self.origin()

    def origin(self, listener: str | None = None) -> str:
        """http://127.0.0.1:<port> of the named listener (default: the first)."""
        server = self._listeners[listener] if listener else next(iter(self._listeners.values()))
        return f"http://127.0.0.1:{server.server_address[1]}"

    def handle(self, request: Recorded) -> Reply | None:
        raise NotImplementedError

    def stop(self) -> None:
        """Stop every listener; hanging handlers are released at once."""
        self.stopping.set()
        for server in self._listeners.values():
            server.shutdown()
            server.server_close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def record(self, request: Recorded) -> None:
        with self.lock:
            self.requests.append(request)


class HitCounter(FakeServer):
    """A server that answers 200 to anything and counts requests: proof of no contact."""

    @property
    def hits(self) -> int:
        return len(self.requests)

    def handle(self, request: Recorded) -> Reply:
        return text_reply(200, "ok")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as urllib3's pool expects
    server: _Listener

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        fake = self.server.fake
        request = Recorded(self.server.name, self.command, self.path, headers, body)
        fake.record(request)
        reply = fake.handle(request)
        if reply is None:  # a hung job: hold the connection, answer nothing
            fake.stopping.wait(HANG_SECONDS)
            self.close_connection = True
            return
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean


class _Listener(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 drops SYNs under concurrent tests (1 s retries)

    def __init__(self, fake: FakeServer, name: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake
        self.name = name

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeouts under test) is expected; anything else is a bug.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _start(fake: FakeServer, name: str) -> _Listener:
    server = _Listener(fake, name)
    # A short poll interval makes stop() take milliseconds instead of half a second.
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    return server
