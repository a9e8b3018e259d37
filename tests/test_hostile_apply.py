"""All or nothing, even on a script error (DESIGN.md, ingest): the stream step computes and
encodes everything it writes before its first write, so input Redis's cjson cannot hold fails
with nothing written, is refused as malformed (never counted as a Redis outage), and a retry
of the event id is applied, not reported as a duplicate. Issue 16, point 3."""

from __future__ import annotations

import dataclasses
import json
import logging

import pytest
from helpers import SECRET, auth, delivery, now_ms, post_delivery
from test_store import T0, Backend

from webhook_service.config import Secret
from webhook_service.ingest.events import EventError, parse_delivery
from webhook_service.ingest.receiver import DeliveryRejected, Receiver
from webhook_service.ingest.signature import format_header
from webhook_service.ingest.stream_update import build_update
from webhook_service.store import SESSIONS_MAX, StorageError

URL = "/webhooks/livepeer"


@pytest.fixture(params=["single", "cluster"])
def store(request, redis_url, key_prefix):
    """A Store on the suite's Redis, or on the test cluster (the two-step apply)."""
    if request.param == "cluster":
        backend = Backend(request.getfixturevalue("redis_cluster").url, cluster=True)
    else:
        backend = Backend(redis_url, cluster=False)
    made = backend.store(key_prefix)
    yield made
    if backend.cluster:
        keys = list(made._client.scan_iter(match=f"{key_prefix}:*", count=1000))
        if keys:
            made._client.delete(*keys)
    made.close()


def session_update(event_id="ev-1", session_id="ses-1", created=T0, **session):
    """A recording.ready update of stream s1 with this session."""
    body = {
        "id": event_id,
        "event": "recording.ready",
        "timestamp": created + 100,
        "createdAt": created,
        "stream": {"id": "s1", "name": "n"},
        "payload": {"session": {"id": session_id, "parentId": "s1", **session}},
    }
    return build_update(parse_delivery(json.dumps(body).encode()), received_at_ms=created + 200)


def stream_keys(store, event_id):
    """The keys the stream step writes for stream s1 and this event id."""
    keys = store.keys
    return [
        keys.stream("s1"),
        keys.timeline("s1"),
        keys.stream_events("s1"),
        keys.stream_claim("s1", event_id),
    ]


def assert_nothing_of(store, event_id, sessions_before):
    """No claim, timeline entry, stream write, session change or global entry for the event."""
    client = store._client
    assert client.exists(store.keys.stream_claim("s1", event_id)) == 0
    assert client.zscore(store.keys.timeline("s1"), event_id) is None
    assert client.hget(store.keys.stream_events("s1"), event_id) is None
    assert client.zscore(store.keys.events, event_id) is None
    assert client.hgetall(store.keys.sessions("s1")) == sessions_before


# Every way the stream step can fail on what a delivery carries: the session JSON is the one
# input it decodes (record and fields are stored as they are), then encodes again.
SCRIPT_INPUT_FAILURES = [
    pytest.param('{"id":"ses-1","created_at":1e400}', id="number-cjson-reads-as-infinity"),
    pytest.param('{"id":"ses-1","last_seen":' + "9" * 401 + "}", id="401-digits"),
    pytest.param('{"id":"ses-1","x":-1e309}', id="negative-infinity"),
    pytest.param('{"id":"ses-1","x":NaN}', id="nan"),
    pytest.param('{"id":"ses-1","recording_url":"\\ud800"}', id="lone-surrogate-escape"),
    pytest.param('{"id":"ses-1"', id="not-json"),
    pytest.param('"ses-1"', id="a-string"),
    pytest.param("17", id="a-number"),
    pytest.param("null", id="null"),
    pytest.param('{"x":' + "[" * 1100 + "]" * 1100 + "}", id="deeper-than-cjson-reads"),
]


@pytest.mark.parametrize("bad_session", SCRIPT_INPUT_FAILURES)
@pytest.mark.parametrize(
    ("store", "situation"),
    [
        ("single", "new-session"),
        ("single", "stored-session"),
        ("single", "sessions-full"),
        ("cluster", "new-session"),  # the same stream step, then the index step is skipped
    ],
    indirect=["store"],
)
def test_a_script_failure_on_input_writes_nothing_and_the_retry_applies(
    store, bad_session, situation
):
    """The script refuses the input before its first write: EventError (a 400), not
    StorageError (a 503); no claim, timeline entry or stream write is left; the same event id
    with good input is then applied, not reported as a duplicate."""
    if situation == "stored-session":
        store.apply(session_update("ev-0", created=T0 - 10))
    if situation == "sessions-full":
        for n in range(SESSIONS_MAX):
            store.apply(session_update(f"ev-0{n}", f"old-{n}", created=T0 - 100 + n))
    sessions_before = store._client.hgetall(store.keys.sessions("s1"))
    good = session_update("ev-1", created=T0)
    with pytest.raises(EventError) as refused:
        store.apply(dataclasses.replace(good, session_json=bad_session))
    assert not isinstance(refused.value, StorageError) and "session" in str(refused.value)
    assert_nothing_of(store, "ev-1", sessions_before)
    assert store.apply(good).duplicate is False
    assert store.apply(good).duplicate is True
    assert store.get_stream("s1")["sessions"][0]["id"] == "ses-1"


class BadSessionSink:
    """The real store, handed a session JSON that cjson cannot encode back (as a 401-digit
    createdAt was before ingest bounded session numbers)."""

    def __init__(self, store):
        self.store = store

    def apply(self, update):
        return self.store.apply(dataclasses.replace(update, session_json='{"created_at":1e400}'))


def test_a_script_refusal_is_a_malformed_rejection_not_an_outage(store):
    """The receiver turns the store's refusal into the contract's 400 (outcome malformed)."""
    receiver = Receiver([Secret(SECRET)], 300, BadSessionSink(store))
    body = delivery(event="recording.ready", stream_id="s1")
    body["payload"] = {"session": {"id": "ses-1", "parentId": "s1"}}
    raw = json.dumps(body).encode()
    header = format_header(raw, SECRET, body["timestamp"])
    with pytest.raises(DeliveryRejected) as rejected:
        receiver.receive(raw, header, body["timestamp"])
    assert rejected.value.outcome == "malformed" and "session" in rejected.value.detail
    assert rejected.value.event_label == "recording.ready"
    assert_nothing_of(store, body["id"], {})


HUGE_NUMBERS = [10**400, -(10**400), 9 * 10**308, 2**53 + 1, 2**64, -(2**70)]


@pytest.mark.parametrize("number", HUGE_NUMBERS, ids=lambda n: f"{len(str(n))}-digits")
@pytest.mark.parametrize("field", ["createdAt", "lastSeen", "sourceSegments"])
def test_a_huge_session_number_is_applied_once_and_reads_back(client, caplog, field, number):
    """The attack: a session createdAt of 401 digits (infinity in cjson) was a 503 after the
    claim was written, its retry a duplicate, the session lost, the failure counted as an
    outage. Now the delivery is applied (the number is ignored, as any mistyped field is),
    read back, and its retry is the duplicate."""
    caplog.set_level(logging.INFO, logger="webhook_service.request")
    body = delivery(event="recording.ready", stream_id="s1")
    body["payload"] = {"session": {"id": "ses-1", "parentId": "s1", field: number}}
    answer = post_delivery(client, body)
    assert answer.status_code == 200, answer.get_data()
    assert answer.get_json()["duplicate"] is False
    outcomes = [r.outcome for r in caplog.records if r.name == "webhook_service.request"]
    assert outcomes == ["accepted"]
    stream = client.get("/api/streams/s1", headers=auth()).get_json()
    assert [s["id"] for s in stream["sessions"]] == ["ses-1"]
    events = client.get("/api/streams/s1/events", headers=auth()).get_json()["events"]
    assert [e["id"] for e in events] == [body["id"]]
    retry = post_delivery(client, {**body, "timestamp": now_ms()})
    assert retry.status_code == 200 and retry.get_json()["duplicate"] is True


def test_session_numbers_within_a_double_are_kept(client):
    """Session times and counts up to 2**53 (exact in a double, as in JavaScript) are kept."""
    body = delivery(event="recording.ready", stream_id="s1")
    session = {"id": "ses-1", "parentId": "s1", "createdAt": T0, "sourceSegments": 2**53}
    body["payload"] = {"session": session}
    assert post_delivery(client, body).status_code == 200
    stream = client.get("/api/streams/s1", headers=auth()).get_json()
    assert stream["sessions"][0]["created_at"] == "2025-11-25T16:00:00.000Z"
