"""Benchmark: the observability variants served through ``kit.http`` and ``kit.grpc``.

The endpoint of ``observability`` is served by ``kit.http.HTTPServer`` under waitress and by
``kit.grpc`` (JSON over gRPC) in a server process, driven by bare client threads in a closed loop
from this one. Sampled spans go through a real ``HTTPReporter`` to a real HTTP collector in a third
process, as Zipkin would be. Rounds alternate between variants and the best round counts, to damp
the noise of a small shared machine. The target: all three on at 100% sampling keep >= 85% of bare
throughput.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from prometheus_client import CollectorRegistry

from eventstream.benchmarks.observability import (
    VARIANTS,
    Ping,
    Pong,
    bench_logger,
    middlewares,
    ping,
    result,
    tracer_for,
)
from kit.endpoint import Endpoint, chain
from kit.zipkin import HTTPReporter, ZipkinTracer


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
    logger = bench_logger()
    reporter = HTTPReporter(zipkin_url, registry=registry)
    sampled = ZipkinTracer("bench", reporter, sample_rate=1.0, ip="127.0.0.1")
    unsampled = ZipkinTracer("bench", reporter, sample_rate=0.0, ip="127.0.0.1")
    app = create_app("bench")
    handlers = []
    for variant in VARIANTS:
        slug = variant.replace(" ", "_")
        tracer = tracer_for(variant, sampled, unsampled)
        endpoint = chain(*middlewares(variant, registry, logger))(ping)
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
    script = ("from eventstream.benchmarks.observability_adapters import serve_variants; "
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
        results.append(result(f"{transport} bare endpoint", bare, "req/s"))
        results.append(result(f"{transport} bare endpoint server cpu", bare_cpu, "us/req"))
        for variant in VARIANTS[1:]:
            name = f"{transport} {variant}"
            results.append(result(name, best[name], "req/s", f"{transport} bare endpoint", bare))
            server_cpu = result(f"{name} server cpu", cpu[name], "us/req",
                                 f"{transport} bare endpoint server cpu", bare_cpu)
            server_cpu["ratio"] = round(bare_cpu / cpu[name], 3) if cpu[name] else None
            results.append(server_cpu)
    results.append(result("spans reported to the collector", float(spans.get("sent", 0)), "spans"))
    results.append(result("spans dropped", float(spans.get("dropped", 0)), "spans"))
    return results
