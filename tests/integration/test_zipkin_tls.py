"""Spans over https to a real Zipkin server that serves https only (as deploy/ runs it): a reporter
that trusts the server's CA delivers, one that trusts another CA delivers nothing, and plain HTTP is
not answered."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from kit.certs import pkcs12
from kit.testing.requires import unavailable
from kit.testing.tls import TestPKI, make_pki
from kit.testing.wait import eventually
from kit.testing.zipkin import ZipkinServer, zipkin_missing
from kit.tracing import SpanKind
from kit.zipkin import HTTPReporter, ZipkinTracer
from kit.zipkin.config import SAMPLE_RATE_ENV, ZIPKIN_CA_ENV, ZIPKIN_URL_ENV, tracer_from_env
from kit.zipkin.server import KeyStore

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPKI:
    return make_pki(tmp_path_factory.mktemp("zipkin-pki"))


@pytest.fixture(scope="module")
def zipkin(pki: TestPKI) -> Iterator[ZipkinServer]:
    reason = zipkin_missing()
    if reason:
        unavailable(reason)
    store = KeyStore(pkcs12(pki.server, pki.server.cert.with_suffix(".p12"), "test-store"), "test-store")
    with ZipkinServer(tls=store, ca_file=pki.ca.cert) as server:
        yield server


def _report_one(tracer: ZipkinTracer, name: str) -> str:
    with tracer.span(name, SpanKind.SERVER, headers={}) as span:
        span.tag("http.route", name.split(" ", 1)[-1])
    return span.trace_id


def test_spans_from_the_environment_reach_the_https_server(zipkin: ZipkinServer, pki: TestPKI) -> None:
    assert zipkin.url.startswith("https://127.0.0.1:")
    tracer = tracer_from_env("tls-svc", environ={ZIPKIN_URL_ENV: zipkin.url, ZIPKIN_CA_ENV: str(pki.ca.cert),
                                                SAMPLE_RATE_ENV: "1.0"})
    assert isinstance(tracer, ZipkinTracer)
    trace_id = _report_one(tracer, "GET /secure")
    assert isinstance(tracer.reporter, HTTPReporter) and tracer.reporter.close(timeout=5)
    assert tracer.reporter.sent == 1 and tracer.reporter.dropped == 0
    trace = eventually(lambda: zipkin.trace(trace_id))
    assert [(s["name"], s["localEndpoint"]["serviceName"]) for s in trace] == [("get /secure", "tls-svc")]


def test_a_reporter_that_trusts_another_ca_delivers_nothing(zipkin: ZipkinServer, pki: TestPKI) -> None:
    reporter = HTTPReporter(zipkin.url, ca_file=str(pki.other_ca.cert), flush_interval=0.05,
                            registry=CollectorRegistry())
    trace_id = _report_one(ZipkinTracer("untrusting-svc", reporter), "GET /nowhere")
    reporter.close(timeout=5)
    assert (reporter.sent, reporter.dropped) == (0, 1)
    assert zipkin.trace(trace_id) == []
    assert "untrusting-svc" not in zipkin.services()


def test_plain_http_is_not_served(zipkin: ZipkinServer) -> None:
    plain = zipkin.url.replace("https://", "http://") + "/health"
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        urllib.request.urlopen(plain, timeout=5).read()


def test_a_missing_ca_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=ZIPKIN_CA_ENV):
        tracer_from_env("svc", environ={ZIPKIN_URL_ENV: "https://zipkin:9411",
                                        ZIPKIN_CA_ENV: str(tmp_path / "absent.crt")})
