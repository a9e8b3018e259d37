"""The JSON log line: its time field and its fields (pure, no server)."""

from __future__ import annotations

import json
import logging
import random
from datetime import UTC, datetime

import pytest

from webhook_service.telemetry.logs import JsonFormatter, utc_millis

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
