"""Structured log formats and their configuration from the environment."""

import io
import json
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kit import logs
from kit.context import TraceContext, scope


@pytest.fixture
def root_logger():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)


def test_configure_defaults_to_logfmt_at_info(root_logger):
    stream = io.StringIO()
    logs.configure(stream=stream, environ={})
    logger = logging.getLogger("test.configure.default")
    logger.debug("hidden")
    logger.info("order created", extra={"order_id": "o-1", "amount": "12.50", "note": 'a "b" c'})
    (line,) = stream.getvalue().splitlines()
    fields = logs.parse_logfmt(line)
    assert fields["level"] == "info"
    assert fields["logger"] == "test.configure.default"
    assert fields["msg"] == "order created"
    assert fields["order_id"] == "o-1"
    assert fields["note"] == 'a "b" c'
    assert fields["ts"].endswith("Z")


def test_configure_reads_level_and_format_from_the_environment(root_logger):
    stream = io.StringIO()
    logs.configure(stream=stream, environ={"EVENTSTREAM_LOG_LEVEL": "debug",
                                           "EVENTSTREAM_LOG_FORMAT": "json"})
    with scope(trace=TraceContext("463ac35c9f6413ad", "a2fb4a1d1a96d312")):
        logging.getLogger("test.configure.env").debug("visible %s", "now")
    (line,) = stream.getvalue().splitlines()
    record = json.loads(line)
    assert record["level"] == "debug"
    assert record["msg"] == "visible now"
    assert record["trace_id"] == "463ac35c9f6413ad"


def test_configure_is_idempotent_and_arguments_win(root_logger):
    first, second = io.StringIO(), io.StringIO()
    logs.configure(stream=first, environ={"EVENTSTREAM_LOG_LEVEL": "ERROR"})
    logs.configure("WARNING", "logfmt", stream=second, environ={"EVENTSTREAM_LOG_LEVEL": "ERROR"})
    logging.getLogger("test.configure.twice").warning("once")
    assert first.getvalue() == ""
    assert len(second.getvalue().splitlines()) == 1


@pytest.mark.parametrize(("env", "message"), [
    ({"EVENTSTREAM_LOG_LEVEL": "LOUD"}, "log level"),
    ({"EVENTSTREAM_LOG_FORMAT": "xml"}, "log format"),
])
def test_bad_configuration_is_a_clear_error(root_logger, env, message):
    with pytest.raises(ValueError, match=message):
        logs.configure(stream=io.StringIO(), environ=env)


def test_exceptions_are_one_escaped_field():
    capture = io.StringIO()
    handler = logging.StreamHandler(capture)
    handler.setFormatter(logs.LogfmtFormatter())
    logger = logging.getLogger("test.format.exc")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        raise ValueError("bad\nthing")
    except ValueError:
        logger.exception("failed")
    logger.removeHandler(handler)
    (line,) = capture.getvalue().splitlines()
    assert "ValueError: bad\nthing" in logs.parse_logfmt(line)["exc"]


@given(st.dictionaries(st.from_regex(r"[a-z_][a-z0-9_]{0,10}", fullmatch=True), st.text(max_size=30),
                       max_size=6))
def test_logfmt_round_trips(fields):
    line = logs.logfmt(fields)
    assert "\n" not in line
    assert logs.parse_logfmt(line) == fields


def test_request_lines_match_the_generic_rendering_of_the_same_record():
    logger = logging.getLogger("test.format.request")
    fields = {"method": "Create Order", "duration_ms": 1.5, "outcome": "not_found",
              "error": 'no "order"', "trace_id": None}
    record = logger.makeRecord(logger.name, logging.INFO, __file__, 0, "request", (), None,
                               None, fields)
    record.__dict__[logs.REQUEST_FIELDS] = (fields, len(record.__dict__) + 1)
    for formatter in (logs.LogfmtFormatter(), logs.JSONFormatter()):
        marked = formatter.format(record)
        del record.__dict__[logs.REQUEST_FIELDS]
        generic = formatter.format(record)
        record.__dict__[logs.REQUEST_FIELDS] = (fields, len(record.__dict__) + 1)
        assert marked == generic
        assert formatter.format(record) == marked  # the cached line head renders alike
    assert "trace_id" not in logs.parse_logfmt(logs.LogfmtFormatter().format(record))
