"""Property tests of the pure parsers: any input ends in a result or the module's own error."""

from __future__ import annotations

import json
import re
import string

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from webhook_service.ingest import signature
from webhook_service.ingest.events import (
    KNOWN_EVENTS,
    TOKEN_PATTERN,
    Delivery,
    EventError,
    check_freshness,
    parse_delivery,
)
from webhook_service.ingest.scrub import SECRET_KEYS
from webhook_service.ingest.signature import MAX_SIGNATURES, SignatureError

# Bounded and without a deadline: CI machines differ in speed, the property does not.
PROPERTY = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
# Whole envelopes take many draws each: fewer of them keep the file within seconds.
ENVELOPES = settings(PROPERTY, max_examples=150)
MIN_MS, MAX_MS = 100_000_000_000, 253_402_300_800_000  # events.EpochMs: [min, max)
ENVELOPE_FIELDS = ("id", "event", "timestamp", "createdAt", "webhookId", "stream", "payload")

# WSGI hands header values over as latin-1 decoded text: any byte can arrive as a character.
latin1_text = st.binary(max_size=1100).map(lambda raw: raw.decode("latin-1"))
short_latin1 = st.binary(max_size=20).map(lambda raw: raw.decode("latin-1"))
# Lone surrogates too, though no WSGI server produces them.
any_text = st.text(st.characters() | st.characters(categories=["Cs"]), max_size=40)
hex_digest = st.text("0123456789abcdefABCDEF", min_size=64, max_size=64)
header_pair = st.one_of(
    st.builds("t={}".format, st.integers(min_value=-10, max_value=10**17)),
    st.builds("t={}".format, short_latin1),
    st.builds("v1={}".format, hex_digest),
    st.builds("v1={}".format, st.text("0123456789abcdefg", max_size=70)),
    st.builds("{}={}".format, st.sampled_from(["v0", "v2", "T", " t", "v1 "]), hex_digest),
    short_latin1,
)
# Near-valid headers reach the deeper checks: two t values, too many v1, bad digits.
structured_header = st.builds(
    lambda pairs, sep: sep.join(pairs),
    st.lists(header_pair, max_size=12),
    st.sampled_from([",", ", ", " , ", ";", ",,"]),
)
header_value = st.one_of(st.none(), latin1_text, any_text, structured_header)

json_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(),
    any_text,
    # Half a UTF-16 pair, as JavaScript writes a string cut inside an emoji: often, on purpose.
    st.text(st.characters(categories=["Cs"]), min_size=1, max_size=2),
)
json_value = st.recursive(
    json_scalar,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=8) | any_text, children, max_size=4)
    ),
    max_leaves=12,
)
TOKEN_CHARS = string.ascii_letters + string.digits + "-_"  # events.TOKEN_PATTERN
token = st.text(TOKEN_CHARS, min_size=1, max_size=128)
event_name = st.sampled_from(sorted(KNOWN_EVENTS)) | st.text(
    TOKEN_CHARS + ".:", min_size=1, max_size=100
)
epoch_ms = st.integers(min_value=MIN_MS, max_value=MAX_MS - 1)
small_json = st.recursive(
    json_scalar, lambda children: st.lists(children, max_size=2), max_leaves=3
) | st.dictionaries(
    st.sampled_from(sorted(SECRET_KEYS)) | st.text(max_size=6), json_scalar, max_size=3
)
# Fields around the required ones, secret keys among them (they must be scrubbed).
extras = st.dictionaries(
    st.sampled_from(sorted(SECRET_KEYS)) | st.text(max_size=8), small_json, max_size=3
)


@st.composite
def valid_envelopes(draw):
    """A delivery body the parser must accept: required fields valid, anything else around."""
    envelope = {
        "id": draw(token),
        "event": draw(event_name),
        "timestamp": draw(epoch_ms),
        "createdAt": draw(epoch_ms),
    }
    if draw(st.booleans()):
        envelope["webhookId"] = draw(st.none() | st.text(max_size=40))
    if draw(st.booleans()):
        envelope["stream"] = {**draw(extras), "id": draw(token)}
    if draw(st.booleans()):
        session = draw(extras)
        for key in ("id", "parentId"):
            if draw(st.booleans()):
                session[key] = draw(st.none() | token)
        envelope["payload"] = {**draw(extras), "session": session}
    for key, value in draw(extras).items():
        envelope.setdefault(key, value)
    return envelope


def serialise(document, style):
    """JSON bytes in one of the ways a sender may write it; the signature covers these bytes."""
    indent, separators, ensure_ascii, sort_keys = style
    text = json.dumps(
        document,
        indent=indent,
        separators=separators,
        ensure_ascii=ensure_ascii,
        sort_keys=sort_keys,
    )
    return text.encode("utf-8", "surrogatepass" if not ensure_ascii else "strict")


json_style = st.tuples(
    st.sampled_from([None, 0, 2]),
    st.sampled_from([None, (",", ":"), (" , ", " : ")]),
    st.just(True) | st.just(False),
    st.booleans(),
)


def assert_storable(delivery: Delivery) -> None:
    """What a parsed delivery promises the store and the API, whatever the input was."""
    assert re.fullmatch(TOKEN_PATTERN, delivery.id)
    assert re.fullmatch(r"[A-Za-z0-9_.:-]{1,100}", delivery.event)
    for ms in (delivery.timestamp_ms, delivery.created_at_ms):
        assert type(ms) is int and MIN_MS <= ms < MAX_MS
    for ref in (delivery.stream_id, delivery.session_id):
        assert ref is None or re.fullmatch(TOKEN_PATTERN, ref)
    # Storable as UTF-8 JSON (Redis's cjson, the API's answers) without any secret key left.
    text = json.dumps([delivery.stream, delivery.payload], ensure_ascii=False)
    text.encode("utf-8")
    for key in SECRET_KEYS:
        assert f'"{key}":' not in text


# --- signature ---------------------------------------------------------------------------------


@PROPERTY
@given(header=header_value)
def test_any_header_parses_or_raises_signature_error(header):
    """parse_header: a well-formed result or SignatureError, for any text at all."""
    try:
        parsed = signature.parse_header(header)
    except SignatureError as error:
        assert error.reason in ("missing", "malformed") and error.detail
        return
    assert 0 <= parsed.timestamp_ms < 10**16
    assert 1 <= len(parsed.signatures) <= MAX_SIGNATURES
    assert all(re.fullmatch("[0-9a-f]{64}", s) for s in parsed.signatures)


@PROPERTY
@given(
    body=st.binary(max_size=500),
    header=header_value,
    secrets=st.lists(st.text(min_size=1, max_size=40), max_size=3),
)
def test_any_input_verifies_or_raises_signature_error(body, header, secrets):
    """verify: `t` or SignatureError for any body, header and secrets (none configured too)."""
    try:
        t = signature.verify(body, header, secrets)
    except SignatureError as error:
        assert error.reason in ("missing", "malformed", "mismatch")
        return
    assert t == signature.parse_header(header).timestamp_ms


@PROPERTY
@given(
    body=st.binary(max_size=2000),
    secret=st.text(min_size=1, max_size=64),
    others=st.lists(st.text(min_size=1, max_size=64), max_size=3),
    t=st.integers(min_value=0, max_value=10**16 - 1),
    junk=st.lists(st.sampled_from(["v0=abc", "x=1", "v1=" + "0" * 64, " "]), max_size=3),
    flip=st.integers(min_value=0),
)
def test_a_signed_body_verifies_and_any_changed_byte_does_not(body, secret, others, t, junk, flip):
    """The signer's header verifies under any secret order, extra pairs ignored; a tampered
    body never does."""
    header = ",".join([signature.format_header(body, secret, t), *junk])
    assert signature.verify(body, header, [*others, secret]) == t
    if body:
        at = flip % len(body)
        tampered = body[:at] + bytes([body[at] ^ 0x01]) + body[at + 1 :]
        try:
            signature.verify(tampered, header, [*others, secret])
        except SignatureError as error:
            assert error.reason == "mismatch"
        else:
            raise AssertionError("a tampered body verified")


# --- events ------------------------------------------------------------------------------------


@PROPERTY
@given(
    body=st.one_of(
        st.binary(max_size=2000),
        json_value.map(lambda v: json.dumps(v).encode()),
        # Valid JSON cut or corrupted at a random point.
        st.tuples(valid_envelopes(), st.integers(min_value=0), st.binary(max_size=3)).map(
            lambda c: (lambda raw, at: raw[:at] + c[2] + raw[at + 1 :])(
                json.dumps(c[0]).encode(), c[1] % 200
            )
        ),
    )
)
def test_any_bytes_parse_or_raise_event_error(body):
    """parse_delivery: a storable delivery or EventError for any bytes."""
    try:
        delivery = parse_delivery(body)
    except EventError as error:
        assert str(error)
        return
    assert_storable(delivery)


@PROPERTY
@given(value=json_value)
def test_any_json_value_parses_or_raises_event_error(value):
    """Any JSON document, object or not, gives a storable delivery or EventError."""
    try:
        delivery = parse_delivery(json.dumps(value).encode())
    except EventError:
        return
    assert_storable(delivery)


@ENVELOPES
@given(
    envelope=valid_envelopes(),
    replaced=st.dictionaries(st.sampled_from(ENVELOPE_FIELDS), json_value, max_size=3),
    nested=st.dictionaries(
        st.sampled_from(["stream.id", "payload.session", "session.id", "session.parentId"]),
        json_value,
        max_size=2,
    ),
    dropped=st.sets(st.sampled_from(ENVELOPE_FIELDS), max_size=2),
)
def test_near_valid_envelopes_parse_or_raise_event_error(envelope, replaced, nested, dropped):
    """A valid envelope with fields replaced by any JSON, or removed: storable or EventError."""
    envelope.update(replaced)
    for path, value in nested.items():
        holder = envelope.get("stream") if path.startswith("stream") else envelope.get("payload")
        if path.startswith("session") and isinstance(holder, dict):
            holder = holder.get("session")
        if isinstance(holder, dict):
            holder[path.rsplit(".", 1)[1]] = value
    for field in dropped:
        envelope.pop(field, None)
    try:
        delivery = parse_delivery(json.dumps(envelope).encode())
    except EventError:
        return
    assert_storable(delivery)


@ENVELOPES
@given(
    envelope=valid_envelopes(),
    style=json_style,
    secret=st.text(min_size=1, max_size=64),
    skew_ms=st.integers(min_value=-300_000, max_value=300_000),
)
@example(
    envelope={
        "id": "e",
        "event": "stream.started",
        "timestamp": MAX_MS - 1,
        "createdAt": MIN_MS,
        "stream": {"id": "s", "name": "\ud83d", "\udfff": 1},
        "payload": {"session": {"id": "x"}, "recordingUrl": "a\ud800"},
    },
    style=(None, None, True, False),
    secret="s",
    skew_ms=0,
)
def test_a_signed_valid_envelope_verifies_parses_and_is_fresh(envelope, style, secret, skew_ms):
    """Whatever its layout, a correctly signed valid envelope verifies, parses to its own fields
    and is fresh anywhere within the tolerance."""
    raw = serialise(envelope, style)
    header = signature.format_header(raw, secret, envelope["timestamp"])
    t = signature.verify(raw, header, ["another-secret", secret])
    delivery = parse_delivery(raw)
    check_freshness(delivery, t, envelope["timestamp"] + skew_ms, tolerance_seconds=300)
    assert (delivery.id, delivery.event) == (envelope["id"], envelope["event"])
    assert (delivery.timestamp_ms, delivery.created_at_ms) == (t, envelope["createdAt"])
    session = (envelope.get("payload") or {}).get("session") or {}
    stream_id = envelope["stream"]["id"] if "stream" in envelope else session.get("parentId")
    assert delivery.stream_id == stream_id
    assert delivery.session_id == session.get("id")
    assert_storable(delivery)
