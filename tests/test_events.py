"""Delivery parsing: a table of malformed bodies, each an EventError; scrubbing; freshness."""

from __future__ import annotations

import json

import pytest

from webhook_service.ingest.events import (
    EventError,
    FreshnessError,
    check_freshness,
    parse_delivery,
)

MS = 1_764_086_400_000


def body(**fields):
    base = {"id": "evt-1", "event": "stream.started", "timestamp": MS, "createdAt": MS - 10}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not ...}


def raw(document) -> bytes:
    return json.dumps(document).encode()


MALFORMED = [
    ("empty", b"", "not valid UTF-8 JSON"),
    ("not-json", b"hello", "not valid UTF-8 JSON"),
    ("truncated", b'{"id": "a"', "not valid UTF-8 JSON"),
    ("latin1-bytes", b'{"id": "\xff\xfe"}', "not valid UTF-8 JSON"),
    ("deep-nesting", b"[" * 100_000 + b"]" * 100_000, "not valid UTF-8 JSON"),
    ("nested-33-deep", b'{"a":' + b"[" * 32 + b"]" * 32 + b"}", "nested more than 32 levels"),
    ("nested-300-deep", b'{"a":' + b'{"b":' * 300 + b"1" + b"}" * 301, "nested more than 32"),
    ("huge-int", b'{"id":"a","event":"e","timestamp":' + b"9" * 5000 + b"}", "not valid"),
    ("array", b"[1, 2]", "not an object (got list)"),
    ("string", b'"stream.started"', "not an object (got str)"),
    ("null", b"null", "not an object (got NoneType)"),
    ("number", b"42", "not an object (got int)"),
    ("missing-id", raw(body(id=...)), "id: Field required"),
    ("missing-event", raw(body(event=...)), "event: Field required"),
    ("missing-timestamp", raw(body(timestamp=...)), "timestamp: Field required"),
    ("missing-createdAt", raw(body(createdAt=...)), "createdAt: Field required"),
    ("id-number", raw(body(id=12)), "id: Input should be a valid string"),
    ("id-with-slash", raw(body(id="../etc")), "id: String should match pattern"),
    ("id-with-colon", raw(body(id="a:b")), "id: String should match pattern"),
    ("id-with-braces", raw(body(id="{x}")), "id: String should match pattern"),
    ("id-empty", raw(body(id="")), "id: String should match pattern"),
    ("id-too-long", raw(body(id="a" * 129)), "id: String should match pattern"),
    ("event-number", raw(body(event=5)), "event: Input should be a valid string"),
    ("event-with-space", raw(body(event="stream started")), "event: String should match"),
    ("event-too-long", raw(body(event="e" * 101)), "event: String should match"),
    ("timestamp-string", raw(body(timestamp=str(MS))), "timestamp: Input should be a valid int"),
    ("timestamp-float", raw(body(timestamp=MS + 0.5)), "timestamp: Input should be a valid int"),
    ("timestamp-bool", raw(body(timestamp=True)), "timestamp: Input should be a valid int"),
    ("timestamp-seconds", raw(body(timestamp=MS // 1000)), "timestamp: must be a Unix time in ms"),
    ("createdAt-seconds", raw(body(createdAt=MS // 1000)), "createdAt: must be a Unix time in ms"),
    ("createdAt-null", raw(body(createdAt=None)), "createdAt: Input should be a valid int"),
    ("createdAt-negative", raw(body(createdAt=-1)), "createdAt: must be a Unix time in ms"),
    ("stream-string", raw(body(stream="s-1")), "stream: Input should be a valid dictionary"),
    ("stream-without-id", raw(body(stream={"name": "x"})), "stream.id: Field required"),
    ("stream-id-number", raw(body(stream={"id": 7})), "stream.id: Input should be a valid str"),
    ("stream-id-slash", raw(body(stream={"id": "a/b"})), "stream.id: String should match"),
    ("payload-list", raw(body(payload=[1])), "payload: Input should be a valid dictionary"),
    (
        "session-id-bad",
        raw(body(payload={"session": {"id": "a b"}})),
        "payload.session.id: String should match",
    ),
    (
        "session-parent-bad",
        raw(body(payload={"session": {"id": "s", "parentId": 3}})),
        "payload.session.parentId: Input should be a valid string",
    ),
]


@pytest.mark.parametrize(("name", "data", "message"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_body_is_an_event_error(name, data, message):
    """Each malformed body raises EventError whose one-line reason names the problem."""
    with pytest.raises(EventError) as caught:
        parse_delivery(data)
    text = str(caught.value)
    assert "\n" not in text
    expected = message.replace("Unix time in ms", "Unix time in milliseconds")
    assert expected in text, text


def test_valid_stream_event_is_parsed():
    """A stream event yields ids, times and the stream it belongs to."""
    delivery = parse_delivery(raw(body(stream={"id": "s-1", "name": "n"}, webhookId="w")))
    assert (delivery.id, delivery.event, delivery.stream_id) == ("evt-1", "stream.started", "s-1")
    assert (delivery.timestamp_ms, delivery.created_at_ms) == (MS, MS - 10)
    assert delivery.session_id is None


def test_session_parent_names_the_stream_when_there_is_no_stream_object():
    """An event with only payload.session belongs to session.parentId."""
    delivery = parse_delivery(
        raw(body(event="recording.ready", payload={"session": {"id": "ses", "parentId": "par"}}))
    )
    assert (delivery.stream_id, delivery.session_id) == ("par", "ses")


def test_asset_event_has_no_stream():
    """asset.* events carry no stream and belong to the global timeline."""
    delivery = parse_delivery(raw(body(event="asset.ready", payload={"asset": {"id": "a"}})))
    assert delivery.stream_id is None


def test_unknown_event_names_are_accepted_and_labelled_other():
    """Livepeer adds events over time: unknown names parse, and count as `other` in metrics."""
    delivery = parse_delivery(raw(body(event="stream.teleported")))
    assert delivery.event == "stream.teleported"
    assert delivery.metric_name == "other"
    assert parse_delivery(raw(body())).metric_name == "stream.started"


def test_secrets_are_scrubbed_from_stream_and_payload():
    """streamKey, pull headers and pull-source credentials never leave the parser."""
    document = body(
        stream={
            "id": "s",
            "streamKey": "abcd-efgh-ijkl",
            "pull": {
                "source": "rtmp://user:hunter2@origin.example.com:1935/live/key?token=zz",
                "headers": {"Authorization": "Bearer pull-secret"},
            },
            "multistream": {"targets": [{"id": "t", "spec": {"url": "rtmp://yt/live2/key9"}}]},
            "playbackPolicy": {"type": "webhook", "webhookId": "w", "webhookContext": {"k": "v"}},
        },
        payload={"session": {"id": "ses", "streamKey": "nested-key"}},
    )
    delivery = parse_delivery(raw(document))
    text = json.dumps([delivery.stream, delivery.payload])
    for secret in ("abcd-efgh-ijkl", "hunter2", "token=zz", "pull-secret", "key9", "nested-key"):
        assert secret not in text
    assert delivery.stream["pull"]["source"] == "rtmp://origin.example.com:1935"
    assert delivery.stream["playbackPolicy"] == {"type": "webhook", "webhookId": "w"}


@pytest.mark.parametrize(
    ("header_t", "now", "reason", "hint"),
    [
        (MS + 1, MS, "bad_signature", "differs"),
        (MS // 1000, MS, "bad_signature", "looks like seconds"),
        (MS, MS + 301_000, "stale", "301 s old"),
        (MS, MS - 301_000, "stale", "in the future"),
    ],
    ids=["t-differs", "t-in-seconds", "too-old", "too-new"],
)
def test_freshness_failures(header_t, now, reason, hint):
    """Header t must equal the signed body timestamp, which must be within tolerance of now."""
    delivery = parse_delivery(raw(body()))
    with pytest.raises(FreshnessError) as caught:
        check_freshness(delivery, header_t, now, 300)
    assert caught.value.reason == reason
    assert hint in caught.value.detail


LONE_HALF = f'{{"id":"evt-1","event":"stream.started","timestamp":{MS},"createdAt":{MS - 10},'
LONE_HALF += '"stream":{"id":"s","name":"cut \\ud83d"}}'  # an escaped half of a UTF-16 pair


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(LONE_HALF.encode(), id="ascii-escape"),
        pytest.param(LONE_HALF.replace("\\ud83d", "\\uD83D").encode(), id="upper-case-escape"),
        pytest.param(
            LONE_HALF.replace("\\ud83d", "\ud83d\u00e9").encode("utf-8", "surrogatepass"),
            id="utf8-encoded-half",
        ),
        pytest.param(
            LONE_HALF.replace("\\ud83d", "\ud83d").encode("utf-16-le", "surrogatepass"),
            id="utf16-body",
        ),
        pytest.param(LONE_HALF.encode("utf-32-be"), id="utf32-body-with-escape"),
    ],
)
def test_lone_surrogates_are_replaced_however_they_are_written(data):
    """Every way json reads a lone surrogate ends as text that has a UTF-8 form (Redis's cjson
    and every answer need one): escapes, encoded halves, UTF-16 and UTF-32 bodies."""
    delivery = parse_delivery(data)
    assert delivery.stream is not None
    name = delivery.stream["name"]
    name.encode("utf-8")  # raises on a surrogate
    assert name.startswith("cut ") and "?" in name


def test_an_ascii_body_without_escapes_is_kept_as_parsed():
    """The fast path: nothing to replace, the parsed document is used as it is."""
    delivery = parse_delivery(raw(body(stream={"id": "s", "name": "plain"})))
    assert delivery.stream == {"id": "s", "name": "plain"}
