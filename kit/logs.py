"""Structured logging setup: logfmt lines by default, JSON lines by option, level from configuration.

``configure()`` installs one handler on the root logger, so every ``logging.getLogger(...)`` of the
process writes structured lines. Fields passed with ``extra={...}`` become keys of the line; the
current trace id (``kit.context``) is added to every line written inside a traced request.
``EVENTSTREAM_LOG_LEVEL`` (DEBUG, INFO, WARNING, ERROR) and ``EVENTSTREAM_LOG_FORMAT`` (logfmt,
json) are read when the arguments are not given.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from collections.abc import Mapping
from typing import IO, Any

from kit import context as kit_context
from kit.logbuffer import BufferedStreamHandler

LEVEL_ENV = "EVENTSTREAM_LOG_LEVEL"
FORMAT_ENV = "EVENTSTREAM_LOG_FORMAT"
FORMATS = ("logfmt", "json")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

# Set by the request logging middleware on its records: (the request fields, the number of record
# attributes once set). While that number still holds, nothing else was added to the record and the
# fields need not be searched for among its attributes.
REQUEST_FIELDS = "_kit_request_fields"

# Attributes every LogRecord has; anything else on a record came from ``extra``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


_ts_cache: tuple[int, str] = (-1, "")


def _timestamp(created: float) -> str:
    """RFC 3339 UTC with milliseconds; the seconds part is formatted once per second."""
    global _ts_cache
    second = int(created)
    cached_second, prefix = _ts_cache
    if second != cached_second:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _ts_cache = (second, prefix)
    return f"{prefix}.{int((created - second) * 1000):03d}Z"


def _extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The fields after ts, level, logger and msg: the record's extras with a value, the trace id."""
    attrs = record.__dict__
    marked = attrs.get(REQUEST_FIELDS)
    if marked is not None and marked[1] == len(attrs):
        extras: dict[str, Any] = marked[0]
        # A field without a value (no trace id outside a traced request) is left out of the line.
        fields = {key: value for key, value in extras.items() if value is not None}
    else:
        fields = {key: value for key, value in attrs.items()
                  if value is not None and key not in _STANDARD and key[:1] != "_"}
    if "trace_id" not in fields:
        trace = kit_context.current().trace
        if trace is not None:
            fields["trace_id"] = trace.trace_id
    if record.exc_info:
        fields["exc"] = logging.Formatter().formatException(record.exc_info)
    return fields


def record_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The ordered fields of a structured line: ts, level, logger, msg, extras, trace_id, exc."""
    fields: dict[str, Any] = {
        "ts": _timestamp(record.created),
        "level": record.levelname.lower(),
        "logger": record.name,
        "msg": record.getMessage(),
    }
    fields.update(_extra_fields(record))
    return fields


# Unquoted logfmt values must not hold whitespace, '=', quotes, backslashes or control characters.
_NEEDS_QUOTES = re.compile(r'[\s="\\\x00-\x1f\x7f]')
_needs_quotes = _NEEDS_QUOTES.search


def _logfmt_value(value: Any) -> str:
    kind = type(value)
    text: str
    if kind is str:
        text = value
    elif kind is float or kind is int:
        return str(value)
    elif value is None:
        return ""
    elif value is True or value is False:
        return "true" if value else "false"
    else:
        text = str(value)
    if text and not _needs_quotes(text):
        return text
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return '"' + escaped.replace("\r", "\\r").replace("\t", "\\t") + '"'


def logfmt(fields: Mapping[str, Any]) -> str:
    """Render fields as one logfmt line: ``key=value`` pairs, values quoted when they need it."""
    return " ".join([f"{key}={_logfmt_value(value)}" for key, value in fields.items()])


def parse_logfmt(line: str) -> dict[str, str]:
    """Parse one logfmt line back into fields (for tests and log tooling)."""
    fields: dict[str, str] = {}
    i, n = 0, len(line)
    while i < n:
        while i < n and line[i] == " ":
            i += 1
        start = i
        while i < n and line[i] not in "= ":
            i += 1
        key = line[start:i]
        value = ""
        if i < n and line[i] == "=":
            i += 1
            if i < n and line[i] == '"':
                i += 1
                chars: list[str] = []
                while i < n and line[i] != '"':
                    if line[i] == "\\" and i + 1 < n:
                        i += 1
                        chars.append({"n": "\n", "r": "\r", "t": "\t"}.get(line[i], line[i]))
                    else:
                        chars.append(line[i])
                    i += 1
                i += 1
                value = "".join(chars)
            else:
                start = i
                while i < n and line[i] != " ":
                    i += 1
                value = line[start:i]
        if key:
            fields[key] = value
    return fields


class LogfmtFormatter(logging.Formatter):
    """Formats records as logfmt lines."""

    def __init__(self) -> None:
        super().__init__()
        self._heads: dict[tuple[str, str, str], str] = {}

    def format(self, record: logging.LogRecord) -> str:
        """One logfmt line for the record."""
        message = record.getMessage()
        # "level=... logger=... msg=..." repeats line after line: render it once per combination.
        key = (record.levelname, record.name, message)
        head = self._heads.get(key)
        if head is None:
            head = logfmt({"level": record.levelname.lower(), "logger": record.name, "msg": message})
            if len(self._heads) < 1024:
                self._heads[key] = head
        extras = _extra_fields(record)
        if not extras:
            return f"ts={_timestamp(record.created)} {head}"
        return f"ts={_timestamp(record.created)} {head} {logfmt(extras)}"


class JSONFormatter(logging.Formatter):
    """Formats records as one JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        """One JSON line for the record (values JSON cannot hold are written as text)."""
        return json.dumps(record_fields(record), default=str, ensure_ascii=False)


def formatter(fmt: str) -> logging.Formatter:
    """The formatter for ``fmt`` ("logfmt" or "json"); ValueError otherwise."""
    if fmt == "logfmt":
        return LogfmtFormatter()
    if fmt == "json":
        return JSONFormatter()
    raise ValueError(f"log format must be one of {', '.join(FORMATS)}, got {fmt!r}")


def _handler_marker(handler: logging.Handler) -> bool:
    return getattr(handler, "_kit_logs", False) is True


def configure(
    level: str | int | None = None,
    fmt: str | None = None,
    *,
    stream: IO[str] | None = None,
    environ: Mapping[str, str] | None = None,
    buffered: bool | None = None,
) -> logging.Handler:
    """Send the process's logs to ``stream`` (stderr) as structured lines; idempotent.

    ``level`` and ``fmt`` default to ``EVENTSTREAM_LOG_LEVEL`` (INFO) and ``EVENTSTREAM_LOG_FORMAT``
    (logfmt); unknown values raise ValueError. ``buffered`` (default: when writing to stderr) writes
    lines in batches from a background thread (``kit.logbuffer``), WARNING and above at once.
    Returns the installed handler.
    """
    env = os.environ if environ is None else environ
    raw_level = level if level is not None else env.get(LEVEL_ENV, "").strip() or "INFO"
    if isinstance(raw_level, str):
        name = raw_level.upper()
        if name not in LEVELS:
            raise ValueError(f"log level must be one of {', '.join(LEVELS)}, got {raw_level!r}")
        numeric = logging.getLevelName(name)
    else:
        numeric = raw_level
    chosen = (fmt if fmt is not None else env.get(FORMAT_ENV, "").strip() or "logfmt").lower()
    if buffered is None:
        buffered = stream is None
    target = stream if stream is not None else sys.stderr
    handler: logging.Handler = (
        BufferedStreamHandler(target) if buffered else logging.StreamHandler(target)
    )
    handler.setFormatter(formatter(chosen))
    handler._kit_logs = True  # type: ignore[attr-defined]
    root = logging.getLogger()
    for old in [h for h in root.handlers if _handler_marker(h)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(numeric)
    return handler
