"""Credentials removed wherever they appear (DESIGN.md, ingest): keys named like streamKey,
authorization, accessKey or sharedSecret in any case and with `_`/`-` anywhere, pull headers,
the userinfo of any URL, and the stream key of rtmp://, rtmps:// and srt:// URLs, at any depth
and inside lists: none reaches Redis, a log line or an answer. Issue 16, point 4."""

from __future__ import annotations

import json
import logging
import uuid

import pytest
from helpers import delivery, post_delivery, stored_text
from hypothesis import given
from hypothesis import strategies as st
from test_hostile_reads import HOSTILE, read_everything

from webhook_service.ingest.events import parse_delivery
from webhook_service.ingest.scrub import scrub

# --- what the scrubber leaves of a value ---------------------------------------------------------

CLEANED = [
    ("rtmp://a.rtmp.youtube.com/live2/KEY", "rtmp://a.rtmp.youtube.com/live2/"),
    ("rtmp://host/KEY", "rtmp://host/"),
    ("rtmp://host/live/KEY/", "rtmp://host/live/"),
    ("RTMPS://live-api-s.facebook.com:443/rtmp/KEY?s_bl=1&s_sw=0", "rtmps://live-api-s.facebook.com:443/rtmp/"),
    ("rtmp://host", "rtmp://host"),
    ("rtmp://user:KEY@host/live/KEY", "rtmp://host/live/"),
    ("srt://host:9000?streamid=KEY&latency=200", "srt://host:9000"),
    ("srt://host:9000?passphrase=KEY", "srt://host:9000"),
    ("srt://host:9000/live/KEY", "srt://host:9000/live/"),
    ("https://user:KEY@cdn.example/rec/index.m3u8", "https://cdn.example/rec/index.m3u8"),
    ("https://:KEY@cdn.example", "https://cdn.example"),
    ("wss://KEY@host/socket?x=1", "wss://host/socket?x=1"),
    ("https://livepeercdn.studio/recordings/ses/index.m3u8", "https://livepeercdn.studio/recordings/ses/index.m3u8"),
    ("pushing to rtmp://h/live/KEY failed (timeout)", "pushing to rtmp://h/live/ failed (timeout)"),
    ("see https://u:KEY@h/x, then srt://h?streamid=KEY", "see https://h/x, then srt://h"),
    ("no url at all: KEY", "no url at all: KEY"),
]  # fmt: skip


@pytest.mark.parametrize(("value", "expected"), CLEANED, ids=[c[0][:40] for c in CLEANED])
def test_credentials_are_cut_from_urls_wherever_a_string_holds_them(value, expected):
    """Userinfo of any URL; path key and query of rtmp(s)/srt URLs; the rest of the text stays."""
    assert scrub({"anything": value, "list": [[value]]}) == {
        "anything": expected,
        "list": [[expected]],
    }


def test_pull_source_keeps_only_scheme_and_host():
    """`source` (a pull URL) keeps its earlier, stricter rule: scheme, host and port only."""
    cleaned = scrub({"pull": {"source": "https://u:p@origin.example:8443/live/x.m3u8?t=1"}})
    assert cleaned == {"pull": {"source": "https://origin.example:8443"}}


@pytest.mark.parametrize(
    "key",
    ["streamKey", "stream_key", "StreamKey", "STREAM-KEY", "_stream__Key-", "Authorization",
     "AUTHORIZATION", "accessKey", "access-key", "SharedSecret", "shared_secret", "Headers",
     "webhook_context", "SPEC"],
)  # fmt: skip
def test_secret_keys_are_dropped_in_any_case_and_spelling(key):
    """Case, `_` and `-` do not matter; in objects inside lists of lists too."""
    value = {key: "KEY", "kept": 1}
    assert scrub({**value, "deep": [[value, [value]]]}) == {
        "kept": 1,
        "deep": [[{"kept": 1}, [{"kept": 1}]]],
    }


def test_a_key_that_is_a_credential_url_is_cleaned():
    """An object key can hold a URL too."""
    assert scrub({"rtmp://h/live/KEY": 1}) == {"rtmp://h/live/": 1}


# --- the attacker's shapes, end to end -----------------------------------------------------------

M = "zqmk-attack-7f3e"
ATTACKS = {
    "target-url": {"payload": {"target": {"id": "t1", "url": f"rtmp://host/live/{M}"}}},
    "list-of-lists": {"payload": {"profiles": [[{"streamKey": M}], [[{"x": {"streamKey": M}}]]]}},
    "StreamKey": {"payload": {"asset": {"id": "a", "StreamKey": M}}},
    "stream_key": {"payload": {"session": {"id": "ses", "stream_key": M}}},
    "Authorization": {"payload": {"pull": {"headers": {}, "Authorization": f"Bearer {M}"}}},
    "url-in-a-list": {"payload": {"origins": [f"https://user:{M}@origin.example/live"]}},
    "srt-streamid": {"payload": {"ingest": [[f"srt://h:9000?streamid={M}&latency=20"]]}},
    "rtmps-key": {"payload": {"multistream": {"targets": [{"url": f"rtmps://h:443/app/{M}"}]}}},
    "url-in-an-error": {"payload": {"error": f"failed to push rtmp://h/live/{M}: timeout"}},
    "url-as-a-name": {"stream": {"name": f"rtmp://h/live/{M}"}},
    "session-recording-url": {
        "payload": {
            "session": {"id": "ses", "recordingUrl": f"https://u:{M}@cdn/rec/index.m3u8"},
            "mp4Url": f"https://{M}@cdn/rec/source.mp4",
        }
    },
}


def merge(body, extra):
    for name, part in extra.items():
        holder = body.setdefault(name, {})
        for key, value in part.items():
            if isinstance(value, dict) and isinstance(holder.get(key), dict):
                holder[key].update(value)
            else:
                holder[key] = value
    return body


def assert_nowhere(client, caplog, redis_client, key_prefix, marker, answers):
    """`marker` is in no Redis key or value, no log record and no answer."""
    answers = [*answers, *read_everything(client, "s1")]
    assert marker not in stored_text(redis_client, key_prefix)
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert marker not in logged
    for answer in answers:
        assert marker.encode() not in answer


@pytest.mark.parametrize("attack", ATTACKS.values(), ids=ATTACKS.keys())
def test_credentials_in_the_attackers_shapes_reach_nothing(
    offline_app, redis_client, key_prefix, caplog, attack
):
    """Each shape the attacker's review found: accepted, and the key is nowhere."""
    caplog.set_level(logging.DEBUG)
    client = offline_app.test_client()
    body = merge(delivery(event="recording.ready", stream_id="s1"), json.loads(json.dumps(attack)))
    if "session" in body.get("payload", {}):
        body["payload"]["session"]["parentId"] = "s1"
    answer = post_delivery(client, body)
    assert answer.status_code == 200, answer.get_data()
    assert_nowhere(client, caplog, redis_client, key_prefix, M, [answer.get_data()])
    assert body["id"] in stored_text(redis_client, key_prefix)  # the dump did see the event


# --- the property: marker credentials anywhere ---------------------------------------------------

SECRET_NAMES = [("stream", "key"), ("authorization",), ("access", "key"), ("shared", "secret")]


@st.composite
def secret_keys(draw):
    """A secret key's name in any case, with `_` and `-` anywhere (and `headers`)."""
    parts = draw(st.sampled_from([*SECRET_NAMES, ("headers",), ("webhook", "context")]))
    name = ""
    for part in parts:
        name += draw(st.sampled_from(["", "_", "-", "__"])) + part
    name += draw(st.sampled_from(["", "_", "-"]))
    flips = draw(st.lists(st.booleans(), min_size=len(name), max_size=len(name)))
    return "".join(c.upper() if flip else c for c, flip in zip(name, flips, strict=True))


plain_key = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=8)
host = st.sampled_from(["host.example", "10.0.0.1:1935", "[::1]:9000", "a.rtmp.youtube.com"])
URL_SHAPES = [
    "{scheme}://{user}:{m}@{host}/live/x",
    "{scheme}://{m}@{host}",
    "{scheme}://{m}:@{host}/?q=1",
    "rtmp://{host}/live/{m}",
    "rtmp://{host}/{m}",
    "rtmp://{host}/app/{m}/",
    "RTMPS://{host}/rtmp/{m}?s_bl=1",
    "rtmps://{user}:{m}@{host}/app/k",
    "srt://{host}?streamid={m}&latency=200",
    "srt://{host}?mode=caller&passphrase={m}",
    "SRT://{host}/live/{m}",
    "srt://{host}?streamid=%23!::r=live/{m},m=publish",
    "error pushing to rtmp://{host}/live/{m}: connection reset",
    "retry {scheme}://{user}:{m}@{host}/x and more",
]


@st.composite
def credential_urls(draw, marker):
    shape = draw(st.sampled_from(URL_SHAPES))
    scheme = draw(st.sampled_from(["https", "http", "rtmp", "rtmps", "srt", "wss", "ftp", "s3"]))
    return shape.format(scheme=scheme, user=draw(plain_key), m=marker, host=draw(host))


@st.composite
def planted(draw, marker):
    """A value carrying `marker` as a credential, wrapped in lists and objects at random."""
    if draw(st.booleans()):
        inner = draw(st.sampled_from([marker, f"Bearer {marker}", [marker], {"v": marker}]))
        value = {draw(secret_keys()): inner, "kept": 1}
    else:
        value = draw(credential_urls(marker))
    for _ in range(draw(st.integers(min_value=0, max_value=6))):
        if draw(st.booleans()):
            value = [*draw(st.lists(st.integers(), max_size=2)), value]
        else:
            value = {draw(plain_key): value}
    return value


PLACES = ["stream", "payload", "session", "pull", "target"]


@HOSTILE
@given(data=st.data())
def test_marker_credentials_anywhere_reach_nothing(
    offline_app, redis_client, key_prefix, caplog, data
):
    """Markers at random depths, in lists, under random keys and casings and inside URLs:
    the delivery is accepted and no marker reaches Redis, a log line or an answer."""
    caplog.set_level(logging.DEBUG)
    client = offline_app.test_client()
    marker = f"zqmk{uuid.uuid4().hex[:12]}"
    body = delivery(event="recording.ready", stream_id="s1")
    session = {"id": "ses-1", "parentId": "s1"}
    body["payload"] = {"session": session, "target": {"id": "t"}}
    body["stream"]["pull"] = {"source": "https://origin.example/live.m3u8"}
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        holder = {
            "stream": body["stream"],
            "payload": body["payload"],
            "session": session,
            "pull": body["stream"]["pull"],
            "target": body["payload"]["target"],
        }[data.draw(st.sampled_from(PLACES))]
        key = data.draw(st.sampled_from(["url", "source", "name", "recordingUrl"]) | plain_key)
        if key not in ("id", "parentId"):
            holder[key] = data.draw(planted(marker))
    caplog.clear()
    answer = post_delivery(client, body)
    assert answer.status_code == 200, answer.get_data()
    assert_nowhere(client, caplog, redis_client, key_prefix, marker, [answer.get_data()])


@HOSTILE
@given(data=st.data())
def test_no_marker_survives_parsing(data):
    """The same property on the parser alone, many more placements per second."""
    marker = "zqmk-parse-only"
    document = {"id": "e", "event": "x", "timestamp": 10**12, "createdAt": 10**12}
    document["stream"] = {"id": "s", "x": data.draw(planted(marker))}
    document["payload"] = {data.draw(plain_key): data.draw(planted(marker))}
    parsed = parse_delivery(json.dumps(document).encode())
    assert marker not in json.dumps([parsed.stream, parsed.payload])
