"""Hostile HTTP against the ingest route: never a 5xx but a 503 for Redis down, serving goes on.

Through the Flask test client with hypothesis-made requests, signed hostile deliveries read back
through the API, and a burst of malformed HTTP against the real server (gunicorn).
"""

from __future__ import annotations

import json
import re
import socket
import uuid

import pytest
from helpers import (
    SECRET,
    auth,
    dead_redis_url,
    delivery,
    make_settings,
    now_ms,
    post_delivery,
    signed,
)
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from services import service
from test_server import SECRET as SERVER_SECRET
from test_server import TOKEN, Server, request, server_env

from webhook_service.ingest.signature import format_header
from webhook_service.store import Store

INGEST = "/webhooks/livepeer"
MIN_MS, MAX_MS = 100_000_000_000, 253_402_300_800_000  # events.EpochMs: [min, max)
# One app serves every example: that it keeps serving is part of what is tested.
FUZZ = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

METHODS = ["POST", "GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "PROPFIND", "BREW"]
PATHS = [
    INGEST,
    INGEST + "/",
    "//webhooks/livepeer",
    "/webhooks/Livepeer",
    "/webhooks/livepeer%00",
    "/webhooks/livepeer/..%2f..%2fapi/streams",
    "/webhooks/livepeer;x=1",
]
# Anything WSGI can carry in a header value: latin-1 characters, control bytes, no line breaks.
header_text = st.text(st.characters(codec="latin-1", exclude_characters="\r\n"), max_size=300)
HEADER_VALUES = {
    "Content-Type": [
        "application/json",
        "application/json; charset=latin-1",
        "application/json; charset=utf-16",
        "text/plain",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded",
        "",
    ],
    "Content-Encoding": ["gzip", "deflate", "br", "identity", "gzip, gzip", "x" * 200],
    "Transfer-Encoding": ["chunked", "gzip, chunked", "identity", "chunked, chunked", "cHuNkEd"],
    "X-Forwarded-For": ["203.0.113.9", "::1, 10.0.0.1", "not-an-ip", "1.2.3.4" + ",1.2.3.4" * 500],
    "X-Forwarded-Proto": ["https", "http", "gopher"],
    "X-Request-ID": ["req-1", "a" * 129, "../../etc/passwd", "id\x00x"],
    "Authorization": [f"Bearer {TOKEN}", "Bearer", "Basic Zm9vOmJhcg=="],
    "Expect": ["100-continue"],
    "Origin": ["https://attacker.example", "null"],
    "Host": ["localhost", "", "a" * 300, "evil.example:99999"],
}
header_name = st.sampled_from(
    [*HEADER_VALUES, "Livepeer-Signature", "User-Agent", "Cookie", "Range", "Accept"]
) | st.from_regex(r"\A[A-Za-z][A-Za-z0-9-]{0,30}\Z")
PEERS = ["", "::1", "unix:", "999.1.1.1", "10.0.0.1"]
# Any bytes, as WSGI hands them over (latin-1).
query_string = st.binary(max_size=64).map(lambda raw: raw.decode("latin-1"))
CONTENT_LENGTHS = ["", "-1", "abc", "0", "1e3", " 12", "0x10", "99999999999999999999", "2"]


@st.composite
def header_values(draw, name):
    choices = HEADER_VALUES.get(name, [])
    if choices and draw(st.booleans()):
        return draw(st.sampled_from(choices))
    return draw(header_text)


@st.composite
def hostile_requests(draw):
    """A request aimed at the ingest route: any method, headers, body, and WSGI oddities."""
    headers = {}
    for name in draw(st.lists(header_name, max_size=6, unique_by=str.lower)):
        headers[name] = draw(header_values(name))
    body = draw(
        st.binary(max_size=2048)
        | st.builds(lambda d: json.dumps(d).encode(), st.builds(delivery))
        | st.just(b"")
    )
    if draw(st.booleans()):  # correctly signed: the body reaches the parser and freshness checks
        t = draw(st.sampled_from([now_ms(), now_ms() - 900_000, 5, 10**16 - 1]))
        headers["Livepeer-Signature"] = format_header(body, SECRET, t)
    environ = {}
    if draw(st.booleans()):
        environ["wsgi.input_terminated"] = True
    if draw(st.booleans()):
        environ["CONTENT_LENGTH"] = draw(st.sampled_from(CONTENT_LENGTHS))
    if draw(st.booleans()):
        environ["REMOTE_ADDR"] = draw(st.sampled_from(PEERS))
    return {
        "path": draw(st.sampled_from(PATHS)),
        "method": draw(st.sampled_from(METHODS)),
        "headers": headers,
        "data": body,
        "environ_overrides": {**environ, "QUERY_STRING": draw(query_string)},
    }


def assert_answer(response, method, allow_503=False):
    """No 5xx (but a storage 503 when allowed); every 4xx a problem+json; headers sane."""
    status = response.status_code
    body = response.get_data()
    if allow_503 and status == 503:
        assert json.loads(body)["type"].endswith(":storage-unavailable")
        assert int(response.headers["Retry-After"]) > 0
    else:
        assert status < 500, body[:500]
    if 400 <= status:
        assert response.mimetype == "application/problem+json"
        if method != "HEAD":
            problem = json.loads(body)
            assert problem["status"] == status and problem["detail"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert re.fullmatch(r"[A-Za-z0-9._:-]{1,128}", response.headers["X-Request-ID"])
    assert not [h for h in response.headers.keys() if h.lower().startswith("access-control-")]


def assert_still_serving(client):
    """A valid delivery is accepted and readiness holds after whatever came before."""
    fresh = delivery(stream_id=f"after-{uuid.uuid4().hex[:8]}")
    assert post_delivery(client, fresh).status_code == 200
    assert client.get("/readyz").status_code == 200


def test_hostile_requests_never_get_a_5xx_and_serving_goes_on(client):
    """Random methods, paths, headers, encodings, bodies and WSGI values: no 5xx, every 4xx a
    problem; afterwards the same app accepts a valid delivery."""

    @FUZZ
    @given(req=hostile_requests())
    def fuzz(req):
        assert_answer(client.open(**req), req["method"])

    fuzz()
    assert_still_serving(client)


def _huge(name, value, signed_ok=True):
    return pytest.param(name, value, signed_ok, id=f"{name}-{len(value)}")


@pytest.mark.parametrize(
    ("name", "value", "signed_ok"),
    [
        _huge("Livepeer-Signature", "t=1,v1=" + "a" * 65536, signed_ok=False),
        _huge("Livepeer-Signature", "\xff" * 65536, signed_ok=False),
        _huge("Livepeer-Signature", "v1=" + "0" * 64 + ",", signed_ok=False),
        _huge("X-Request-ID", "a" * 65536),
        _huge("X-Forwarded-For", "203.0.113.9, " * 5000),
        _huge("Content-Type", "application/json; " + "a=b; " * 13000),
        _huge("Content-Encoding", "gzip, " * 10000),
        _huge("Cookie", "a=" + "\x7f\x01" * 32768),
        _huge("User-Agent", "\xe9" * 65536),
    ],
)
def test_huge_header_values(client, name, value, signed_ok):
    """A 64 KiB header changes nothing: a signed delivery beside it is accepted, a huge
    signature is a 401."""
    body = delivery()
    raw, headers = signed(body)
    headers[name] = value
    response = client.post(INGEST, data=raw, headers=headers)
    assert_answer(response, "POST")
    assert response.status_code == (200 if signed_ok else 401)


def test_a_thousand_headers(client):
    """Many distinct headers on one request do not disturb an otherwise valid delivery."""
    raw, headers = signed(delivery())
    headers.update({f"X-Junk-{n}": "\x01" * 64 for n in range(1000)})
    assert_answer(client.post(INGEST, data=raw, headers=headers), "POST")


@pytest.fixture
def dead_redis_client(make_app, key_prefix):
    """A client of an app whose Redis URL points at a port where nothing listens."""
    return make_app(make_settings(dead_redis_url(), key_prefix)).test_client()


@settings(FUZZ, max_examples=50)
@given(req=hostile_requests())
def test_with_redis_down_the_only_5xx_is_a_storage_503(dead_redis_client, req):
    """Redis unreachable: signed valid deliveries get 503 + Retry-After, all else stays 4xx."""
    assert_answer(dead_redis_client.open(**req), req["method"], allow_503=True)


def test_with_redis_down_a_valid_delivery_is_a_503_with_retry_after(dead_redis_client):
    """The one 5xx of the ingest route: storage down, so that Livepeer retries."""
    response = post_delivery(dead_redis_client, delivery())
    assert_answer(response, "POST", allow_503=True)
    assert response.status_code == 503


class BrokenBody:
    """A server's body stream that fails, as gunicorn's does on a bad chunk or a lost client."""

    def __init__(self, error):
        self.error = error

    def read(self, size=-1):
        raise self.error


@pytest.mark.parametrize("error", [OSError("reset"), ValueError("closed"), Exception("parse")])
@pytest.mark.parametrize("path", [INGEST, "/api/diagnosis/rtmp"])
def test_a_body_the_server_cannot_read_is_a_400(client, path, error):
    """A malformed chunked encoding or a dropped connection is the client's fault: a 400 problem,
    and on the ingest route a delivery counted as malformed."""
    response = client.post(
        path,
        headers={**auth(), "Transfer-Encoding": "chunked", "Content-Type": "application/json"},
        environ_overrides={"wsgi.input": BrokenBody(error), "wsgi.input_terminated": True},
    )
    assert_answer(response, "POST")
    assert response.status_code == 400
    if path == INGEST:
        counts, _, _ = service(client.application, Store).delivery_stats(now_ms())
        assert counts == {"malformed": 1}


# --- signed hostile deliveries, read back --------------------------------------------------------

json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.text(st.characters() | st.characters(categories=["Cs"]), max_size=20),
)
json_any = st.recursive(
    json_leaf,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
    max_leaves=6,
)
STREAM_FIELDS = ["name", "playbackId", "record", "suspended", "createdAt", "playbackPolicy",
                 "isActive", "pull", "streamKey", "multistream"]  # fmt: skip
SESSION_FIELDS = ["recordingStatus", "recordingUrl", "mp4Url", "createdAt", "lastSeen",
                  "sourceSegments", "parentId", "id"]  # fmt: skip
PAYLOAD_FIELDS = ["recordingUrl", "mp4Url", "asset", "task", "success", "target"]
EVENTS = ["stream.started", "stream.idle", "recording.ready", "recording.waiting",
          "asset.failed", "task.failed", "asset.ready", "multistream.error"]  # fmt: skip


@settings(FUZZ, max_examples=50)
@given(
    event=st.sampled_from(EVENTS),
    stream=st.dictionaries(st.sampled_from(STREAM_FIELDS), json_any, max_size=4),
    session=st.dictionaries(st.sampled_from(SESSION_FIELDS), json_any, max_size=4),
    payload=st.dictionaries(st.sampled_from(PAYLOAD_FIELDS), json_any, max_size=3),
    created_at=st.integers(min_value=MIN_MS, max_value=MAX_MS - 1),
)
@example(  # half of a UTF-16 pair: once a 503 for ever (cjson) or a 500 on every read
    event="recording.ready",
    stream={"name": "\ud83d"},
    session={},
    payload={"mp4Url": "\udfff"},
    created_at=MIN_MS,
)
@example(  # the last millisecond an ISO-8601 answer can show, and times past it
    event="stream.started",
    stream={"createdAt": 10**20},
    session={"lastSeen": -(10**20)},
    payload={},
    created_at=MAX_MS - 1,
)
def test_signed_hostile_deliveries_never_break_a_read(
    offline_app, event, stream, session, payload, created_at
):
    """Authentic but odd deliveries (any JSON in the fields the service reads, lone surrogates,
    far-future times) are stored or refused, and every read of the stream still answers."""
    client = offline_app.test_client()
    body = delivery(event=event, stream_id="odd-stream", created_at=created_at)
    body["stream"].update(stream)
    body["payload"] = {**payload, "session": {"id": "odd-session", **session}}
    raw = json.dumps(body).encode()  # ASCII escapes: lone surrogates travel as "\ud800"
    response = client.post(INGEST, data=raw, headers=signed(raw, t=body["timestamp"])[1])
    assert_answer(response, "POST")
    for path in (
        "/api/streams",
        "/api/streams/odd-stream",
        "/api/streams/odd-stream/events",
        "/api/events",
        "/api/streams/odd-stream/diagnosis",
        "/api/diagnosis/webhooks",
    ):
        read = client.get(path, headers=auth())
        assert read.status_code in (200, 404), (path, read.get_data()[:300])


# --- the real server ---------------------------------------------------------------------------


def raw_exchange(port, data, timeout=5.0):
    """Send raw bytes, half-close, and return the status of the first answer (None if none)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server may answer and close before taking everything
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except OSError:
            pass
    match = re.match(rb"HTTP/1\.[01] (\d{3})", answer)
    return int(match.group(1)) if match else None


def _post(headers=b"", body=b"{}", length=True):
    head = b"POST /webhooks/livepeer HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + headers
    if length:
        head += b"Content-Length: %d\r\n" % len(body)
    return head + b"\r\n" + body


def _chunked(payload):
    return b"%x\r\n%s\r\n0\r\n\r\n" % (len(payload), payload)


RAW = [
    ("garbage-request-line", b"GARBAGE\r\n\r\n"),
    ("unknown-method", b"BREW /webhooks/livepeer HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    ("absolute-uri", b"POST http://evil.example/webhooks/livepeer HTTP/1.1\r\nHost: x\r\n"
     b"Connection: close\r\nContent-Length: 2\r\n\r\n{}"),
    ("http-1.0-no-host", b"POST /webhooks/livepeer HTTP/1.0\r\nContent-Length: 2\r\n\r\n{}"),
    ("64k-signature", _post(b"Livepeer-Signature: " + b"a" * 65536 + b"\r\n")),
    ("latin1-signature", _post(b"Livepeer-Signature: t=1,v1=\xff\xfe\xe9\r\n")),
    ("nul-in-header", _post(b"X-Junk: a\x00b\r\n")),
    ("control-in-header", _post(b"Livepeer-Signature: t=1\x01\x7f\r\n")),
    ("obs-fold", _post(b"Livepeer-Signature: t=1,\r\n v1=00\r\n")),
    ("200-headers", _post(b"".join(b"X-H-%d: v\r\n" % n for n in range(200)))),
    ("cl-and-te", _post(b"Transfer-Encoding: chunked\r\n", _chunked(b"{}"))),
    ("two-content-lengths", _post(b"Content-Length: 3\r\n", b"{}")),
    ("negative-content-length", _post(b"Content-Length: -5\r\n", b"{}", length=False)),
    ("huge-content-length", _post(b"Content-Length: 99999999999999\r\n", b"{}", length=False)),
    ("short-body", _post(b"Content-Length: 100\r\n", b"{}", length=False)),
    ("bad-chunk-size", _post(b"Transfer-Encoding: chunked\r\n", b"zz\r\nabc\r\n0\r\n\r\n", False)),
    ("unterminated-chunks", _post(b"Transfer-Encoding: chunked\r\n", b"5\r\nabc", length=False)),
    ("chunked-over-limit", _post(b"Transfer-Encoding: chunked\r\n",
                                 _chunked(b" " * 1_100_000), length=False)),
    ("chunked-rtmp-over-limit",
     b"POST /api/diagnosis/rtmp HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
     b"Authorization: Bearer " + TOKEN.encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\n"
     + _chunked(b" " * 1_100_000)),
    ("bad-chunk-rtmp",
     b"POST /api/diagnosis/rtmp HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
     b"Authorization: Bearer " + TOKEN.encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"zz\r\nabc\r\n0\r\n\r\n"),
    ("gzip-body", _post(b"Content-Encoding: gzip\r\n", b"\x1f\x8b\x08\x00" + b"\x00" * 20)),
    ("websocket-upgrade", _post(b"Upgrade: websocket\r\nConnection: Upgrade\r\n")),
]  # fmt: skip


@pytest.mark.e2e
def test_the_real_server_survives_a_hostile_burst(redis_url, key_prefix, tmp_path):
    """Malformed HTTP against gunicorn: every answer below 500; then a valid delivery is 200, HSTS
    comes through a trusted proxy's X-Forwarded-Proto, the failed-auth limit is shared by both
    workers, and no traceback reached the log."""
    env = server_env(redis_url, key_prefix, AUTH_FAILURE_LIMIT="5")
    server = Server(env, tmp_path)
    try:
        server.start()
        statuses = {name: raw_exchange(server.port, data) for name, data in RAW}
        assert all(s is None or s < 500 for s in statuses.values()), statuses
        assert statuses["64k-signature"] is not None and statuses["latin1-signature"] == 401
        assert statuses["chunked-over-limit"] == 413
        assert statuses["chunked-rtmp-over-limit"] == 413
        assert statuses["bad-chunk-size"] == statuses["bad-chunk-rtmp"] == 400

        raw, headers = signed(delivery(), SERVER_SECRET)
        assert request(server.port, "POST", INGEST, raw, headers)[0] == 200
        secure = request(server.port, "GET", "/healthz", headers={"X-Forwarded-Proto": "https"})
        assert "strict-transport-security" in secure[1]
        assert "strict-transport-security" not in request(server.port, "GET", "/healthz")[1]

        # Each request on a new connection: both workers see them; the count lives in Redis.
        wrong = {"Authorization": "Bearer wrong", "X-Forwarded-For": "203.0.113.50"}
        answers = [request(server.port, "GET", "/api/streams", headers=wrong)[0] for _ in range(6)]
        assert answers == [401] * 5 + [429]
        right = {"Authorization": f"Bearer {TOKEN}"}
        assert request(server.port, "GET", "/api/streams", headers=right)[0] == 200
        assert server.stop() == 0
        log = server.log()
        assert "Traceback" not in log and "unhandled error" not in log
    finally:
        server.kill()
