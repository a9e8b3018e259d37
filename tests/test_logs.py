"""The log lines: the JSON line's time field and fields, and that no field can break a line."""

from __future__ import annotations

import io
import json
import logging
import random
import sys
from datetime import UTC, datetime

import pytest

from webhook_service.telemetry.logs import JsonFormatter, TextFormatter, make_formatter, utc_millis

EDGES = [
    1_764_086_400.0,  # a whole second
    1_764_086_400.9995,  # rounds up to the next millisecond's microsecond, not the second
    1_764_086_399.9999996,  # rounds up into the next second
    1_435_094_507.179,  # 0.179 is 0.17899999... as a float
    1_907_422_062.8859994,
]


@pytest.mark.parametrize(
    "created", EDGES + [random.Random(6).uniform(1e9, 2e9) for _ in range(200)]
)
def test_time_field_equals_datetime_isoformat(created):
    """The cached formatting gives exactly what datetime.isoformat gives, edges included."""
    expected = datetime.fromtimestamp(created, tz=UTC).isoformat(timespec="milliseconds")
    assert utc_millis(created) == expected


def test_json_line_has_the_extra_fields_and_no_private_ones():
    record = logging.makeLogRecord(
        {
            "name": "webhook_service.request",
            "levelname": "INFO",
            "msg": "POST %s 200",
            "args": ("/webhooks/livepeer",),
            "created": EDGES[1],
            "request_id": "r1",
            "status": 200,
            "_private": "x",
            "odd": object(),
        }
    )
    line = json.loads(JsonFormatter().format(record))
    assert line["time"] == "2025-11-25T16:00:00.999+00:00"
    assert (line["level"], line["message"]) == ("info", "POST /webhooks/livepeer 200")
    assert (line["request_id"], line["status"]) == ("r1", 200)
    assert "_private" not in line and line["odd"].startswith("<object object")


# --- Control characters: one record is one line (issue 16) -------------------------------------

FORGED = "/x\r\n2026-01-01 00:00:00,000 INFO    webhook_service.request: GET /admin 200\x1b[2J"


def _record(msg="%s %s", args=("GET", FORGED), **extra):
    return logging.makeLogRecord(
        {"name": "webhook_service.request", "levelname": "INFO", "msg": msg, "args": args} | extra
    )


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("a\nb", r"a\nb"),
        ("a\r\nb", r"a\r\nb"),
        ("tab\there", r"tab\there"),
        ("\x1b[31mred", r"\x1b[31mred"),
        ("nul\x00del\x7fc1\x85", r"nul\x00del\x7fc1\x85"),
        ("ls\u2028ps\u2029", r"ls\u2028ps\u2029"),
        ("back\\slash", r"back\\slash"),
        ("plain ünïcode ✓", "plain ünïcode ✓"),
    ],
)
def test_text_lines_show_control_characters_as_escapes(raw, shown):
    """CR, LF, ESC and every other control character become a visible escape; a backslash is
    doubled so that an escape cannot be faked; printable text is kept as it is."""
    line = TextFormatter().format(_record("%s", (raw,), path=raw))
    assert line.endswith(f": {shown} path={shown}")


def test_a_crafted_path_cannot_forge_a_text_line():
    """The message and every extra field of a record stay on the record's one line."""
    line = TextFormatter().format(_record(path=FORGED, **{"odd\nkey": "v\r"}))
    assert "\n" not in line and "\r" not in line and "\x1b" not in line
    assert r"GET /x\r\n2026-01-01 00:00:00,000 INFO" in line
    assert r"path=/x\r\n2026" in line and r"odd\nkey=v\r" in line


def test_a_text_traceback_cannot_start_a_line_of_its_own():
    """A traceback keeps its lines, each indented under its record; an exception message with
    a line break cannot put a forged record at the start of a line."""
    try:
        raise ValueError(FORGED)
    except ValueError:
        record = _record(exc_info=sys.exc_info())
    lines = TextFormatter().format(record).split("\n")
    assert lines[1].startswith("    Traceback")
    assert all(line.startswith("    ") for line in lines[1:])
    assert not any(line.startswith("2026-01-01") for line in lines)
    assert "\r" not in "".join(lines) and "\x1b" not in "".join(lines)


def test_json_lines_are_already_one_line_whatever_the_fields_hold():
    """JSON escapes control characters itself: message, extras and traceback stay one line."""
    try:
        raise ValueError(FORGED)
    except ValueError:
        record = _record(path=FORGED, exc_info=sys.exc_info())
    line = JsonFormatter().format(record)
    assert "\n" not in line and "\r" not in line and "\x1b" not in line
    assert "\u2028" not in JsonFormatter().format(_record("%s", ("a\u2028b",)))
    parsed = json.loads(line)
    assert parsed["path"] == FORGED and parsed["message"] == f"GET {FORGED}"


def test_the_request_line_of_a_crafted_path_is_one_text_line(client):
    """Through the real edge with LOG_FORMAT=text: a path with CR LF in it is one log line."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(make_formatter("text"))
    request_log = logging.getLogger("webhook_service.request")
    level = request_log.level
    request_log.addHandler(handler)
    request_log.setLevel(logging.INFO)
    try:
        client.get("/healthz/%0d%0aforged%201970-01-01%20INFO%20fake: GET /admin 200")
    finally:
        request_log.removeHandler(handler)
        request_log.setLevel(level)
    written = stream.getvalue()
    assert written.count("\n") == 1 and written.endswith("\n")
    assert r"\r\nforged 1970-01-01 INFO fake" in written
