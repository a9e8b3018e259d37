"""gunicorn's gthread worker, reading each request whole before a thread takes it.

gthread gives a connection to a request thread as soon as it has a byte to read, and the
thread then reads the headers and body blocking: a client that sends them slowly, or a byte
and then nothing, holds a thread, and a few dozen such clients hold them all (issue 16).
Here the worker's own event loop reads each request into memory without blocking (headers,
and a body up to the size the service accepts), and only a complete request goes to a thread.
A slow client then costs a buffer and a socket, not a thread; one that has not finished
its request `REQUEST_SECONDS` after its first byte, or that sends nothing for the keep-alive
time, is closed. Threads do exactly what they did before, so the thread pools, the
diagnosis bulkhead and request throughput are unchanged (bench/README.md, "Slow clients").
"""

from __future__ import annotations

import selectors
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from gunicorn.workers import gthread

READ_CHUNK = 64 * 1024
# A header block this large is not a request gunicorn would take (its limits are far below):
# it is handed over unfinished for gunicorn to refuse.
HEADER_LIMIT = 64 * 1024
# From a request's first byte to its last; Livepeer gives up on a delivery after 30 s.
REQUEST_SECONDS = 30.0
# All requests a worker is reading hold at most this much memory together; past it, the
# request holding the most is dropped (1,000 stalled 1 MiB bodies would be 1 GiB otherwise).
BUFFER_BUDGET = 64 * 1024 * 1024
# After SIGTERM: how long a request already arriving may take to finish arriving.
STOP_READ_SECONDS = 5.0
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
# The gthread methods this worker overrides or calls (gunicorn 27): without one of them it
# would run and silently stop protecting the threads, so its absence stops startup.
GTHREAD_HOOKS = ("enqueue_req", "murder_pending", "handle", "_keepalive_after", "finish_request")


@dataclass
class _Reading:
    """A request being read by the event loop."""

    deadline: float
    data: bytearray = field(default_factory=bytearray)
    started: bool = False
    continued: bool = False


def request_complete(data: bytes | bytearray, body_limit: int) -> tuple[bool, bool]:
    """(whether `data` holds a whole request for a thread, whether it awaits 100 Continue).

    A request is whole once its headers end and its body is all there, or as soon as it is
    something gunicorn or the service refuses at once without reading the rest (headers too
    large, a malformed length, a body over `body_limit`).
    """
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return len(data) > HEADER_LIMIT, False
    length: int | None = None
    chunked = expect = False
    for line in bytes(data[:end]).decode("latin-1").lower().split("\r\n")[1:]:
        name, _, value = line.partition(":")
        name, value = name.strip(), value.strip()
        if name == "content-length":
            if not value.isdigit():
                return True, False
            length = int(value)
        elif name == "transfer-encoding":
            chunked = "chunked" in value
        elif name == "expect":
            expect = value == "100-continue"
    body = len(data) - end - 4
    if chunked:
        whole = body > body_limit or _chunks_complete(data, end + 4)
    else:
        whole = length is None or length > body_limit or body >= length
    return whole, expect and not whole


def _chunks_complete(data: bytes | bytearray, pos: int) -> bool:
    """Whether a chunked body starting at `pos` has reached its last chunk and trailers."""
    while True:
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            return False
        try:
            size = int(bytes(data[pos:eol]).split(b";")[0].strip(), 16)
        except ValueError:
            return True  # malformed: gunicorn answers 400 from what is here
        if size == 0:
            return data.find(b"\r\n\r\n", eol) >= 0  # no trailers, or trailers and a blank line
        pos = eol + 2 + size + 2
        if pos > len(data):
            return False


class BufferingThreadWorker(gthread.ThreadWorker):  # type: ignore[misc]
    """gthread whose request threads only ever see requests that have fully arrived."""

    body_limit = 1024 * 1024  # gunicorn_options sets the service's WEBHOOK_MAX_BODY_BYTES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._reading: dict[Any, _Reading] = {}
        self._buffered = 0  # bytes held by self._reading, all requests together
        self._stopping_since: float | None = None

    def enqueue_req(self, conn: Any) -> None:
        """Every path to a thread passes here: read the request first, unless done already."""
        if self.cfg.is_ssl:  # TLS bytes cannot be read ahead here: gthread as it is
            super().enqueue_req(conn)
            return
        state = _Reading(deadline=time.monotonic() + max(self.cfg.keepalive, 1))
        if conn.parser is not None:  # keep-alive: bytes of the next request read ahead
            state.data += conn.parser.unreader.take_buffered()
            self._buffered += len(state.data)
        self._reading[conn] = state
        conn.sock.setblocking(False)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._read, conn))
        if state.data:
            self._progress(conn, state)
        else:
            # A kept-alive connection comes here because it is readable: read now rather
            # than after another turn of the loop (each turn waits for the GIL again).
            self._read(conn, None)

    def _read(self, conn: Any, _sock: Any) -> None:
        state = self._reading[conn]
        try:
            chunk = conn.sock.recv(READ_CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._drop(conn)
            return
        state.data += chunk
        self._buffered += len(chunk)
        if self._buffered > BUFFER_BUDGET:
            largest = max(self._reading, key=lambda c: len(self._reading[c].data))
            self._drop(largest)
            if largest is conn:
                return
        self._progress(conn, state)

    def _progress(self, conn: Any, state: _Reading) -> None:
        if not state.started:
            state.started = True
            state.deadline = time.monotonic() + REQUEST_SECONDS
        whole, awaits_continue = request_complete(state.data, self.body_limit)
        if awaits_continue and not state.continued:
            state.continued = True
            try:
                conn.sock.send(CONTINUE)  # a client that waits for it sends its body now
            except OSError:
                pass
        if whole:
            self._unwatch(conn)
            conn.whole_request = bytes(state.data)
            conn.data_ready = True
            super().enqueue_req(conn)

    def _unwatch(self, conn: Any) -> None:
        state = self._reading.pop(conn, None)
        if state is not None:
            self._buffered -= len(state.data)
        try:
            self.poller.unregister(conn.sock)
        except (KeyError, ValueError, OSError):
            pass

    def _drop(self, conn: Any) -> None:
        self._unwatch(conn)
        self.nr_conns -= 1
        conn.close()

    def murder_pending(self) -> None:
        """Also close requests past their deadline; on shutdown, those not begun at once and
        the others after STOP_READ_SECONDS (a request in flight is still served)."""
        super().murder_pending()
        now = time.monotonic()
        if not self.alive and self._stopping_since is None:
            self._stopping_since = now
        for conn, state in list(self._reading.items()):
            if self._stopping_since is not None:
                if not state.started:
                    state.deadline = now
                state.deadline = min(state.deadline, self._stopping_since + STOP_READ_SECONDS)
            if state.deadline <= now:
                self._drop(conn)

    def _keepalive_after(self, conn: Any, keepalive: bool) -> bool:
        """Keep the connection only if the body the app left unread is already here.

        (gthread drains it from the socket for up to 5 s: a thread held by a slow client, when
        the service refused a body for its size without reading it.)
        """
        return keepalive and bool(conn.parser.finish_body(deadline=time.monotonic() + 0.05))

    def handle(self, conn: Any) -> Any:
        """In a request thread: the parser reads the buffered request, never the socket."""
        data = conn.__dict__.pop("whole_request", None)
        if data is not None:
            conn.sock.setblocking(True)
            conn.init()
            conn.parser.unreader.unread(data)
        return super().handle(conn)


def worker_class(body_limit: int) -> type[BufferingThreadWorker]:
    """The worker class for a service whose bodies may be up to `body_limit` bytes.

    Raises:
        RuntimeError: the installed gunicorn's gthread lacks a method this worker relies on.
    """
    missing = [name for name in GTHREAD_HOOKS if not hasattr(gthread.ThreadWorker, name)]
    if missing:
        raise RuntimeError(f"gunicorn's gthread worker lacks {', '.join(missing)}: need 27.x")
    return type("BufferingThreadWorker", (BufferingThreadWorker,), {"body_limit": body_limit})
