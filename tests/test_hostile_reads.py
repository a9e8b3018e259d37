"""What was accepted stays readable (DESIGN.md, ingest): a signed delivery is refused with a 400
before anything is stored, or it is answered 200 and reads back through every route without a
5xx, whatever it holds (deep nesting, huge numbers, odd unicode). Issue 16, point 2."""

from __future__ import annotations

import json
import uuid

import pytest
from helpers import assert_problem, auth, delivery, now_ms, signed
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from services import service

from webhook_service.store import Store

INGEST = "/webhooks/livepeer"
MAX_DEPTH = 32  # events.MAX_DEPTH: containers a body may nest, itself included
HOSTILE = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def read_paths(stream_id: str | None) -> list[str]:
    """Every API route that shows stored deliveries, for this stream (or none)."""
    paths = ["/api/streams", "/api/streams?state=active", "/api/streams?state=idle"]
    paths += ["/api/events", "/api/events?limit=200", "/api/diagnosis/webhooks"]
    if stream_id:
        base = f"/api/streams/{stream_id}"
        paths += [base, f"{base}/events", f"{base}/events?limit=200", f"{base}/diagnosis"]
    return paths


def read_everything(client, stream_id: str | None) -> list[bytes]:
    """GET every read route; none may answer a 5xx. Returns the answers' bodies."""
    bodies = []
    for path in read_paths(stream_id):
        answer = client.get(path, headers=auth())
        assert answer.status_code in (200, 404), (path, answer.get_data()[:300])
        bodies.append(answer.get_data())
    return bodies


def event_ids(client, stream_id: str | None) -> set[str]:
    """Event ids the API shows, across all events and this stream's timeline."""
    paths = ["/api/events?limit=200"]
    if stream_id:
        paths.append(f"/api/streams/{stream_id}/events?limit=200")
    found = set()
    for path in paths:
        answer = client.get(path, headers=auth())
        if answer.status_code == 200:
            found |= {e["id"] for e in answer.get_json()["events"]}
    return found


def post_raw(client, raw: bytes, timestamp: int):
    return client.post(INGEST, data=raw, headers=signed(raw, t=timestamp)[1])


def nest(depth: int, kind: str, leaf=1):
    """A value `depth` containers deep: lists, objects, or both in turn."""
    value = leaf
    for level in range(depth):
        use_list = kind == "list" or (kind == "mixed" and level % 2 == 0)
        value = [value] if use_list else {"k": value}
    return value


def assert_refused_and_nothing_stored(client, response, event_id):
    """A 400 malformed problem; the event is in no timeline."""
    assert_problem(response, 400)
    assert event_id not in event_ids(client, "deep-stream")
    counts, _, _ = service(client.application, Store).delivery_stats(now_ms())
    assert counts.get("malformed") == 1


@pytest.mark.parametrize("kind", ["list", "object", "mixed"])
@pytest.mark.parametrize("where", ["payload", "stream", "session", "unread"])
def test_a_body_nested_deeper_than_the_limit_is_refused(offline_app, kind, where):
    """256 levels of lists, objects or both, anywhere in the body: 400, nothing stored, every
    read still answers (the attack: 200, then a 500 on every events read)."""
    client = offline_app.test_client()
    body = delivery(event="recording.ready", stream_id="deep-stream")
    body["payload"] = {"session": {"id": "deep-session"}}
    holder = {
        "payload": body["payload"],
        "stream": body["stream"],
        "session": body["payload"]["session"],
        "unread": body,
    }[where]
    holder["deep"] = nest(256, kind)
    response = post_raw(client, json.dumps(body).encode(), body["timestamp"])
    assert_refused_and_nothing_stored(client, response, body["id"])
    assert "nested" in response.get_json()["detail"]
    read_everything(client, "deep-stream")


def test_nesting_up_to_the_limit_is_accepted_and_reads_back(offline_app):
    """A body exactly MAX_DEPTH containers deep is stored and shown; one more level is not."""
    client = offline_app.test_client()
    for depth, status in ((MAX_DEPTH, 200), (MAX_DEPTH + 1, 400)):
        body = delivery(event="asset.updated", stream_id="deep-stream")
        # body (1) > payload (2) > list levels: depth - 2 more containers.
        body["payload"] = {"x": nest(depth - 2, "list")}
        response = post_raw(client, json.dumps(body).encode(), body["timestamp"])
        assert response.status_code == status, response.get_data()
    events = client.get("/api/streams/deep-stream/events", headers=auth()).get_json()["events"]
    assert [e["payload"]["x"] for e in events] == [nest(MAX_DEPTH - 2, "list")]


def test_records_stored_before_the_limit_still_read_back(offline_app, redis_client, key_prefix):
    """A record 300 levels deep already in Redis (stored by an older version) does not break
    the events routes: its payload is left out and marked truncated."""
    client = offline_app.test_client()
    body = delivery(stream_id="deep-stream")
    assert post_raw(client, json.dumps(body).encode(), body["timestamp"]).status_code == 200
    record = {
        "id": body["id"],
        "event": body["event"],
        "created_at": body["createdAt"],
        "received_at": body["timestamp"],
        "stream_id": "deep-stream",
        "session_id": None,
        "payload": {"x": nest(300, "list")},
    }
    for key, field in (("{deep-stream}:events", body["id"]), ("{~global}:event-data", body["id"])):
        redis_client.hset(f"{key_prefix}:{key}", field, json.dumps(record))
    read_everything(client, "deep-stream")
    events = client.get("/api/events", headers=auth()).get_json()["events"]
    assert events[0]["payload"] is None and events[0]["payload_truncated"] is True


# --- the property: refused with a 4xx, or readable everywhere ------------------------------------

RAW_NUMBERS = ["1e400", "-1e400", "1" + "0" * 400, "-" + "9" * 401, "1E-400", "-0", "0.0e999",
               "NaN", "Infinity", "-Infinity", "123456789012345678901234567890.5",
               str(2**53 + 1), str(2**63), str(-(2**64))]  # fmt: skip
ODD_TEXT = st.text(
    st.characters(codec="utf-8")
    | st.characters(categories=["Cs"])
    | st.sampled_from(["\x00", "\u2028", "\ufeff", "\uffff", "\U0010ffff", "\\", '"', "<"]),
    max_size=30,
)
leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**500), max_value=10**500),
    st.floats(),
    ODD_TEXT,
    st.sampled_from(RAW_NUMBERS).map(lambda n: f"\x00RAW:{n}\x00"),
)
tree = st.recursive(
    leaf,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(ODD_TEXT, c, max_size=3),
    max_leaves=8,
)
deep = st.builds(
    nest, st.integers(min_value=1, max_value=300), st.sampled_from(["list", "object", "mixed"])
)
hostile = tree | deep
PLACES = ["stream", "payload", "session", "top"]
STREAM_FIELDS = ["name", "playbackId", "record", "suspended", "createdAt", "playbackPolicy"]
SESSION_FIELDS = ["recordingStatus", "recordingUrl", "mp4Url", "createdAt", "lastSeen",
                  "sourceSegments", "record"]  # fmt: skip
PAYLOAD_FIELDS = ["recordingUrl", "mp4Url", "asset", "task", "target", "error"]
EVENTS = ["stream.started", "stream.idle", "recording.ready", "recording.waiting", "asset.failed",
          "asset.updated", "task.failed", "multistream.error", "some.new.event"]  # fmt: skip


def encode_hostile(body) -> bytes:
    """JSON bytes of `body`, raw number literals spliced in where their placeholders are."""
    text = json.dumps(body)  # ASCII: lone surrogates travel as "\ud800", as JavaScript writes
    for number in RAW_NUMBERS:
        text = text.replace(json.dumps(f"\x00RAW:{number}\x00"), number)
    return text.encode()


@st.composite
def hostile_deliveries(draw):
    """A valid envelope with hostile values under the fields the service reads and beyond."""
    event = draw(st.sampled_from(EVENTS))
    with_stream = not event.startswith(("asset.", "task."))
    body = delivery(event=event, stream_id="odd-stream" if with_stream else None)
    body["id"] = f"odd-{uuid.uuid4().hex}"
    payload = body.setdefault("payload", {})
    if event.startswith("recording."):
        payload["session"] = {"id": "odd-session", "parentId": "odd-stream"}
    if event.startswith(("asset.", "task.")):
        payload["asset"] = {"id": "odd-asset"}
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        place = draw(st.sampled_from(PLACES))
        holder = {
            "stream": body.get("stream"),
            "payload": payload,
            "session": payload.get("session"),
            "top": body,
        }[place]
        if holder is None:
            continue
        names = {"stream": STREAM_FIELDS, "session": SESSION_FIELDS}.get(place, PAYLOAD_FIELDS)
        key = draw(st.sampled_from(names) | ODD_TEXT)
        if place == "top" and key in body:
            continue
        holder[key] = draw(hostile)
    return body


@HOSTILE
@given(body=hostile_deliveries())
@example(  # the attack: 256 levels of lists in the payload
    body={
        **delivery(event="asset.updated", stream_id="odd-stream"),
        "payload": {"x": nest(256, "list")},
    }
)
@example(  # the attack: a session createdAt of 401 digits (cjson reads it as infinity)
    body={
        **delivery(event="recording.ready", stream_id="odd-stream"),
        "payload": {"session": {"id": "odd-session", "createdAt": 10**400}},
    }
)
def test_a_signed_hostile_delivery_is_refused_or_readable_everywhere(offline_app, body):
    """Any signed delivery: a 4xx with nothing stored, or a 200 and every read route answers
    without a 5xx, the event shown where it belongs."""
    client = offline_app.test_client()
    stream_id = (body.get("stream") or {}).get("id")
    response = post_raw(client, encode_hostile(body), body["timestamp"])
    assert response.status_code in (200, 400), response.get_data()[:500]
    read_everything(client, stream_id)
    shown = event_ids(client, stream_id)
    if response.status_code == 400:
        assert_problem(response, 400)
        assert body["id"] not in shown
        return
    assert body["id"] in shown
    retry = post_raw(client, encode_hostile(body), body["timestamp"])
    assert retry.status_code == 200 and retry.get_json()["duplicate"] is True
