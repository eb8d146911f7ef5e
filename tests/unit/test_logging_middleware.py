"""The request logging middleware: one structured line per call, in logfmt or JSON."""

import json
import logging

import pytest

from kit import errors
from kit.middleware.logging import logging_middleware
from kit.testing.logging import capture_logs, nop_logger
from kit.testing.tracing import RecordingTracer
from kit.tracing import SpanKind


def create_order(request: dict) -> str:
    if request.get("card") == "declined":
        raise errors.FailedPrecondition("card declined")
    if request.get("card") == "bug":
        raise KeyError("unexpected")
    return "order-1"


def test_a_successful_call_logs_method_duration_outcome_and_trace_id():
    logger = logging.getLogger("test.orders.ok")
    endpoint = logging_middleware(logger, "CreateOrder")(create_order)
    tracer = RecordingTracer()
    with capture_logs(logger) as logs, tracer.span("POST /orders", SpanKind.SERVER) as span:
        assert endpoint({"card": "4111 1111 1111 1111"}) == "order-1"
    (fields,) = logs.fields()
    assert fields["msg"] == "request"
    assert fields["level"] == "info"
    assert fields["method"] == "CreateOrder"
    assert fields["outcome"] == "ok"
    assert float(fields["duration_ms"]) >= 0
    assert fields["trace_id"] == span.trace_id
    assert "error" not in fields
    assert "4111" not in logs.lines[0]


def test_a_kit_error_logs_its_message_and_code_never_the_payload():
    logger = logging.getLogger("test.orders.error")
    endpoint = logging_middleware(logger, "CreateOrder")(create_order)
    with capture_logs(logger) as logs, pytest.raises(errors.FailedPrecondition):
        endpoint({"card": "declined", "secret": "hunter2"})
    (fields,) = logs.fields()
    assert fields["outcome"] == "failed_precondition"
    assert fields["error"] == "card declined"
    assert "hunter2" not in logs.lines[0]
    assert "trace_id" not in fields  # no trace: the field is left out, not written empty


def test_json_lines_carry_the_same_fields():
    logger = logging.getLogger("test.orders.json")
    endpoint = logging_middleware(logger, "CreateOrder")(create_order)
    with capture_logs(logger, fmt="json") as logs, pytest.raises(errors.FailedPrecondition):
        endpoint({"card": "declined"})
    line = json.loads(logs.lines[0])
    assert line["method"] == "CreateOrder"
    assert line["outcome"] == "failed_precondition"
    assert line["error"] == "card declined"
    assert isinstance(line["duration_ms"], float)
    assert "trace_id" not in line
    assert line["logger"] == "test.orders.json"


def test_unexpected_errors_are_logged_at_error_with_a_traceback():
    logger = logging.getLogger("test.orders.bug")
    endpoint = logging_middleware(logger, "CreateOrder")(create_order)
    with capture_logs(logger) as logs, pytest.raises(KeyError):
        endpoint({"card": "bug"})
    (fields,) = logs.fields()
    assert fields["level"] == "error"
    assert fields["outcome"] == "internal"
    assert fields["error"] == "KeyError: 'unexpected'"
    assert "Traceback" in fields["exc"]


def test_a_disabled_level_logs_nothing_but_still_reports_bugs():
    logger = logging.getLogger("test.orders.quiet")
    endpoint = logging_middleware(logger, "CreateOrder")(create_order)
    with capture_logs(logger, level=logging.WARNING) as logs:
        assert endpoint({}) == "order-1"
        with pytest.raises(errors.FailedPrecondition):
            endpoint({"card": "declined"})
        assert logs.lines == []
        with pytest.raises(KeyError):
            endpoint({"card": "bug"})
    assert [record.levelno for record in logs.records] == [logging.ERROR]


def test_the_nop_logger_writes_nothing():
    logger = nop_logger()
    endpoint = logging_middleware(logger, "CreateOrder")(create_order)
    assert endpoint({}) == "order-1"
    assert not logger.isEnabledFor(logging.CRITICAL)


def test_request_records_look_like_the_ones_logging_makes():
    logger = logging.getLogger("test.orders.record")
    endpoint = logging_middleware(logger, "CreateOrder")(create_order)
    with capture_logs(logger) as logs:
        endpoint({})
        endpoint({})  # the second record comes from the template the first one made
    reference = logger.makeRecord(logger.name, logging.INFO, __file__, 0, "request", (), None,
                                  "CreateOrder", {"method": "CreateOrder"})
    for record in logs.records:
        assert set(vars(reference)) - {"method"} <= set(vars(record))
        assert (record.levelname, record.name, record.getMessage()) == ("INFO", logger.name, "request")
        assert record.funcName == "CreateOrder"
        assert record.threadName == reference.threadName
        assert record.process == reference.process
        assert abs(record.created - reference.created) < 60
        assert record.method == "CreateOrder"
        assert record.outcome == "ok"


def test_fields_a_filter_adds_to_a_request_record_reach_the_line():
    logger = logging.getLogger("test.orders.filtered")
    endpoint = logging_middleware(logger, "CreateOrder")(create_order)

    def add_tenant(record: logging.LogRecord) -> bool:
        record.tenant = "acme"
        return True

    with capture_logs(logger) as logs:
        logs.addFilter(add_tenant)
        endpoint({})
    (fields,) = logs.fields()
    assert fields["tenant"] == "acme"
    assert fields["method"] == "CreateOrder"
