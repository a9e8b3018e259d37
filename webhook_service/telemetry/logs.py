"""Log formatting: one JSON object per line for machines, or plain text for a console."""

from __future__ import annotations

import functools
import json
import logging
import math
import re
import sys
from datetime import UTC, datetime
from typing import Any

# LogRecord attributes that are not worth a field in every line.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
# One encoder for every line: json.dumps builds a new one per call when given `default`.
# Its ensure_ascii (the default) escapes every control character and line separator: a JSON
# line is one line whatever its fields hold.
_encode = json.JSONEncoder(default=str).encode
# What a text line shows escaped: C0 and C1 controls, DEL, the Unicode line and paragraph
# separators (str.splitlines and some viewers break lines there too), and the backslash.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\\\\]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


@functools.lru_cache(maxsize=4)
def _utc_second(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")


def utc_millis(created: float) -> str:
    """`created` as ISO 8601 in UTC to the millisecond (truncated), e.g.
    2026-11-25T23:58:59.123+00:00. A request log line is written for every request, and
    consecutive lines share their second: only the milliseconds are formatted anew."""
    fraction, whole = math.modf(created)  # rounded to the microsecond as datetime does
    seconds, micros = int(whole), round(fraction * 1_000_000)
    if micros == 1_000_000:
        seconds, micros = seconds + 1, 0
    return f"{_utc_second(seconds)}.{micros // 1000:03d}+00:00"


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line: time, level, logger, message and any `extra` fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": utc_millis(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key[:1] != "_":
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return _encode(line)


class TextFormatter(logging.Formatter):
    """Human-readable lines; `extra` fields follow the message as key=value.

    A record is one line whatever its fields hold: control characters (CR, LF, ESC, ...) and
    Unicode line separators are shown as escapes, and a backslash is doubled, so a request
    path cannot write a line of its own or fake an escape. A traceback keeps its lines, each
    indented under the record's line, so none of them can pass for a record.
    """

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        record.message = escape_controls(record.getMessage())
        record.asctime = self.formatTime(record, self.datefmt)
        text = self.formatMessage(record)
        extras = [
            f"{escape_controls(str(k))}={escape_controls(str(v))}"
            for k, v in vars(record).items()
            if k not in _STANDARD and k[:1] != "_"
        ]
        if extras:
            text = f"{text} {' '.join(extras)}"
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        for block in (record.exc_text, record.stack_info and self.formatStack(record.stack_info)):
            if block:
                text += "".join(f"\n    {escape_controls(line)}" for line in block.splitlines())
        return text


def escape_controls(text: str) -> str:
    """`text` with each control character and line separator as a visible escape (`\\n`,
    `\\x1b`, `\\u2028`) and each backslash doubled; `text` itself when it has none."""
    if _UNSAFE.search(text) is None:
        return text
    return _UNSAFE.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def make_formatter(fmt: str) -> logging.Formatter:
    """The formatter for LOG_FORMAT (`json` or `text`)."""
    return TextFormatter() if fmt == "text" else JsonFormatter()


def skip_unused_record_fields() -> None:
    """Stop every log call from collecting what no line of ours shows: the caller's source
    position (a walk up the stack), thread, process and task names. The `logging` docs list
    these switches for this ("Optimization"); bench/README.md measures what they save."""
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    setattr(logging, "logAsyncioTasks", False)  # noqa: B010  # a switch since Python 3.12


def configure_logging(fmt: str = "json", level: str = "INFO") -> None:
    """Send the root logger to stderr in the given format (idempotent)."""
    skip_unused_record_fields()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(make_formatter(fmt))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("urllib3").setLevel(logging.WARNING)


def dict_config(fmt: str = "json", level: str = "INFO") -> dict[str, Any]:
    """A logging.config dict that puts the root logger and gunicorn's own in our format."""
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "service",
        "stream": "ext://sys.stderr",
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"service": {"()": make_formatter, "fmt": fmt}},
        "handlers": {"stderr": handler},
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            # At DEBUG urllib3 logs request lines: paths with stream keys, ?jwt= queries.
            "urllib3": {"level": "WARNING"},
            "gunicorn.error": {"handlers": ["stderr"], "level": level, "propagate": False},
            "gunicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }
