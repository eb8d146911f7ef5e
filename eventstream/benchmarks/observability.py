"""Benchmark: what tracing, metrics and logging cost per request, against the bare endpoint.

Two levels, each variant measured beside its bare baseline in the same run:

- in-process: a no-op endpoint called in a loop, wrapped the way the transports wrap it (a SERVER
  span opened from incoming headers, ``instrument``, ``logging_middleware``). Shows the raw cost in
  microseconds per call. The reporter there discards what it is given; the cost of encoding a span
  (py-zipkin, on the reporter's thread) is reported on its own line.
- through the adapters: the same endpoint served by ``kit.http.HTTPServer`` under waitress and by
  ``kit.grpc`` (JSON over gRPC) in a server process, driven by bare client threads in a closed
  loop from this one. Sampled spans go through a real ``HTTPReporter`` to a real HTTP collector
  in a third process, as Zipkin would be. Rounds alternate between variants and the best round
  counts, to damp the noise of a small shared machine. The target: all three on at 100%
  sampling keep >= 85% of bare throughput.

``measure()`` returns plain dicts ``{name, value, unit, baseline, baseline_value, ratio}``;
``run()`` adapts it to the ``eventstream bench`` suite signature.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry

from kit.endpoint import Endpoint, Middleware, chain
from kit.logs import LogfmtFormatter
from kit.middleware.logging import logging_middleware
from kit.middleware.metrics import instrument
from kit.tracing import NOOP_TRACER, SpanKind, Tracer
from kit.zipkin import HTTPReporter, ZipkinSpan, ZipkinTracer
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


def _result(name: str, value: float, unit: str, baseline: str | None = None,
            baseline_value: float | None = None) -> dict[str, Any]:
    ratio = round(value / baseline_value, 3) if baseline_value else None
    return {"name": name, "value": round(value, 3), "unit": unit, "baseline": baseline,
            "baseline_value": None if baseline_value is None else round(baseline_value, 3),
            "ratio": ratio}


def _bench_logger() -> logging.Logger:
    """A logger formatting logfmt lines into /dev/null, so formatting and writing are both paid."""
    logger = logging.getLogger("eventstream.bench.requests")
    logger.handlers.clear()
    handler = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115 (lives with the logger)
    handler.setFormatter(LogfmtFormatter())
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


def _middlewares(variant: str, registry: CollectorRegistry, logger: logging.Logger,
                 ) -> list[Middleware[Ping, Pong]]:
    metrics: Middleware[Ping, Pong] = instrument("bench", variant.replace(" ", "_"), registry=registry)
    logged: Middleware[Ping, Pong] = logging_middleware(logger, variant)
    return {"metrics": [metrics], "logging": [logged], "all three": [metrics, logged]}.get(variant, [])


def _tracer_for(variant: str, sampled: Tracer, unsampled: Tracer) -> Tracer:
    if variant in ("tracing sampled", "all three"):
        return sampled
    return unsampled if variant == "tracing unsampled" else NOOP_TRACER


def _in_process_call(variant: str, tracer: Tracer, registry: CollectorRegistry,
                     logger: logging.Logger) -> Callable[[], object]:
    endpoint: Endpoint[Ping, Pong] = chain(*_middlewares(variant, registry, logger))(ping)
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
    logger = _bench_logger()
    sampled = ZipkinTracer("bench", _Discard(), sample_rate=1.0, ip="127.0.0.1")
    unsampled = ZipkinTracer("bench", _Discard(), sample_rate=0.0, ip="127.0.0.1")
    rates = {variant: _calls_per_second(
        _in_process_call(variant, _tracer_for(variant, sampled, unsampled), registry, logger), seconds)
        for variant in VARIANTS}
    bare = rates["bare"]
    results = [_result("in-process bare endpoint", bare, "calls/s")]
    for variant in VARIANTS[1:]:
        results.append(_result(f"in-process {variant}", rates[variant], "calls/s",
                               "in-process bare endpoint", bare))
        results.append(_result(f"in-process {variant} overhead",
                               (1 / rates[variant] - 1 / bare) * 1e6, "us/call"))
    results.append(_result("span encoding (reporter thread)", _encoding_cost(sampled), "us/span"))
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


def serve_variants(zipkin_url: str) -> None:
    """Serve every variant over HTTP and gRPC until stdin closes (the server process's main).

    Prints one JSON line ``{"http": base_url, "grpc": target}`` once listening, and one
    ``{"sent": n, "dropped": n}`` line about the spans after stdin closes.
    """
    from kit.grpc import json_method, service
    from kit.http import HTTPServer, create_app, json_response, query_request, register
    from kit.testing.grpc import serve_grpc
    from kit.testing.http import serve_wsgi

    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    registry = CollectorRegistry()
    logger = _bench_logger()
    reporter = HTTPReporter(zipkin_url, registry=registry)
    sampled = ZipkinTracer("bench", reporter, sample_rate=1.0, ip="127.0.0.1")
    unsampled = ZipkinTracer("bench", reporter, sample_rate=0.0, ip="127.0.0.1")
    app = create_app("bench")
    handlers = []
    for variant in VARIANTS:
        slug = variant.replace(" ", "_")
        tracer = _tracer_for(variant, sampled, unsampled)
        endpoint = chain(*_middlewares(variant, registry, logger))(ping)
        register(app, f"/{slug}/<item_id>",
                 HTTPServer(endpoint, query_request(Ping), json_response(), tracer=tracer))
        # One service per variant, so each method handler carries the variant's tracer.
        handlers.append(service(f"bench.{slug}", {"Ping": json_method(endpoint, Ping)}, tracer=tracer))
    with serve_wsgi(app, threads=4) as base_url, serve_grpc(*handlers, max_workers=8) as target:
        print(json.dumps({"http": base_url, "grpc": target}), flush=True)
        sys.stdin.read()
    reporter.close(timeout=2)
    print(json.dumps({"sent": reporter.sent, "dropped": reporter.dropped}), flush=True)


@contextmanager
def _server_process(zipkin_url: str) -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    """Run ``serve_variants`` in a child process; yield it and its addresses."""
    script = ("from eventstream.benchmarks.observability import serve_variants; "
              f"serve_variants({zipkin_url!r})")
    process = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    assert process.stdin is not None and process.stdout is not None
    try:
        addresses = json.loads(process.stdout.readline())
        yield process, addresses
    finally:
        process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _clients(addresses: dict[str, str]) -> Iterator[tuple[str, Callable[[], None]]]:
    """One call per transport and variant against the server process."""
    import urllib3

    from kit.grpc import dial, json_client

    pool = urllib3.PoolManager(maxsize=8)
    channel = dial(addresses["grpc"])
    for variant in VARIANTS:
        slug = variant.replace(" ", "_")
        url = f"{addresses['http']}/{slug}/item-1"
        # Clients are bare: the figures are the servers' overhead.
        client = json_client(channel, f"/bench.{slug}/Ping", Ping, Pong, timeout=5)

        def http_call(url: str = url) -> None:
            response = pool.request("GET", url, retries=False)
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}")

        def grpc_call(client: Endpoint[Ping, Pong] = client) -> None:
            client(Ping("item-1"))

        yield f"http {variant}", http_call
        yield f"grpc {variant}", grpc_call


@contextmanager
def _collector_process() -> Iterator[str]:
    """A Zipkin collector in its own process, as Zipkin would be; yields its URL."""
    from kit.testing.net import free_port, wait_for_port

    port = free_port()
    script = ("import sys; from kit.testing.tracing import ZipkinCollector; "
              f"collector = ZipkinCollector(port={port}).start(); sys.stdin.read()")
    process = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE)
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _same(call: Callable[[], None]) -> Callable[[], Callable[[], None]]:
    """A ``make_call`` for ``drive`` giving every thread the same (thread-safe) call."""
    return lambda: call


def measure_adapters(*, quick: bool = False) -> list[dict[str, Any]]:
    """Requests per second and server CPU per request through the adapters, beside bare.

    The servers run in their own process (with their reporter thread, so span encoding counts),
    the collector in another, the clients here. The server's CPU time per request, read from
    ``/proc``, is the steadier figure on a busy machine; its ratio is ``bare / variant``, the share
    of bare throughput a CPU-bound server keeps. Rounds alternate between variants and the best
    round of each counts.
    """
    from eventstream.benchmarks.load import drive

    duration, rounds = (0.4, 1) if quick else (0.8, 6)
    results: list[dict[str, Any]] = []
    with _collector_process() as collector_url, _server_process(collector_url) as (server, addresses):
        calls = dict(_clients(addresses))
        best: dict[str, float] = {}
        cpu: dict[str, float] = {}
        names = list(calls)
        for round_number in range(rounds):
            # Rotate the order each round so no variant always runs after the same neighbour.
            shift = round_number * len(names) // rounds
            for name in names[shift:] + names[:shift]:
                call = calls[name]
                load = drive(_same(call), concurrency=4, duration=duration, warmup=0.2,
                             server_pid=server.pid)
                best[name] = max(best.get(name, 0.0), load.per_second)
                cpu[name] = min(cpu.get(name, float("inf")), load.server_cpu_us_per_request)
        server.stdin.close()  # type: ignore[union-attr]
        spans = json.loads(server.stdout.readline() or "{}")  # type: ignore[union-attr]
    for transport in ("http", "grpc"):
        bare, bare_cpu = best[f"{transport} bare"], cpu[f"{transport} bare"]
        results.append(_result(f"{transport} bare endpoint", bare, "req/s"))
        results.append(_result(f"{transport} bare endpoint server cpu", bare_cpu, "us/req"))
        for variant in VARIANTS[1:]:
            name = f"{transport} {variant}"
            results.append(_result(name, best[name], "req/s", f"{transport} bare endpoint", bare))
            server_cpu = _result(f"{name} server cpu", cpu[name], "us/req",
                                 f"{transport} bare endpoint server cpu", bare_cpu)
            server_cpu["ratio"] = round(bare_cpu / cpu[name], 3) if cpu[name] else None
            results.append(server_cpu)
    results.append(_result("spans reported to the collector", float(spans.get("sent", 0)), "spans"))
    results.append(_result("spans dropped", float(spans.get("dropped", 0)), "spans"))
    return results


def measure(*, quick: bool = False, adapters: bool = True) -> list[dict[str, Any]]:
    """Every figure of this benchmark: in-process, then through the adapters."""
    results = measure_in_process(quick=quick)
    if adapters:
        results.extend(measure_adapters(quick=quick))
    return results


def run(quick: bool, console: Any) -> list[Any]:
    """The ``eventstream bench`` suite entry: ``measure`` as ``Result`` records."""
    from eventstream.benchmarks.report import Result

    console.print("observability: in-process, then HTTP and gRPC adapters")
    return [Result(**figure) for figure in measure(quick=quick)]
