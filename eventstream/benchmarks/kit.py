"""The ``kit`` suite: a no-op endpoint through the kit adapters and middleware vs bare servers.

Each server runs in its own process on a free port; this process drives it with a closed loop of
keep-alive clients. Bare and kit servers take turns (bare, kit, bare, kit, ...) so that noise on a
shared machine hits both alike, and the best round of each counts. Reported per transport: requests/s
(ratio kit / bare, the target is >= 0.85), p50/p99 latency, and the server's CPU time per request,
which does not depend on how fast the client is. ``kit.http.auth`` / ``kit.grpc.auth`` are the
same kit servers verifying an HS256 bearer token on every request, against the same bare baseline
(the bare servers ignore the token the clients send). ``kit.grpc.tls`` is ``kit.grpc.auth`` over
mutual TLS (certificates of a CA made for the run, EC P-256 as ``kit.certs`` issues them), as
deploy/ runs every gRPC hop, against the same plaintext bare baseline.
"""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
from google.protobuf import empty_pb2
from rich.console import Console

from eventstream.benchmarks.load import LoadResult, compare_loads, drive
from eventstream.benchmarks.report import Result
from eventstream.benchmarks.servers import GRPC_METHOD, bench_token
from kit.grpc.tls import ENV_CA, ENV_CERT, ENV_KEY, ClientTLS
from kit.testing.net import free_port, wait_for_port
from kit.testing.tls import TestPKI, make_pki

CONCURRENCY = 8


@contextmanager
def server_process(kind: str, zipkin_url: str | None = None,
                   env: Mapping[str, str] | None = None) -> Iterator[tuple[int, int]]:
    """Start a benchmark server process (``env`` added to its environment); yield (its pid, its
    port); stop it afterwards."""
    port = free_port()
    args = [sys.executable, "-m", "eventstream.benchmarks.servers", kind, str(port)]
    if zipkin_url:
        args.append(zipkin_url)
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, **(env or {})})
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


def grpc_caller(port: int, tls: ClientTLS | None = None) -> Callable[[], Callable[[], None]]:
    """One shared channel (mutual TLS with ``tls``); each load thread calls the no-op method."""
    target = f"127.0.0.1:{port}"
    channel = grpc.insecure_channel(target) if tls is None else grpc.secure_channel(
        target, tls.credentials(), options=tls.options())
    method = channel.unary_unary(GRPC_METHOD, request_serializer=empty_pb2.Empty.SerializeToString,
                                 response_deserializer=empty_pb2.Empty.FromString)
    request = empty_pb2.Empty()
    metadata = (("authorization", f"Bearer {bench_token()}"),)

    def make() -> Callable[[], None]:
        return lambda: method(request, timeout=10, metadata=metadata)

    return make


@dataclass(frozen=True)
class MutualTLS:
    """Certificates for the ``grpc-tls`` server and its clients, from one CA made for the run."""

    pki: TestPKI  # kit.testing.tls.make_pki: a CA, and a server and a client certificate it signs

    def server_env(self) -> dict[str, str]:
        """How the server process finds its certificate and the CA it requires of clients."""
        server = self.pki.server
        return {ENV_CERT: str(server.cert), ENV_KEY: str(server.key), ENV_CA: str(self.pki.ca.cert)}

    def caller(self, port: int) -> Callable[[], Callable[[], None]]:
        """The gRPC load client over mutual TLS, presenting the client certificate."""
        client = self.pki.client
        return grpc_caller(port, ClientTLS(ca=self.pki.ca.cert, cert=client.cert, key=client.key))


def measure(kind: str, caller: Callable[[int], Callable[[], Callable[[], None]]], duration: float,
            zipkin_url: str | None, env: Mapping[str, str] | None = None) -> LoadResult:
    """One load run against a fresh server of ``kind``."""
    with server_process(kind, zipkin_url, env) as (pid, port):
        result = drive(caller(port), concurrency=CONCURRENCY, duration=duration, warmup=1.0,
                       server_pid=pid)
    if result.errors:
        raise RuntimeError(f"{kind}: {result.errors} of {result.errors + result.requests} calls failed")
    return result


def compare(transport: str, caller: Callable[[int], Callable[[], Callable[[], None]]],
            rounds: int, duration: float, zipkin_url: str, console: Console,
            tls: MutualTLS | None = None) -> list[Result]:
    """Alternate bare, kit, kit-with-auth (and, given ``tls``, kit-with-auth over mutual TLS)
    servers for ``rounds`` rounds; report the best of each against the best bare one."""
    bare: list[LoadResult] = []
    ours: list[LoadResult] = []
    authed: list[LoadResult] = []
    secured: list[LoadResult] = []
    for round_number in range(1, rounds + 1):
        console.print(f"  {transport}: round {round_number}/{rounds}")
        bare.append(measure(f"{transport}-bare", caller, duration, None))
        ours.append(measure(f"{transport}-kit", caller, duration, zipkin_url))
        authed.append(measure(f"{transport}-auth", caller, duration, zipkin_url))
        if tls is not None:
            secured.append(measure(f"{transport}-tls", tls.caller, duration, zipkin_url, tls.server_env()))
    b = max(bare, key=lambda r: r.per_second)
    base = f"bare {'Flask view' if transport == 'http' else 'servicer'}"
    results = compare_loads(f"kit.{transport}", max(ours, key=lambda r: r.per_second), base, b)
    results += compare_loads(f"kit.{transport}.auth", max(authed, key=lambda r: r.per_second), base, b)
    if secured:
        results += compare_loads(f"kit.{transport}.tls", max(secured, key=lambda r: r.per_second), base, b)
    return results


def run(*, quick: bool, console: Console) -> list[Result]:
    """Run the suite: HTTP then gRPC, each kit adapter with logging, metrics and 100% tracing."""
    rounds, duration = (1, 1.0) if quick else (3, 5.0)
    with server_process("zipkin-sink") as (_, sink_port), tempfile.TemporaryDirectory() as certs:
        zipkin_url = f"http://127.0.0.1:{sink_port}"
        results = compare("http", http_caller, rounds, duration, zipkin_url, console)
        results += compare("grpc", grpc_caller, rounds, duration, zipkin_url, console,
                           MutualTLS(make_pki(Path(certs))))
    return results
