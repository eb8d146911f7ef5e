"""The ``kit`` suite: a no-op endpoint through the kit adapters and middleware vs bare servers.

Each server runs in its own process on a free port; this process drives it with a closed loop of
keep-alive clients. Bare and kit servers take turns (bare, kit, bare, kit, ...) so that noise on a
shared machine hits both alike, and the best round of each counts. Reported per transport: requests/s
(ratio kit / bare, the target is >= 0.85), p50/p99 latency, and the server's CPU time per request,
which does not depend on how fast the client is. ``kit.http.auth`` / ``kit.grpc.auth`` are the
same kit servers verifying an HS256 bearer token on every request, against the same bare baseline
(the bare servers ignore the token the clients send).
"""

from __future__ import annotations

import http.client
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import grpc
from google.protobuf import empty_pb2
from rich.console import Console

from eventstream.benchmarks.load import LoadResult, compare_loads, drive
from eventstream.benchmarks.report import Result
from eventstream.benchmarks.servers import GRPC_METHOD, bench_token
from kit.testing.net import free_port, wait_for_port

CONCURRENCY = 8


@contextmanager
def server_process(kind: str, zipkin_url: str | None = None) -> Iterator[tuple[int, int]]:
    """Start a benchmark server process; yield (its pid, its port); stop it afterwards."""
    port = free_port()
    args = [sys.executable, "-m", "eventstream.benchmarks.servers", kind, str(port)]
    if zipkin_url:
        args.append(zipkin_url)
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, timeout=20)
        yield process.pid, port
    finally:
        process.terminate()
        process.wait(timeout=10)


def http_caller(port: int) -> Callable[[], Callable[[], None]]:
    """One keep-alive connection per load thread, each call a GET /noop."""

    headers = {"Authorization": f"Bearer {bench_token()}"}

    def make() -> Callable[[], None]:
        conn = http.client.HTTPConnection("127.0.0.1", port)

        def call() -> None:
            conn.request("GET", "/noop", headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"status {response.status}")

        return call

    return make


def grpc_caller(port: int) -> Callable[[], Callable[[], None]]:
    """One shared channel; each load thread calls the no-op method."""
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    method = channel.unary_unary(GRPC_METHOD, request_serializer=empty_pb2.Empty.SerializeToString,
                                 response_deserializer=empty_pb2.Empty.FromString)
    request = empty_pb2.Empty()
    metadata = (("authorization", f"Bearer {bench_token()}"),)

    def make() -> Callable[[], None]:
        return lambda: method(request, timeout=10, metadata=metadata)

    return make


def measure(kind: str, caller: Callable[[int], Callable[[], Callable[[], None]]], duration: float,
            zipkin_url: str | None) -> LoadResult:
    """One load run against a fresh server of ``kind``."""
    with server_process(kind, zipkin_url) as (pid, port):
        result = drive(caller(port), concurrency=CONCURRENCY, duration=duration, warmup=1.0,
                       server_pid=pid)
    if result.errors:
        raise RuntimeError(f"{kind}: {result.errors} of {result.errors + result.requests} calls failed")
    return result


def compare(transport: str, caller: Callable[[int], Callable[[], Callable[[], None]]],
            rounds: int, duration: float, zipkin_url: str, console: Console) -> list[Result]:
    """Alternate bare, kit and kit-with-auth servers for ``rounds`` rounds; report the best of each."""
    bare: list[LoadResult] = []
    ours: list[LoadResult] = []
    authed: list[LoadResult] = []
    for round_number in range(1, rounds + 1):
        console.print(f"  {transport}: round {round_number}/{rounds}")
        bare.append(measure(f"{transport}-bare", caller, duration, None))
        ours.append(measure(f"{transport}-kit", caller, duration, zipkin_url))
        authed.append(measure(f"{transport}-auth", caller, duration, zipkin_url))
    b = max(bare, key=lambda r: r.per_second)
    k = max(ours, key=lambda r: r.per_second)
    a = max(authed, key=lambda r: r.per_second)
    base = f"bare {'Flask view' if transport == 'http' else 'servicer'}"
    return compare_loads(f"kit.{transport}", k, base, b) + compare_loads(f"kit.{transport}.auth", a,
                                                                         base, b)


def run(*, quick: bool, console: Console) -> list[Result]:
    """Run the suite: HTTP then gRPC, each kit adapter with logging, metrics and 100% tracing."""
    rounds, duration = (1, 1.0) if quick else (3, 5.0)
    with server_process("zipkin-sink") as (_, sink_port):
        zipkin_url = f"http://127.0.0.1:{sink_port}"
        results = compare("http", http_caller, rounds, duration, zipkin_url, console)
        results += compare("grpc", grpc_caller, rounds, duration, zipkin_url, console)
    return results
