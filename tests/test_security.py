"""Security measures over HTTP: headers, no CORS, credentials, body limits, failed-auth limit."""

from __future__ import annotations

import hmac
import io
import re
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from helpers import (
    SECOND_TOKEN,
    SECRET,
    TOKEN,
    auth,
    dead_redis_url,
    delivery,
    free_port,
    make_settings,
    now_ms,
    post_delivery,
    signed,
)

from webhook_service.config import ConfigError, Secret, Settings
from webhook_service.http import auth as auth_module
from webhook_service.http.openapi import build_spec
from webhook_service.http.security import HSTS, SECURITY_HEADERS, client_bucket
from webhook_service.ingest import signature

INGEST = "/webhooks/livepeer"
LIMIT = 3
# What gunicorn sets for a chunked request: the server has de-chunked and terminated the input.
CHUNKED = {"wsgi.input_terminated": True}


def assert_problem(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert set(problem) == {"type", "title", "status", "detail"}
    assert problem["status"] == status and problem["detail"]
    return problem


@pytest.fixture
def app_with(make_app, redis_url, key_prefix):
    """A factory of apps on this test's key prefix (or `url`), with settings overridden."""

    def make(url=None, **overrides):
        return make_app(make_settings(url or redis_url, key_prefix, **overrides))

    return make


@pytest.fixture
def limited(app_with):
    """A client of an app that blocks an address after LIMIT wrong credentials."""
    return app_with(auth_failure_limit=LIMIT).test_client()


def from_addr(addr, headers=None):
    """Headers of a request that the trusted local proxy forwarded for `addr`."""
    return {**(headers or {}), "X-Forwarded-For": addr}


# --- Security headers and CORS ----------------------------------------------------------------


def _signed_ok():
    raw, headers = signed(delivery())
    return {"data": raw, "headers": headers}


ANSWERS = [
    pytest.param("GET", "/healthz", lambda: {}, 200, id="healthz"),
    pytest.param("GET", "/openapi.json", lambda: {}, 200, id="openapi"),
    pytest.param("GET", "/metrics", lambda: {}, 200, id="metrics"),
    pytest.param("GET", "/api/streams", lambda: {"headers": auth()}, 200, id="api-200"),
    pytest.param("GET", "/api/streams", lambda: {}, 401, id="api-401"),
    pytest.param("GET", "/api/streams/nope", lambda: {"headers": auth()}, 404, id="api-404"),
    pytest.param("GET", "/no/such/route", lambda: {}, 404, id="unknown-route"),
    pytest.param("POST", INGEST, _signed_ok, 200, id="ingest-200"),
    pytest.param("POST", INGEST, lambda: {"data": b"{}"}, 401, id="ingest-401"),
    pytest.param("GET", INGEST, lambda: {}, 405, id="ingest-405"),
    pytest.param("POST", INGEST, lambda: {"data": b"x" * 1_048_577}, 413, id="ingest-413"),
]


@pytest.mark.parametrize(("method", "path", "make_kwargs", "status"), ANSWERS)
def test_every_answer_carries_the_security_headers(client, method, path, make_kwargs, status):
    """Successes, problems and unknown routes all carry the headers; no HSTS over plain http."""
    response = client.open(path, method=method, **make_kwargs())
    assert response.status_code == status
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value, name
    assert response.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in response.headers


@pytest.mark.parametrize("path", ["/healthz", "/api/streams", INGEST])
def test_hsts_is_sent_over_https_only(client, path):
    """Strict-Transport-Security comes with https answers (wsgi.url_scheme), never with http."""
    secure = client.open(path, base_url="https://localhost", headers=auth())
    assert secure.headers["Strict-Transport-Security"] == HSTS
    plain = client.open(path, base_url="http://localhost", headers=auth())
    assert "Strict-Transport-Security" not in plain.headers


@pytest.mark.parametrize("path", ["/api/streams", INGEST, "/healthz"])
@pytest.mark.parametrize("method", ["GET", "POST", "OPTIONS"])
def test_no_cors_header_is_ever_sent(client, path, method):
    """Neither a cross-origin request nor a preflight gets an Access-Control-* header."""
    headers = {
        **auth(),
        "Origin": "https://attacker.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, livepeer-signature",
    }
    response = client.open(path, method=method, headers=headers)
    assert response.status_code < 500
    assert not [h for h in response.headers.keys() if h.lower().startswith("access-control-")]


# --- Credentials: never from a query string, compared in constant time ------------------------


@pytest.mark.parametrize(
    "name", ["token", "access_token", "secret", "api_key", "bearer", "authorization"]
)
def test_ops_token_in_the_query_string_is_ignored(client, name):
    """A token in the query string (it would reach access logs) never authenticates."""
    assert_problem(client.get(f"/api/streams?{name}={TOKEN}"), 401)


@pytest.mark.parametrize("name", ["secret", "signature", "Livepeer-Signature", "v1"])
def test_webhook_credentials_in_the_query_string_are_ignored(client, name):
    """Neither the secret nor a valid signature is read from the query string of a delivery."""
    raw, headers = signed(delivery())
    value = SECRET if name == "secret" else headers["Livepeer-Signature"]
    response = client.post(
        INGEST,
        query_string={name: value},
        data=raw,
        headers={"Content-Type": "application/json"},
    )
    assert_problem(response, 401)


@pytest.mark.parametrize("presented", [TOKEN, SECOND_TOKEN, "wrong", TOKEN + "x", ""])
def test_every_configured_token_is_compared_whatever_matches(monkeypatch, presented):
    """The token check compares against every configured token, with hmac.compare_digest."""
    calls = []
    compare = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return compare(a, b)

    monkeypatch.setattr(auth_module.hmac, "compare_digest", spy)
    tokens = (Secret(TOKEN), Secret(SECOND_TOKEN), Secret("third-token"))
    assert auth_module.token_matches(presented, tokens) is (presented in (TOKEN, SECOND_TOKEN))
    assert len(calls) == len(tokens)


@pytest.mark.parametrize("signed_with", [SECRET, "other-secret", "not-configured"])
def test_every_secret_and_digest_is_compared_whatever_matches(monkeypatch, signed_with):
    """Verification compares every v1 digest with every secret, with hmac.compare_digest."""
    calls = []
    compare = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return compare(a, b)

    monkeypatch.setattr(signature.hmac, "compare_digest", spy)
    body = b'{"id":"e"}'
    header = f"{signature.format_header(body, signed_with, 1)},v1={'0' * 64}"
    try:
        signature.verify(body, header, [SECRET, "other-secret"])
    except signature.SignatureError:
        assert signed_with == "not-configured"
    assert len(calls) == 2 * 2


# --- SSRF: probes go to the configured hosts only ---------------------------------------------


@pytest.fixture
def listener():
    """A local HTTP server that records every request: what an SSRF would reach."""
    hits = []

    class Record(BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()

        do_POST = do_HEAD = do_GET

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Record)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_probes_never_go_to_a_host_named_in_a_request(app_with, listener):
    """URLs and hosts in a request body, a header, or a delivery's fields are never contacted:
    diagnosis probes go to the configured API and CDN only (here a closed port)."""
    target, hits = listener
    dead = f"http://127.0.0.1:{free_port()}"
    app = app_with(
        livepeer_api_url=dead, livepeer_playback_url=dead, livepeer_api_key=Secret("api-key")
    )
    client = app.test_client()
    body = delivery(event="recording.ready", stream_id="ssrf")
    body["stream"]["playbackId"] = f"x@{target}/"
    body["payload"] = {
        "session": {"id": "ses-ssrf", "recordingUrl": f"http://{target}/rec.m3u8"},
        "mp4Url": f"http://{target}/rec.mp4",
    }
    assert post_delivery(client, body).status_code == 200
    hostile = {**auth(), "Host": target, "X-Forwarded-Host": target, "Livepeer-Jwt": target}
    for url in (f"rtmp://{target}/live/k", f"http://{target}/", f"//{target}"):
        rtmp = {"stream_key": "sk-ssrf-1", "ingest_url": url}
        for path in ("/api/diagnosis/rtmp", "/api/streams/ssrf/diagnosis/rtmp"):
            assert client.post(path, json=rtmp, headers=hostile).status_code == 200
    assert client.get("/api/streams/ssrf/diagnosis", headers=hostile).status_code == 200
    assert hits == []
    urllib.request.urlopen(f"http://{target}/reachable", timeout=5).close()
    assert hits == ["/reachable"]  # the listener did answer: silence above means no request


# --- Body limits -------------------------------------------------------------------------------


def post_routes(app):
    """Every POST route of the app (its OpenAPI paths: Flask's and the ingest endpoint's), with
    `x` for each path parameter."""
    paths = build_spec(app)["paths"]
    return sorted(re.sub(r"\{[a-z_]+\}", "x", path) for path, ops in paths.items() if "post" in ops)


def test_every_post_route_refuses_a_body_over_the_limit(app):
    """Each POST route answers an authorised body one byte over the limit with a 413 problem."""
    client = app.test_client()
    limit = app.config["SETTINGS"].max_body_bytes
    paths = post_routes(app)
    assert {INGEST, "/api/diagnosis/rtmp"} <= set(paths)
    for path in paths:
        response = client.post(
            path,
            data=b"{" + b" " * (limit - 1) + b"}",
            headers={**auth(), "Content-Type": "application/json"},
        )
        assert_problem(response, 413)


def test_every_post_route_refuses_a_chunked_body_over_the_limit(app):
    """Without Content-Length (chunked, de-chunked by gunicorn) the limit still holds."""
    client = app.test_client()
    limit = app.config["SETTINGS"].max_body_bytes
    for path in post_routes(app):
        response = client.post(
            path,
            input_stream=io.BytesIO(b"{" + b" " * limit + b"}"),
            headers={**auth(), "Content-Type": "application/json", "Transfer-Encoding": "chunked"},
            environ_overrides=CHUNKED,
        )
        assert_problem(response, 413)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_at_the_limit_is_read_whole(client, chunked):
    """Exactly the limit is allowed, chunked too: the rtmp check reads and judges such a body."""
    body = b'{"stream_key": "sk-1"}'
    padded = body[:-1] + b" " * (1_048_576 - len(body)) + b"}"
    if chunked:
        kwargs = {
            "input_stream": io.BytesIO(padded),
            "headers": {**auth(), "Transfer-Encoding": "chunked"},
            "environ_overrides": CHUNKED,
        }
    else:
        kwargs = {"data": padded, "headers": auth()}
    response = client.post("/api/diagnosis/rtmp", **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["check"] == "rtmp"


# --- Failed-auth rate limit on /api/* ---------------------------------------------------------


def test_wrong_credentials_block_the_address_for_every_api_request(limited):
    """After LIMIT wrong tokens, every /api request from the address is a 429, a right token too."""
    addr = "203.0.113.7"
    for _ in range(LIMIT):
        assert_problem(limited.get("/api/streams", headers=from_addr(addr, auth("wrong"))), 401)
    for headers in (auth("wrong"), auth(), {}):
        response = limited.get("/api/events", headers=from_addr(addr, headers))
        problem = assert_problem(response, 429)
        assert problem["type"].endswith(":auth-rate-limited")
        assert 0 < int(response.headers["Retry-After"]) <= 300
        assert TOKEN not in response.get_data(as_text=True)


def test_other_addresses_are_not_blocked(limited):
    """The limit is per client address: a blocked neighbour does not lock anyone else out."""
    for _ in range(LIMIT + 2):
        limited.get("/api/streams", headers=from_addr("203.0.113.7", auth("wrong")))
    assert limited.get("/api/streams", headers=from_addr("203.0.113.8", auth())).status_code == 200
    assert limited.get("/api/streams", headers=auth()).status_code == 200  # 127.0.0.1 itself


def test_forwarded_for_from_an_untrusted_peer_does_not_evade_the_limit(limited):
    """A client that is not a trusted proxy cannot pick a fresh address with X-Forwarded-For."""
    peer = {"REMOTE_ADDR": "198.51.100.9"}
    statuses = [
        limited.get(
            "/api/streams",
            headers=from_addr(f"192.0.2.{n}", auth("wrong")),
            environ_base=peer,
        ).status_code
        for n in range(LIMIT + 1)
    ]
    assert statuses == [401] * LIMIT + [429]
    assert limited.get("/api/streams", headers=auth(), environ_base=peer).status_code == 429


def test_ipv6_clients_are_limited_per_64(limited):
    """An IPv6 client cannot escape the limit by moving to another address of its /64."""
    for n in range(LIMIT):
        limited.get("/api/streams", headers=from_addr(f"2001:db8:1:2::{n + 1}", auth("wrong")))
    same_64 = limited.get("/api/streams", headers=from_addr("2001:db8:1:2::ff", auth()))
    assert same_64.status_code == 429
    other_64 = limited.get("/api/streams", headers=from_addr("2001:db8:1:3::1", auth()))
    assert other_64.status_code == 200


def test_missing_credentials_are_not_counted(limited):
    """A request without Authorization guesses nothing: it is a 401 and never leads to a 429."""
    for _ in range(LIMIT * 3):
        assert_problem(limited.get("/api/streams"), 401)
    assert limited.get("/api/streams", headers=auth()).status_code == 200


def test_the_block_ends_with_its_window(app_with):
    """Once the window (from the first failure) has passed, the address is served again."""
    client = app_with(auth_failure_limit=1, auth_failure_window_seconds=1).test_client()
    assert_problem(client.get("/api/streams", headers=auth("wrong")), 401)
    assert_problem(client.get("/api/streams", headers=auth()), 429)
    time.sleep(1.2)
    assert client.get("/api/streams", headers=auth()).status_code == 200


def test_every_api_route_is_behind_the_limit(app_with):
    """Every route under /api, whatever its blueprint or method, refuses a blocked address."""
    app = app_with(auth_failure_limit=1)
    client = app.test_client()
    client.get("/api/streams", headers=auth("wrong"))
    checked = 0
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        path = rule.build({arg: "x" for arg in rule.arguments})[1]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            assert_problem(client.open(path, method=method, headers=auth()), 429)
            checked += 1
    assert checked >= 9


def test_the_openapi_document_names_the_429_of_api_routes_only(client):
    """/openapi.json lists 429 for every /api operation, and for nothing else."""
    paths = client.get("/openapi.json").get_json()["paths"]
    for path, operations in paths.items():
        for operation in operations.values():
            assert ("429" in operation["responses"]) is path.startswith("/api/"), path


def test_the_ingest_route_is_never_rate_limited(app_with):
    """A hundred bad deliveries from one address are each a 401, never a 429 (Livepeer drops
    deliveries on a 4xx, so a 429 would lose events); a good one is accepted afterwards."""
    client = app_with(auth_failure_limit=1).test_client()
    body = delivery()
    raw, _ = signed(body)
    for n in range(100):
        headers = {"Livepeer-Signature": f"t={n},v1={'0' * 64}", **auth("wrong")}
        assert_problem(client.post(INGEST, data=raw, headers=headers), 401)
    assert post_delivery(client, body).status_code == 200


def test_metrics_token_failures_are_not_limited(app_with):
    """The limiter guards /api only: /metrics keeps answering 401 to a wrong METRICS_TOKEN."""
    client = app_with(auth_failure_limit=1, metrics_token=Secret("metrics-token")).test_client()
    for _ in range(5):
        assert_problem(client.get("/metrics", headers=auth("wrong")), 401)
    assert client.get("/metrics", headers=auth("metrics-token")).status_code == 200


def test_the_limiter_fails_open_when_redis_is_down(app_with, key_prefix):
    """Without Redis, wrong tokens stay 401 (never 429 or 500) and a right one reaches the route."""
    app = app_with(dead_redis_url(), auth_failure_limit=1)
    client = app.test_client()
    for _ in range(3):
        assert_problem(client.get("/api/streams", headers=auth("wrong")), 401)
    assert_problem(client.get("/api/streams", headers=auth()), 503)


def test_failure_counter_key_is_pinned(limited, redis_client, key_prefix):
    """Failures live in one expiring counter per client; the presented tokens are not stored."""
    for _ in range(2):
        limited.get("/api/streams", headers=from_addr("203.0.113.7", auth("presented-guess")))
    key = f"{key_prefix}:{{~global}}:auth-fail:203.0.113.7"
    assert redis_client.get(key) == b"2"
    assert 0 < redis_client.ttl(key) <= 300
    keys = [k.decode() for k in redis_client.scan_iter(match=f"{key_prefix}:*")]
    assert [k for k in keys if "auth-fail" in k] == [key]
    assert not [k for k in keys if "presented-guess" in k]


@pytest.mark.parametrize(
    ("address", "bucket"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("::1", "::/64"),
        ("", "unknown"),
        (None, "unknown"),
        ("/run/gunicorn.sock", "unknown"),
        ("203.0.113.7\r\nX: y", "unknown"),
        ("203.0.113.7:5555", "unknown"),
    ],
)
def test_client_bucket(address, bucket):
    """IPv4 addresses count alone, IPv6 ones per /64; anything else is one `unknown` client."""
    assert client_bucket(address) == bucket


def test_limit_settings_come_from_the_environment():
    """AUTH_FAILURE_LIMIT (0 turns it off) and AUTH_FAILURE_WINDOW_SECONDS; defaults 30 in 300 s."""
    base = {"LIVEPEER_WEBHOOK_SECRET": "s", "OPS_API_TOKEN": "t"}
    defaults = Settings.from_env(base)
    assert (defaults.auth_failure_limit, defaults.auth_failure_window_seconds) == (30, 300)
    custom = Settings.from_env(
        {**base, "AUTH_FAILURE_LIMIT": "0", "AUTH_FAILURE_WINDOW_SECONDS": "60"}
    )
    assert (custom.auth_failure_limit, custom.auth_failure_window_seconds) == (0, 60)
    for bad in ({"AUTH_FAILURE_LIMIT": "-1"}, {"AUTH_FAILURE_WINDOW_SECONDS": "0"}):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            Settings.from_env({**base, **bad})


def test_a_disabled_limit_never_blocks(app_with):
    """AUTH_FAILURE_LIMIT=0: wrong tokens stay 401 however many come."""
    client = app_with(auth_failure_limit=0).test_client()
    for _ in range(40):
        assert_problem(client.get("/api/streams", headers=auth("wrong")), 401)
    assert client.get("/api/streams", headers=auth()).status_code == 200


def test_a_replay_within_the_tolerance_changes_nothing(client):
    """The same signed bytes sent again inside the window are a duplicate: nothing re-applied."""
    raw, headers = signed(delivery(stream_id="replayed"))
    first = client.post(INGEST, data=raw, headers=headers)
    replay = client.post(INGEST, data=raw, headers=headers)
    assert first.get_json()["duplicate"] is False
    assert replay.status_code == 200 and replay.get_json()["duplicate"] is True
    events = client.get("/api/streams/replayed/events", headers=auth()).get_json()["events"]
    assert len(events) == 1


def test_a_replay_after_the_tolerance_is_refused(client):
    """A captured delivery replayed once its signed timestamp is out of the window is a 401."""
    old = now_ms() - 301_000
    response = post_delivery(client, delivery(timestamp=old))
    assert assert_problem(response, 401)["type"].endswith(":stale")
