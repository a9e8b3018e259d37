"""What an event changes: stream fields, session, timeline record (pure, no Redis)."""

from __future__ import annotations

import json

import pytest

from webhook_service.ingest.events import MAX_STORED_PAYLOAD_BYTES, parse_delivery
from webhook_service.ingest.stream_update import build_update

MS = 1_764_086_400_000


def update_for(document):
    base = {"id": "e1", "event": "stream.started", "timestamp": MS, "createdAt": MS - 5}
    base.update(document)
    return build_update(parse_delivery(json.dumps(base).encode()), received_at_ms=MS + 7)


def test_started_and_idle_set_state():
    """stream.started makes a stream active, stream.idle idle; other events leave state alone."""
    assert update_for({"stream": {"id": "s"}}).state == "active"
    assert update_for({"event": "stream.idle", "stream": {"id": "s"}}).state == "idle"
    assert update_for({"event": "recording.ready", "stream": {"id": "s"}}).state is None


def test_stream_fields_are_typed_json():
    """Name, playback id, record flag and policy type are taken, JSON-encoded, when present."""
    update = update_for(
        {
            "stream": {
                "id": "s",
                "name": "Café",
                "playbackId": "pb1",
                "record": False,
                "suspended": True,
                "playbackPolicy": {"type": "jwt"},
            }
        }
    )
    decoded = {k: json.loads(v) for k, v in update.fields.items()}
    assert decoded == {
        "name": "Café",
        "playback_id": "pb1",
        "record": False,
        "suspended": True,
        "playback_policy": "jwt",
    }


def test_null_policy_means_public_and_absent_policy_means_unknown():
    """playbackPolicy null is public; a stream object without the key tells nothing."""
    public = update_for({"stream": {"id": "s", "playbackPolicy": None}})
    assert json.loads(public.fields["playback_policy"]) == "public"
    assert "playback_policy" not in update_for({"stream": {"id": "s"}}).fields


def test_webhook_policy_keeps_the_webhook_id():
    """A webhook policy records which access-control webhook decides."""
    update = update_for(
        {"stream": {"id": "s", "playbackPolicy": {"type": "webhook", "webhookId": "w9"}}}
    )
    assert json.loads(update.fields["playback_policy_webhook_id"]) == "w9"


def test_mistyped_stream_fields_are_ignored():
    """A record flag that is not a bool, or a name that is not a string, is not stored."""
    update = update_for({"stream": {"id": "s", "record": "yes", "name": 5, "createdAt": True}})
    assert update.fields == {}


def test_recording_ready_session_takes_urls_from_payload():
    """recording.ready carries its URLs at payload level; the session gets them."""
    update = update_for(
        {
            "event": "recording.ready",
            "stream": {"id": "s"},
            "payload": {
                "recordingUrl": "https://cdn/r.m3u8",
                "mp4Url": "https://cdn/r.mp4",
                "session": {"id": "ses", "parentId": "s", "createdAt": MS - 1000},
            },
        }
    )
    assert update.session_id == "ses"
    assert json.loads(update.session_json) == {
        "id": "ses",
        "recording_status": "ready",
        "recording_url": "https://cdn/r.m3u8",
        "mp4_url": "https://cdn/r.mp4",
        "created_at": MS - 1000,
    }


def test_recording_waiting_keeps_its_stated_status():
    """recording.waiting says "ready" without URLs; the status is stored as sent."""
    update = update_for(
        {
            "event": "recording.waiting",
            "payload": {"session": {"id": "ses", "parentId": "s", "recordingStatus": "ready"}},
        }
    )
    assert update.stream_id == "s"
    assert json.loads(update.session_json) == {"id": "ses", "recording_status": "ready"}


def test_record_holds_ids_and_small_payloads_only():
    """The timeline record names asset/task ids; a payload over the bound is left out."""
    small = update_for(
        {
            "event": "task.failed",
            "payload": {"task": {"id": "t", "snapshot": {"outputAssetId": "ses"}}},
        }
    )
    record = json.loads(small.record_json)
    assert (record["task_id"], record["asset_id"], record["received_at"]) == ("t", "ses", MS + 7)
    assert record["payload"]["task"]["id"] == "t"
    big = update_for(
        {
            "event": "asset.updated",
            "payload": {"asset": {"id": "a", "x": "y" * MAX_STORED_PAYLOAD_BYTES}},
        }
    )
    big_record = json.loads(big.record_json)
    assert big_record["payload_truncated"] is True and "payload" not in big_record
    assert big_record["asset_id"] == "a"


@pytest.mark.parametrize(
    "payload",
    [
        {"session": {"id": "ses", "name": "caf\u00e9 \U0001f3a5", "n": [1, 2.5, None, True]}},
        {"asset": {"id": "a", "nested": {"deep": {"x": '"quoted" \\ back'}}}},
        {},
    ],
    ids=["unicode", "nested-escapes", "empty"],
)
def test_record_json_is_one_valid_document_with_the_payload_last(payload):
    """The spliced record parses back to the fields and the payload, in the stored order."""
    update = update_for({"event": "asset.updated", "payload": payload})
    record = json.loads(update.record_json)
    assert list(record)[:6] == [
        "id",
        "event",
        "created_at",
        "received_at",
        "stream_id",
        "session_id",
    ]
    if payload:
        assert list(record)[-1] == "payload" and record["payload"] == payload
    else:
        assert "payload" not in record


def test_numbers_json_cannot_write_are_stored_as_null():
    """NaN and 1e400 (infinity once read) are stored as null, as JavaScript writes them: the
    record stays strict JSON and reads back as before (the API showed them as null)."""
    raw = (
        b'{"id":"e1","event":"asset.updated","timestamp":%d,"createdAt":%d,'
        b'"payload":{"a":NaN,"b":[1e400,-Infinity,{"c":2.5}],"d":"x"}}' % (MS, MS - 5)
    )
    record = build_update(parse_delivery(raw), received_at_ms=MS).record_json
    assert json.loads(record, parse_constant=pytest.fail)["payload"] == {
        "a": None,
        "b": [None, None, {"c": 2.5}],
        "d": "x",
    }


def test_session_numbers_a_double_cannot_hold_are_ignored():
    """Session times and counts beyond 2**53 are ignored like mistyped ones: Redis's cjson
    would read a 401-digit createdAt as infinity and fail to write the session back."""
    update = update_for(
        {
            "event": "recording.ready",
            "payload": {
                "session": {
                    "id": "ses",
                    "parentId": "s",
                    "createdAt": 10**400,
                    "lastSeen": -(2**53) - 1,
                    "sourceSegments": 2**53,
                    "record": True,
                }
            },
        }
    )
    assert json.loads(update.session_json) == {
        "id": "ses",
        "source_segments": 2**53,
        "record": True,
        "recording_status": "ready",
    }
    stream = update_for({"stream": {"id": "s", "createdAt": 10**20, "record": True}})
    assert "created_at" not in stream.fields and stream.fields["record"] == "true"
