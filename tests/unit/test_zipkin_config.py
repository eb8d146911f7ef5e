"""Tracing configuration from flags and environment twins."""

import re

import pytest

from kit.tracing import NOOP_TRACER
from kit.zipkin import HTTPReporter, ZipkinTracer, parse_sample_rate, tracer_from_env
from kit.zipkin.reporter import spans_endpoint


def make(**kwargs):
    tracer = tracer_from_env("ordersvc", **kwargs)
    if isinstance(tracer, ZipkinTracer):
        assert isinstance(tracer.reporter, HTTPReporter)
        tracer.reporter.close(timeout=1)
    return tracer


def test_no_url_means_tracing_off():
    assert make(environ={}) is NOOP_TRACER
    assert make(environ={"EVENTSTREAM_ZIPKIN_URL": "  "}) is NOOP_TRACER


def test_url_from_the_environment_samples_everything_by_default():
    tracer = make(environ={"EVENTSTREAM_ZIPKIN_URL": "http://zipkin:9411"})
    assert isinstance(tracer, ZipkinTracer)
    assert tracer.sample_rate == 1.0
    assert tracer.service_name == "ordersvc"


def test_sample_rate_from_the_environment():
    tracer = make(environ={"EVENTSTREAM_ZIPKIN_URL": "http://zipkin:9411",
                           "EVENTSTREAM_TRACE_SAMPLE_RATE": "0.25"})
    assert isinstance(tracer, ZipkinTracer)
    assert tracer.sample_rate == 0.25


def test_arguments_win_over_the_environment():
    env = {"EVENTSTREAM_ZIPKIN_URL": "http://ignored:9411", "EVENTSTREAM_TRACE_SAMPLE_RATE": "0.5"}
    tracer = make(zipkin_url="http://zipkin:9411", sample_rate=0.0, port=3000, environ=env)
    assert isinstance(tracer, ZipkinTracer)
    assert tracer.sample_rate == 0.0
    assert tracer.local.port == 3000
    assert make(zipkin_url="", environ=env) is NOOP_TRACER


@pytest.mark.parametrize("raw", ["abc", "1.5", "-0.1", "nan", "inf"])
def test_an_invalid_rate_is_a_clear_error(raw):
    message = re.escape("EVENTSTREAM_TRACE_SAMPLE_RATE must be a number between 0.0 and 1.0")
    with pytest.raises(ValueError, match=message):
        make(environ={"EVENTSTREAM_ZIPKIN_URL": "http://zipkin:9411", "EVENTSTREAM_TRACE_SAMPLE_RATE": raw})
    with pytest.raises(ValueError, match=message):
        make(environ={"EVENTSTREAM_TRACE_SAMPLE_RATE": raw})


def test_an_invalid_url_is_a_clear_error():
    with pytest.raises(ValueError, match="http://"):
        make(zipkin_url="zipkin:9411", environ={})


@pytest.mark.parametrize(("raw", "rate"), [("0", 0.0), ("1", 1.0), (" 0.1 ", 0.1), (0.75, 0.75)])
def test_valid_rates(raw, rate):
    assert parse_sample_rate(raw) == rate


@pytest.mark.parametrize("url", ["http://zipkin:9411", "http://zipkin:9411/", "http://zipkin:9411/api/v2/spans"])
def test_spans_endpoint(url):
    assert spans_endpoint(url) == "http://zipkin:9411/api/v2/spans"
