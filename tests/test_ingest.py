"""POST /webhooks/livepeer through the Flask test client against a real Redis."""

from __future__ import annotations

import io
import json
import logging

import pytest
from helpers import (
    OTHER_SECRET,
    SECRET,
    assert_problem,
    auth,
    dead_redis_url,
    delivery,
    make_settings,
    now_ms,
    post_delivery,
    signed,
    stored_text,
)
from services import service

from webhook_service.store import Store

URL = "/webhooks/livepeer"
# What gunicorn sets for a chunked request: the server has de-chunked and terminated the input.
CHUNKED = {"wsgi.input_terminated": True}


def stored_keys(redis_client, key_prefix):
    """Keys holding events or streams (rejection counters and the delivery log are expected,
    and skipped)."""
    keys = (k.decode() for k in redis_client.scan_iter(match=f"{key_prefix}:*"))
    bookkeeping = ("delivery-times", ":deliveries", ":deliveries:unverified")
    return sorted(k for k in keys if ":rejections:" not in k and not k.endswith(bookkeeping))


def test_first_delivery_is_accepted(client):
    """A valid delivery answers 200 with id, event and duplicate=false."""
    body = delivery()
    response = post_delivery(client, body)
    assert response.status_code == 200
    assert response.get_json() == {"id": body["id"], "event": "stream.started", "duplicate": False}


def test_retry_with_new_timestamp_is_a_duplicate(client):
    """Livepeer's retry keeps id and createdAt but re-signs a new timestamp: a duplicate."""
    body = delivery()
    post_delivery(client, body)
    retry = {**body, "timestamp": body["timestamp"] + 5000}
    response = post_delivery(client, retry)
    assert response.status_code == 200
    assert response.get_json()["duplicate"] is True


def test_rotated_secret_is_accepted(client):
    """With two secrets configured, a delivery signed with either verifies."""
    assert post_delivery(client, delivery(), secret=OTHER_SECRET).status_code == 200


def test_unknown_event_names_are_kept(client):
    """An event name Livepeer adds later is stored, not rejected."""
    body = delivery(event="stream.teleported")
    assert post_delivery(client, body).status_code == 200
    events = client.get("/api/streams/stream-1/events", headers=auth()).get_json()["events"]
    assert [e["event"] for e in events] == ["stream.teleported"]


def _signed_raw(raw: bytes, t: int | None = None):
    return signed(raw, SECRET, t if t is not None else now_ms())


def _case(name, data, headers, status):
    return pytest.param(data, headers, status, id=name)


def bad_cases():
    now = now_ms()
    valid = delivery(timestamp=now)
    raw, good_headers = signed(valid)
    json_ct = {"Content-Type": "application/json"}

    def sig(header):
        return {**json_ct, "Livepeer-Signature": header}

    def resigned(document, t=None):
        data = json.dumps(document).encode() if not isinstance(document, bytes) else document
        return data, _signed_raw(data, t if t is not None else now)[1]

    cases = [
        _case("no-signature", raw, json_ct, 401),
        _case("empty-signature", raw, sig(""), 401),
        _case("garbage-signature", raw, sig("ÿþ=☃;;,,=="), 401),
        _case("signature-4kb", raw, sig("t=1,v1=" + "a" * 4096), 401),
        _case("signature-control-bytes", raw, sig("t=1\x01,v1=\x7f"), 401),
        _case("wrong-secret", *signed(valid, "not-the-secret"), 401),
        _case("tampered-body", raw.replace(b"stream-1", b"stream-2"), good_headers, 401),
        _case("not-json", *resigned(b"not json at all"), 400),
        _case("json-array", *resigned(b"[1,2,3]"), 400),
        _case("json-string", *resigned(b'"hi"'), 400),
        _case("missing-id", *resigned({k: v for k, v in valid.items() if k != "id"}), 400),
        _case(
            "missing-createdAt",
            *resigned({k: v for k, v in valid.items() if k != "createdAt"}),
            400,
        ),
        _case("id-not-token", *resigned({**valid, "id": "a b/c"}), 400),
        _case("stream-id-not-token", *resigned({**valid, "stream": {"id": "{x}"}}), 400),
        _case("timestamp-string", *resigned({**valid, "timestamp": str(now)}), 400),
        _case("createdAt-float", *resigned({**valid, "createdAt": 1.5}), 400),
        _case("body-timestamp-seconds", *resigned({**valid, "timestamp": now // 1000}), 400),
        _case("header-t-seconds", raw, _signed_raw(raw, now // 1000)[1], 401),
        _case("header-t-differs", raw, _signed_raw(raw, now + 1)[1], 401),
        # Collected before the tests run: a wide margin keeps these outside the 300 s window.
        _case("stale", *resigned({**valid, "timestamp": now - 900_000}, now - 900_000), 401),
        _case("future", *resigned({**valid, "timestamp": now + 900_000}, now + 900_000), 401),
    ]
    return cases


@pytest.mark.parametrize(("data", "headers", "status"), bad_cases())
def test_bad_input_is_rejected_and_nothing_is_stored(
    client, redis_client, key_prefix, data, headers, status
):
    """Each bad delivery gets its status and a problem body, nothing is stored, serving goes on."""
    response = client.post(URL, data=data, headers=headers)
    assert_problem(response, status)
    assert stored_keys(redis_client, key_prefix) == []
    counts, _, _ = service(client.application, Store).delivery_stats(now_ms())
    assert sum(counts.values()) == 1
    [listed] = client.get("/api/deliveries", headers=auth()).get_json()["deliveries"]
    expected = {400: "malformed", 401: ("bad_signature", "stale"), 413: "too_large"}[status]
    assert listed["outcome"] in expected and listed["detail"] == response.get_json()["detail"]
    assert listed["request_id"] == response.headers["X-Request-ID"]
    assert post_delivery(client, delivery()).status_code == 200


@pytest.mark.parametrize("size", [1_048_577, 5_000_000])
def test_body_over_the_limit_is_413(client, size):
    """A body larger than WEBHOOK_MAX_BODY_BYTES answers 413 before any signature check."""
    response = client.post(URL, data=b"x" * size, headers={"Content-Type": "application/json"})
    assert_problem(response, 413)


def test_chunked_body_over_the_limit_is_413(client):
    """Without Content-Length (chunked) the limit still holds."""
    stream = io.BytesIO(b"{" + b" " * 1_100_000 + b"}")
    response = client.post(
        URL,
        input_stream=stream,
        headers={"Transfer-Encoding": "chunked", "Content-Type": "application/json"},
        environ_overrides=CHUNKED,
    )
    assert_problem(response, 413)


def test_chunked_body_under_the_limit_is_accepted(client):
    """A chunked delivery within the limit is read whole and accepted."""
    raw, headers = signed(delivery())
    response = client.post(
        URL,
        input_stream=io.BytesIO(raw),
        headers={**headers, "Transfer-Encoding": "chunked"},
        environ_overrides=CHUNKED,
    )
    assert response.status_code == 200, response.get_data(as_text=True)


def test_other_methods_are_405_problem(client):
    """GET on the ingest route is a 405 problem, not an HTML page."""
    assert_problem(client.get(URL), 405)


def test_redis_down_is_503_with_retry_after(make_app, key_prefix, caplog):
    """When Redis cannot be reached the delivery gets 503 and Retry-After, so Livepeer retries;
    the failure is logged at error level with the Redis it tried and redis-py's reason."""
    url = dead_redis_url()
    app = make_app(make_settings(url, key_prefix))
    response = post_delivery(app.test_client(), delivery())
    assert_problem(response, 503)
    assert int(response.headers["Retry-After"]) > 0
    [logged] = [r for r in caplog.records if r.getMessage().startswith("storage unavailable")]
    assert logged.levelno == logging.ERROR
    assert url.split("//")[1].split("/")[0] in logged.getMessage()
    assert "refused" in logged.cause.lower() or "connect" in logged.cause.lower()


def test_no_secret_reaches_redis(client, redis_client, key_prefix):
    """streamKey, pull headers and pull credentials in deliveries appear nowhere in Redis."""
    planted = ["sk-live-planted-123", "pull-pass-456", "Bearer pull-hdr-789", "tok-q-000"]
    body = delivery(
        event="recording.ready",
        payload={
            "session": {"id": "ses-1", "parentId": "stream-1", "streamKey": planted[0]},
            "recordingUrl": "https://cdn/x.m3u8",
        },
    )
    body["stream"].update(
        streamKey=planted[0],
        pull={
            "source": f"rtmp://u:{planted[1]}@h/live?token={planted[3]}",
            "headers": {"Authorization": planted[2]},
        },
    )
    assert post_delivery(client, body).status_code == 200
    assert (
        post_delivery(
            client,
            delivery(
                event="asset.failed",
                stream_id=None,
                payload={"asset": {"id": "a", "streamKey": planted[0]}},
            ),
        ).status_code
        == 200
    )
    text = stored_text(redis_client, key_prefix)
    assert "ses-1" in text  # the scan did read the stored data
    for secret in planted + [SECRET, OTHER_SECRET]:
        assert secret not in text


def test_secrets_never_reach_the_log(client, caplog):
    """Neither webhook secrets nor presented tokens nor stream keys appear in any log line."""
    caplog.set_level(logging.DEBUG)
    body = delivery()
    body["stream"]["streamKey"] = "sk-in-log-check"
    post_delivery(client, body)
    post_delivery(client, delivery(), secret="presented-wrong-secret")
    client.get("/api/streams", headers=auth("presented-wrong-token"))
    client.get("/api/streams", headers=auth())
    text = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "webhook_service.request" in {r.name for r in caplog.records}
    for secret in (
        SECRET,
        OTHER_SECRET,
        "presented-wrong-token",
        "sk-in-log-check",
        "ops-token-test",
    ):
        assert secret not in text


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (
            lambda: (signed(delivery())[0], {"Content-Type": "application/json"}),
            "missing_signature",
        ),
        (lambda: signed(delivery(), "another-secret"), "signature_mismatch"),
        (lambda: (b"{}", {"Livepeer-Signature": "t=x"}), "malformed_signature"),
        (lambda: _signed_raw(b"[]"), "malformed"),
        (lambda: signed(delivery(timestamp=now_ms() - 900_000)), "stale"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_rejections_are_counted_by_reason(client, make, reason):
    """Each rejection is counted under its reason for the webhooks diagnosis."""
    data, headers = make()
    assert client.post(URL, data=data, headers=headers).status_code in (400, 401)
    counts, last, _ = service(client.application, Store).delivery_stats(now_ms())
    assert counts == {reason: 1} and reason in last


def _request_line(caplog):
    """The one `webhook_service.request` record of the request just made."""
    lines = [r for r in caplog.records if r.name == "webhook_service.request"]
    assert len(lines) == 1, [r.getMessage() for r in lines]
    caplog.clear()
    return lines[0]


def test_each_ingest_answer_has_one_request_line_with_its_outcome(client, caplog):
    """The endpoint answers ahead of Flask, so it writes the request line itself: one per
    request, with the route pattern, status, request id and the delivery's outcome."""
    caplog.set_level(logging.INFO, logger="webhook_service.request")
    body = delivery()
    raw, headers = signed(body)
    cases = [
        (raw, {**headers, "X-Request-ID": "first"}, 200, "accepted", None),
        (raw, headers, 200, "duplicate", None),
        (raw, signed(body, "another-secret")[1], 401, "bad_signature", "signature_mismatch"),
        (b"x" * 1_048_577, {}, 413, "too_large", "too_large"),
    ]
    for data, sent, status, outcome, reason in cases:
        assert client.post(URL, data=data, headers=sent).status_code == status
        line = _request_line(caplog)
        assert (line.method, line.route, line.path, line.status) == ("POST", URL, URL, status)
        assert line.outcome == outcome and getattr(line, "reject_reason", None) == reason
        assert line.duration_ms >= 0 and line.remote_addr == "127.0.0.1"
        if status == 200:
            assert (line.event_id, line.event_name) == (body["id"], body["event"])
    assert client.get(URL).status_code == 405
    line = _request_line(caplog)
    assert (line.method, line.status) == ("GET", 405) and not hasattr(line, "outcome")


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "DELETE", "PATCH"])
def test_every_other_method_is_a_405_naming_post(client, method):
    """Only POST is served on the ingest route; the answer says so in Allow (as every route's
    405 does: OPTIONS is answered by the shared edge's rules too)."""
    response = client.open(URL, method=method)
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) == {"OPTIONS", "POST"}
    if method != "HEAD":
        assert_problem(response, 405)
