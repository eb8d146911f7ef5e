"""Benchmark: what tracing, metrics and logging cost per request, against the bare endpoint.

Two levels, each variant measured beside its bare baseline in the same run:

- in-process: a no-op endpoint called in a loop, wrapped the way the transports wrap it (a SERVER
  span opened from incoming headers, ``instrument``, ``logging_middleware``). Shows the raw cost in
  microseconds per call. The reporter there discards what it is given; the cost of encoding a span
  (py-zipkin, on the reporter's thread) is reported on its own line.
- through the adapters (``observability_adapters``): the same endpoint served by ``kit.http`` and
  ``kit.grpc`` in a server process, driven by bare client threads from this one.

``measure()`` returns plain dicts ``{name, value, unit, baseline, baseline_value, ratio}``;
``run()`` adapts it to the ``eventstream bench`` suite signature.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry

from kit.endpoint import Endpoint, Middleware, chain
from kit.logs import LogfmtFormatter
from kit.middleware.logging import logging_middleware
from kit.middleware.metrics import instrument
from kit.tracing import NOOP_TRACER, SpanKind, Tracer
from kit.zipkin import ZipkinSpan, ZipkinTracer
from kit.zipkin.encoding import encode_batch, span_dict

VARIANTS = ("bare", "tracing sampled", "tracing unsampled", "metrics", "logging", "all three")
_INCOMING = {"host": "127.0.0.1", "user-agent": "bench", "accept": "*/*"}


@dataclass(frozen=True)
class Ping:
    """The benchmark request."""

    item_id: str


@dataclass(frozen=True)
class Pong:
    """The benchmark response."""

    item_id: str


def ping(request: Ping) -> Pong:
    """The no-op endpoint under test."""
    return Pong(request.item_id)


class _Discard:
    """A reporter that drops spans: in-process figures measure the request path alone."""

    def report(self, span: ZipkinSpan) -> None:
        del span


def result(name: str, value: float, unit: str, baseline: str | None = None,
            baseline_value: float | None = None) -> dict[str, Any]:
    """One figure as the bench reports it, with its ratio to the baseline when there is one."""
    ratio = round(value / baseline_value, 3) if baseline_value else None
    return {"name": name, "value": round(value, 3), "unit": unit, "baseline": baseline,
            "baseline_value": None if baseline_value is None else round(baseline_value, 3),
            "ratio": ratio}


def bench_logger() -> logging.Logger:
    """A logger formatting logfmt lines into /dev/null, so formatting and writing are both paid."""
    logger = logging.getLogger("eventstream.bench.requests")
    logger.handlers.clear()
    handler = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115 (lives with the logger)
    handler.setFormatter(LogfmtFormatter())
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


def middlewares(variant: str, registry: CollectorRegistry, logger: logging.Logger,
                 ) -> list[Middleware[Ping, Pong]]:
    """The middleware of ``variant`` (none for the bare and the tracing-only variants)."""
    metrics: Middleware[Ping, Pong] = instrument("bench", variant.replace(" ", "_"), registry=registry)
    logged: Middleware[Ping, Pong] = logging_middleware(logger, variant)
    return {"metrics": [metrics], "logging": [logged], "all three": [metrics, logged]}.get(variant, [])


def tracer_for(variant: str, sampled: Tracer, unsampled: Tracer) -> Tracer:
    """The tracer of ``variant``: sampled, unsampled, or none."""
    if variant in ("tracing sampled", "all three"):
        return sampled
    return unsampled if variant == "tracing unsampled" else NOOP_TRACER


def _in_process_call(variant: str, tracer: Tracer, registry: CollectorRegistry,
                     logger: logging.Logger) -> Callable[[], object]:
    endpoint: Endpoint[Ping, Pong] = chain(*middlewares(variant, registry, logger))(ping)
    request = Ping("item-1")
    if tracer is NOOP_TRACER:
        return lambda: endpoint(request)

    def traced() -> object:
        with tracer.span("GET /items/<item_id>", SpanKind.SERVER, headers=_INCOMING) as span:
            span.tag("http.method", "GET")
            span.tag("http.status_code", "200")
            return endpoint(request)

    return traced


def _calls_per_second(call: Callable[[], object], seconds: float) -> float:
    best = 0.0
    for _ in range(3):
        count, started = 0, time.perf_counter()
        deadline = started + seconds / 3
        while True:
            for _ in range(200):
                call()
            count += 200
            now = time.perf_counter()
            if now >= deadline:
                break
        best = max(best, count / (now - started))
    return best


def measure_in_process(*, quick: bool = False) -> list[dict[str, Any]]:
    """Calls per second of the wrapped no-op endpoint, and microseconds added per call."""
    seconds = 0.3 if quick else 1.5
    registry = CollectorRegistry()
    logger = bench_logger()
    sampled = ZipkinTracer("bench", _Discard(), sample_rate=1.0, ip="127.0.0.1")
    unsampled = ZipkinTracer("bench", _Discard(), sample_rate=0.0, ip="127.0.0.1")
    rates = {variant: _calls_per_second(
        _in_process_call(variant, tracer_for(variant, sampled, unsampled), registry, logger), seconds)
        for variant in VARIANTS}
    bare = rates["bare"]
    results = [result("in-process bare endpoint", bare, "calls/s")]
    for variant in VARIANTS[1:]:
        results.append(result(f"in-process {variant}", rates[variant], "calls/s",
                               "in-process bare endpoint", bare))
        results.append(result(f"in-process {variant} overhead",
                               (1 / rates[variant] - 1 / bare) * 1e6, "us/call"))
    results.append(result("span encoding (reporter thread)", _encoding_cost(sampled), "us/span"))
    return results


def _encoding_cost(tracer: ZipkinTracer) -> float:
    with tracer.span("GET /items/<item_id>", SpanKind.SERVER) as span:
        span.tag("http.method", "GET")
        span.remote_endpoint(ip="127.0.0.1", port=50000)
    # As the reporter does it: one object per span, one serialisation per batch.
    batch, rounds = 100, 50
    started = time.perf_counter()
    for _ in range(rounds):
        encode_batch([span_dict(span) for _ in range(batch)])
    return (time.perf_counter() - started) / (rounds * batch) * 1e6


def measure(*, quick: bool = False, adapters: bool = True) -> list[dict[str, Any]]:
    """Every figure of this benchmark: in-process, then through the adapters."""
    results = measure_in_process(quick=quick)
    if adapters:
        from eventstream.benchmarks.observability_adapters import measure_adapters

        results.extend(measure_adapters(quick=quick))
    return results


def run(quick: bool, console: Any) -> list[Any]:
    """The ``eventstream bench`` suite entry: ``measure`` as ``Result`` records."""
    from eventstream.benchmarks.report import Result

    console.print("observability: in-process, then HTTP and gRPC adapters")
    return [Result(**figure) for figure in measure(quick=quick)]
