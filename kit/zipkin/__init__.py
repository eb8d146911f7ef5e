"""Zipkin tracing for kit: spans with B3 propagation, reported in the background as Zipkin v2 JSON.

``tracer_from_env(service_name)`` builds the process's tracer from ``EVENTSTREAM_ZIPKIN_URL`` and
``EVENTSTREAM_TRACE_SAMPLE_RATE`` (no URL: ``kit.tracing.NOOP_TRACER``). ``ZipkinTracer`` implements
``kit.tracing.Tracer``; ``HTTPReporter`` batches spans to ``<zipkin-url>/api/v2/spans``;
``kit.zipkin.b3`` reads and writes B3 headers for any carrier (HTTP, gRPC metadata, NATS headers).

Spans are built by kit (contextvars, one object per span) and encoded as Zipkin v2 JSON a batch at a
time (``kit.zipkin.encoding``, held equal to py-zipkin's V2_JSON encoding by the tests); py-zipkin's
transport base class shapes the HTTP transport.
"""

from kit.zipkin.b3 import Extracted, extract, inject, inject_single
from kit.zipkin.config import parse_sample_rate, tracer_from_env
from kit.zipkin.reporter import HTTPReporter, HTTPTransport, dropped_counter
from kit.zipkin.span import Endpoint, Reporter, ZipkinSpan
from kit.zipkin.tracer import ZipkinTracer

__all__ = [
    "Endpoint",
    "Extracted",
    "HTTPReporter",
    "HTTPTransport",
    "Reporter",
    "ZipkinSpan",
    "ZipkinTracer",
    "dropped_counter",
    "extract",
    "inject",
    "inject_single",
    "parse_sample_rate",
    "tracer_from_env",
]
