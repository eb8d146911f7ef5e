"""Tracing from configuration: ``--zipkin-url`` / ``EVENTSTREAM_ZIPKIN_URL`` and the sample rate.

No URL means tracing off: ``kit.tracing.NOOP_TRACER``, at almost no cost. With a URL, spans are
sampled at ``EVENTSTREAM_TRACE_SAMPLE_RATE`` (0.0-1.0, default 1.0) and reported in the background
by an ``HTTPReporter``. An https URL is verified against ``EVENTSTREAM_ZIPKIN_TLS_CA`` when set
(a private CA's certificate), else the system's roots. Every process of the system builds its
tracer with ``tracer_from_env``.
"""

from __future__ import annotations

import atexit
import math
import os
import socket
from collections.abc import Mapping

from kit.tracing import NOOP_TRACER, Tracer
from kit.zipkin.reporter import HTTPReporter
from kit.zipkin.tracer import ZipkinTracer

ZIPKIN_URL_ENV = "EVENTSTREAM_ZIPKIN_URL"
SAMPLE_RATE_ENV = "EVENTSTREAM_TRACE_SAMPLE_RATE"
ZIPKIN_CA_ENV = "EVENTSTREAM_ZIPKIN_TLS_CA"


def parse_sample_rate(value: str | float, *, source: str = SAMPLE_RATE_ENV) -> float:
    """A sample rate from text or a number; ValueError naming ``source`` unless 0.0 <= rate <= 1.0."""
    try:
        rate = float(value)
    except (TypeError, ValueError):
        rate = math.nan
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"{source} must be a number between 0.0 and 1.0, got {value!r}")
    return rate


def local_ipv4() -> str | None:
    """This host's IPv4 address as its name resolves, or None if it does not resolve."""
    try:
        address = socket.gethostbyname(socket.gethostname())
    except OSError:
        return None
    return address or None


def tracer_from_env(
    service_name: str,
    zipkin_url: str | None = None,
    sample_rate: float | str | None = None,
    *,
    port: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> Tracer:
    """The tracer for a process: arguments (from flags) win over the environment twins.

    Returns ``NOOP_TRACER`` when no Zipkin URL is configured; otherwise a ``ZipkinTracer`` whose
    ``reporter`` (an ``HTTPReporter``) is closed at interpreter exit (or earlier by the caller's
    ``close()``) so queued spans are flushed.
    ``port`` is the listen port recorded in the spans' local endpoint. An invalid sample rate raises
    ``ValueError`` even while tracing is off, so a typo never goes unnoticed.
    """
    env = os.environ if environ is None else environ
    if sample_rate is not None:
        rate = parse_sample_rate(sample_rate, source="sample_rate")
    else:
        raw_rate = env.get(SAMPLE_RATE_ENV, "").strip()
        rate = parse_sample_rate(raw_rate) if raw_rate else 1.0
    url = (zipkin_url if zipkin_url is not None else env.get(ZIPKIN_URL_ENV, "")).strip()
    if not url:
        return NOOP_TRACER
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"the Zipkin URL must start with http:// or https://, got {url!r}")
    ca_file = env.get(ZIPKIN_CA_ENV, "").strip() or None
    if ca_file is not None and not os.path.isfile(ca_file):
        raise ValueError(f"{ZIPKIN_CA_ENV} names no file: {ca_file!r}")
    reporter = HTTPReporter(url, ca_file=ca_file)
    # Spans of the last moments before exit are flushed, briefly: a dead Zipkin must not hold
    # up a shutdown.
    atexit.register(reporter.close, 1.0)
    return ZipkinTracer(service_name, reporter, sample_rate=rate, ip=local_ipv4(), port=port)
