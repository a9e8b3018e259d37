"""Slow clients cannot starve ingest: the real `livepeer-webhooks serve`, no proxy in front.

The main test: 64 unauthenticated connections dribble their headers, dribble a body, or send
nothing (each one the server closes is opened again, as an attacker would); 2 s later 4
clients send 100 signed deliveries over more than 10 s, and every one must be answered 200
within 3 s; then SIGTERM with the slow connections still open must end the server promptly.
Loopback only, bounded in time: the deliveries stop early once enough of them failed for the
verdict to be certain. The others hold what the worker that does this (cli/buffering.py)
must keep: the diagnosis bulkhead, a stalled probe holding only its thread, request framing
(chunked, pipelined, `Expect: 100-continue`, a body over the limit), and when a request
counts as whole.
"""

from __future__ import annotations

import http.client
import json
import select
import signal
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from helpers import delivery, make_settings, signed
from test_server import SECRET, TOKEN, Server, bearer, delete_prefix, request, server_env

from webhook_service.cli.buffering import HEADER_LIMIT, BufferingThreadWorker, request_complete
from webhook_service.cli.server import gunicorn_options

pytestmark = pytest.mark.e2e

SLOW_CONNECTIONS = 64
HEAD_START_SECONDS = 2.0
CLIENTS = 4
DELIVERIES_PER_CLIENT = 25
SPACING_SECONDS = 0.42  # 25 per client x 0.42 s: the deliveries span just over 10 s
ANSWER_WITHIN_SECONDS = 3.0
GIVE_UP_AFTER_FAILURES = 8  # the verdict is certain; do not spend minutes proving it
KINDS = ("headers", "body", "nothing")


@dataclass
class SlowConnection:
    """One unauthenticated connection that sends its request at a crawl, or not at all."""

    kind: str
    sock: socket.socket
    sent: int = 0


@dataclass
class SlowClients:
    """Keeps `count` slow connections open to a port until stopped, re-opening closed ones."""

    port: int
    count: int
    opened: int = 0
    reopened: int = 0
    connections: list[SlowConnection] = field(default_factory=list)
    stop_event: threading.Event = field(default_factory=threading.Event)

    def _open(self, kind: str) -> SlowConnection:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        sock.setblocking(False)
        self.opened += 1
        conn = SlowConnection(kind, sock)
        if kind == "headers":
            self._send(conn, b"POST /webhooks/livepeer HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        elif kind == "body":
            head = (
                "POST /webhooks/livepeer HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"
            )
            self._send(conn, head.encode())
        return conn

    @staticmethod
    def _send(conn: SlowConnection, data: bytes) -> bool:
        try:
            conn.sock.send(data)
        except OSError:
            return False
        conn.sent += len(data)
        return True

    @staticmethod
    def _closed_by_server(conn: SlowConnection) -> bool:
        readable, _, _ = select.select([conn.sock], [], [], 0)
        if not readable:
            return False
        try:
            conn.sock.recv(65536)  # an answer (408, 400) or EOF: the server let go either way
        except BlockingIOError:
            return False
        except OSError:
            pass
        return True

    def start(self) -> SlowClients:
        self.connections = [self._open(KINDS[i % len(KINDS)]) for i in range(self.count)]
        threading.Thread(target=self._run, name="slow-clients", daemon=True).start()
        return self

    def _run(self) -> None:
        tick = 0
        while not self.stop_event.wait(1.0):
            tick += 1
            for i, conn in enumerate(self.connections):
                alive = not self._closed_by_server(conn)
                if alive and conn.kind == "headers":
                    alive = self._send(conn, b"a")  # one byte a second, a header never ending
                elif alive and conn.kind == "body" and tick % 3 == 0:
                    alive = self._send(conn, b" ")  # one byte every 3 s
                if not alive and not self.stop_event.is_set():
                    conn.sock.close()
                    try:
                        self.connections[i] = self._open(conn.kind)
                        self.reopened += 1
                    except OSError:
                        pass

    def freeze(self) -> None:
        """Stop sending and re-opening; the connections stay open."""
        self.stop_event.set()
        time.sleep(0.1)

    def stop(self) -> None:
        self.freeze()
        for conn in self.connections:
            conn.sock.close()


@dataclass
class Answer:
    """One signed delivery's outcome: HTTP status (0 for none) and seconds to the answer."""

    status: int
    seconds: float
    error: str = ""


def deliver(port: int, stream_id: str) -> Answer:
    raw, headers = signed(delivery("stream.started", stream_id), SECRET)
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=ANSWER_WITHIN_SECONDS)
    try:
        conn.request("POST", "/webhooks/livepeer", body=raw, headers=headers)
        response = conn.getresponse()
        body = response.read()
        if response.status == 200:
            assert json.loads(body)["duplicate"] is False
        return Answer(response.status, time.monotonic() - started)
    except OSError as error:
        return Answer(0, time.monotonic() - started, type(error).__name__)
    finally:
        conn.close()


def deliver_paced(port: int) -> tuple[list[Answer], float]:
    """CLIENTS threads, each sending DELIVERIES_PER_CLIENT deliveries SPACING_SECONDS apart."""
    answers: list[Answer] = []
    lock = threading.Lock()
    give_up = threading.Event()
    started = time.monotonic()

    def client(n: int) -> None:
        for k in range(DELIVERIES_PER_CLIENT):
            wait = started + n * SPACING_SECONDS / CLIENTS + k * SPACING_SECONDS
            if give_up.wait(max(0.0, wait - time.monotonic())):
                return
            answer = deliver(port, f"slow-{n}-{k}-{uuid.uuid4().hex[:8]}")
            with lock:
                answers.append(answer)
                failed = [a for a in answers if a.status != 200 or a.seconds > 3.0]
                if len(failed) >= GIVE_UP_AFTER_FAILURES:
                    give_up.set()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return answers, time.monotonic() - started


@pytest.fixture
def server(tmp_path: Path, redis_url: str, key_prefix: str) -> Iterator[Server]:
    """`livepeer-webhooks serve` with its production defaults (2 workers)."""
    started = Server(server_env(redis_url, key_prefix), tmp_path).start()
    try:
        yield started
    finally:
        started.kill()


def test_slow_clients_do_not_keep_signed_deliveries_from_being_answered(server: Server) -> None:
    """64 dribbling or silent connections held open; 100 signed deliveries each 200 within 3 s."""
    slow = SlowClients(server.port, SLOW_CONNECTIONS).start()
    try:
        time.sleep(HEAD_START_SECONDS)
        answers, seconds = deliver_paced(server.port)
        held = sum(1 for c in slow.connections if c.sock.fileno() != -1)
        slow.freeze()
        stopping = time.monotonic()
        server.signal(signal.SIGTERM)  # with the slow connections still open
        exit_code = server.wait()
        stop_seconds = time.monotonic() - stopping
    finally:
        slow.stop()

    late = [a for a in answers if a.status != 200 or a.seconds > ANSWER_WITHIN_SECONDS]
    worst = max((a.seconds for a in answers), default=0.0)
    summary = (
        f"{len(answers)} deliveries in {seconds:.1f} s, {len(late)} not 200 within "
        f"{ANSWER_WITHIN_SECONDS} s (worst {worst:.2f} s; e.g. {late[:3]}); slow connections "
        f"opened {slow.opened}, re-opened {slow.reopened}"
    )
    assert not late, summary
    assert len(answers) == CLIENTS * DELIVERIES_PER_CLIENT, summary
    assert seconds >= 10.0, summary
    assert held == SLOW_CONNECTIONS, summary
    assert exit_code == 0, server.log()[-3000:]
    assert stop_seconds < 10, f"SIGTERM took {stop_seconds:.1f} s with slow connections open"


def test_diagnoses_stay_bounded_and_ingest_answers_while_one_hangs(
    tmp_path: Path, redis_url: str, key_prefix: str, fake
) -> None:
    """The real server: with its one diagnosis slot on a hanging CDN, another is 503, ingest 200."""
    env = server_env(
        redis_url,
        key_prefix,
        WEB_CONCURRENCY="1",
        GUNICORN_THREADS="2",  # one diagnosis slot
        LIVEPEER_PLAYBACK_URL=fake.cdn_url,
        PROBE_TIMEOUT_SECONDS="3",
    )
    server = Server(env, tmp_path).start()
    try:
        stream_id = f"bulk{uuid.uuid4().hex[:8]}"
        raw, headers = signed(delivery("stream.started", stream_id), SECRET)
        assert request(server.port, "POST", "/webhooks/livepeer", raw, headers)[0] == 200
        playback_id = f"pb{stream_id}"[:16]
        fake.set_cdn(playback_id, "hang")
        path = f"/api/streams/{stream_id}/diagnosis/hls"
        first: dict[str, int] = {}
        hanging = threading.Thread(
            target=lambda: first.update(
                status=request(server.port, "GET", path, None, bearer(TOKEN))[0]
            )
        )
        hanging.start()
        deadline = time.monotonic() + 5
        while not fake.hits(f"/region/hls/{playback_id}", server="cdn"):
            assert time.monotonic() < deadline, "the first diagnosis never reached the CDN"
            time.sleep(0.02)

        started = time.monotonic()
        status, answer_headers, _ = request(server.port, "GET", path, None, bearer(TOKEN))
        assert status == 503 and answer_headers["retry-after"]
        assert time.monotonic() - started < 1.5, "a full bulkhead answers at once"
        answer = deliver(server.port, stream_id)
        assert answer.status == 200 and answer.seconds < 1.5, answer
        hanging.join(15)
        assert first.get("status") == 200, first
        again = request(
            server.port, "GET", f"/api/streams/{stream_id}/diagnosis/rtmp", None, bearer(TOKEN)
        )
        assert again[0] == 200, "the slot was given back"
        assert server.stop() == 0, server.log()[-3000:]
    finally:
        server.kill()


@pytest.fixture
def silent_tls_port() -> Iterator[int]:
    """A port that accepts TCP connections and never answers (a TLS handshake stalls on it)."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        listener.close()


def test_a_stalled_tls_probe_does_not_stall_the_worker(
    tmp_path: Path, redis_url: str, key_prefix: str, silent_tls_port: int
) -> None:
    """A diagnosis stuck in a TLS handshake holds its own thread only: ingest answers at once."""
    env = server_env(
        redis_url,
        key_prefix,
        WEB_CONCURRENCY="1",
        LIVEPEER_PLAYBACK_URL=f"https://127.0.0.1:{silent_tls_port}",
        PROBE_TIMEOUT_SECONDS="3",
    )
    server = Server(env, tmp_path).start()
    try:
        stream_id = f"tls{uuid.uuid4().hex[:8]}"
        assert deliver(server.port, stream_id).status == 200
        path = f"/api/streams/{stream_id}/diagnosis/hls"
        diagnosis: dict[str, float] = {}

        def diagnose() -> None:
            started = time.monotonic()
            status, _, body = request(server.port, "GET", path, None, bearer(TOKEN), timeout=15)
            diagnosis["seconds"] = time.monotonic() - started
            diagnosis["status"] = status
            diagnosis["timed_out"] = json.loads(body).get("evidence", {}).get("reason") == "timeout"

        thread = threading.Thread(target=diagnose)
        thread.start()
        time.sleep(0.5)  # the probe is in its handshake with the silent port
        answers = [deliver(server.port, stream_id) for _ in range(3)]
        thread.join(20)
        assert diagnosis.get("status") == 200 and diagnosis.get("timed_out"), diagnosis
        assert diagnosis["seconds"] > 1.5, "the probe did not wait on the handshake"
        assert all(a.status == 200 and a.seconds < 1.5 for a in answers), answers
    finally:
        server.kill()


@pytest.mark.parametrize(
    ("data", "whole", "awaits_continue"),
    [
        (b"GET / HTTP/1.1\r\nHost: x\r\n", False, False),
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", True, False),
        (b"POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nabc", False, False),
        (b"POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcd", True, False),
        (b"POST / HTTP/1.1\r\ncontent-length:4\r\n\r\nabcdGET", True, False),
        (b"POST / HTTP/1.1\r\nContent-Length: 21\r\n\r\n", True, False),  # over the limit
        (b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", True, False),  # gunicorn: 400
        (b"POST / HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n", False, True),
        (b"POST / HTTP/1.1\r\nContent-Length: 0\r\nExpect: 100-continue\r\n\r\n", True, False),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n", False, False),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n", False, False),
        (
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n",
            True,
            False,
        ),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n\r\n", True, False),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", True, False),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + b"a" * 21, True, False),
        (b"GET / HTTP/1.1\r\nX: " + b"a" * (HEADER_LIMIT + 1), True, False),
    ],
)
def test_a_request_is_handed_to_a_thread_only_once_whole(data, whole, awaits_continue) -> None:
    """Whole = headers ended and body all there, or refused at once (too large, malformed)."""
    assert request_complete(data, body_limit=20) == (whole, awaits_continue)


@pytest.fixture(scope="module")
def plain_server(
    redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, str]]:
    """One server with default settings for the request-framing checks."""
    prefix = f"lpt-{uuid.uuid4().hex[:10]}"
    server = Server(server_env(redis_url, prefix), tmp_path_factory.mktemp("framing")).start()
    try:
        yield server, prefix
    finally:
        server.kill()
        delete_prefix(redis_url, prefix)


def raw_exchange(port: int, data: bytes, answers: int = 1, wait_for: bytes = b"") -> list[int]:
    """Send `data` on one connection (after `wait_for` is read, if given); the statuses read."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        if wait_for:
            head, _, rest = data.partition(b"\r\n\r\n")
            sock.sendall(head + b"\r\n\r\n")
            assert sock.recv(len(wait_for)) == wait_for
            data = rest
        sock.sendall(data)
        statuses = []
        reader = OneReader(sock)
        for _ in range(answers):
            response = http.client.HTTPResponse(reader)  # type: ignore[arg-type]  # a socket stand-in
            response.begin()
            response.read()
            statuses.append(response.status)
        return statuses


class OneReader:
    """One buffered reader for every answer read from a connection. http.client makes a reader
    per response, and the first one can read ahead into the next pipelined answer and lose it
    (the test then timed out waiting for an answer the server had sent)."""

    def __init__(self, sock: socket.socket) -> None:
        self._file = sock.makefile("rb")

    def makefile(self, *_args: Any, **_kwargs: Any) -> OneReader:
        return self

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)

    def close(self) -> None:
        """http.client closes its reader after each answer: the connection's reader stays."""


def signed_head(port: int, raw: bytes, headers: dict[str, str], *extra: str) -> bytes:
    lines = ["POST /webhooks/livepeer HTTP/1.1", f"Host: 127.0.0.1:{port}", *extra]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_chunked_pipelined_and_expect_continue_deliveries_are_answered(plain_server) -> None:
    """Request framing the event loop reads ahead of the threads: every delivery is answered."""
    server, _ = plain_server
    port = server.port
    raw, headers = signed(delivery("stream.started", f"fr-{uuid.uuid4().hex[:8]}"), SECRET)
    chunked = signed_head(port, b"", headers, "Transfer-Encoding: chunked")
    chunked += b"%x\r\n%s\r\n0\r\n\r\n" % (len(raw), raw)
    assert raw_exchange(port, chunked) == [200]

    two = b""
    for _ in range(2):
        raw, headers = signed(delivery("stream.started", f"fr-{uuid.uuid4().hex[:8]}"), SECRET)
        two += signed_head(port, raw, headers, f"Content-Length: {len(raw)}") + raw
    assert raw_exchange(port, two, answers=2) == [200, 200]

    raw, headers = signed(delivery("stream.started", f"fr-{uuid.uuid4().hex[:8]}"), SECRET)
    head = signed_head(port, raw, headers, f"Content-Length: {len(raw)}", "Expect: 100-continue")
    assert raw_exchange(port, head + raw, wait_for=b"HTTP/1.1 100 Continue\r\n\r\n") == [200]


def test_a_body_over_the_limit_is_refused_before_it_is_sent(plain_server) -> None:
    """Content-Length above WEBHOOK_MAX_BODY_BYTES: 413 at once, nothing read, connection closed."""
    server, _ = plain_server
    head = (
        f"POST /webhooks/livepeer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {10**8}\r\n"
        "Content-Type: application/json\r\n\r\n"
    ).encode()
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(head + b"{")
        response = http.client.HTTPResponse(sock)
        response.begin()
        response.read()
        assert response.status == 413
        assert sock.recv(1) == b"", "the connection is closed, not drained"
    assert time.monotonic() - started < 2


def test_serve_runs_the_buffering_gthread_worker_sized_by_the_settings() -> None:
    """GUNICORN_THREADS still counts request threads; bodies are read up to the service's limit."""
    settings = make_settings("redis://127.0.0.1:6379/0", threads=6, max_body_bytes=4096)
    options = gunicorn_options(settings, "127.0.0.1", "json")
    assert issubclass(options["worker_class"], BufferingThreadWorker)
    assert options["worker_class"].body_limit == 4096
    assert options["threads"] == 6
    assert options["worker_connections"] == 1000
