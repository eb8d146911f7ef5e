"""Servers measured by the ``kit`` benchmark, each run in its own process.

``python -m eventstream.benchmarks.servers KIND PORT [ZIPKIN_URL]`` serves a no-op endpoint:
``http-bare`` (a bare Flask view), ``http-kit`` (the kit HTTP adapter with logging, metrics and
tracing at 100% sampling), ``grpc-bare`` (a bare servicer method), ``grpc-kit`` (the kit gRPC
adapter with the same middleware), ``http-auth`` / ``grpc-auth`` (the kit servers verifying an
HS256 bearer token on every request, ``kit.auth``), ``grpc-tls`` (``grpc-auth`` over mutual TLS,
its certificates from ``EVENTSTREAM_TLS_*`` as every service reads them: the deployment's
configuration), or ``zipkin-sink`` (a collector that accepts and discards spans).
"""

from __future__ import annotations

import logging
import sys
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
import waitress
from flask import Flask, Response
from google.protobuf import empty_pb2

import kit
import kit.grpc
import kit.http
import kit.logs
from kit.auth import BearerAuth, TokenVerifier, hs256_key, mint_token
from kit.grpc.tls import ServerTLS
from kit.middleware.logging import logging_middleware
from kit.middleware.metrics import instrument
from kit.tracing import Tracer
from kit.zipkin import tracer_from_env

GRPC_METHOD = "/bench.Bench/Noop"
HTTP_THREADS = 8
GRPC_WORKERS = 8
BENCH_SECRET = "bench-secret-for-the-auth-figures-only"


def bench_token() -> str:
    """A token the ``*-auth`` servers accept, for the load clients."""
    return mint_token(BENCH_SECRET, subject="bench", scopes=["service"])


def bench_auth() -> BearerAuth:
    """The authenticator of the ``*-auth`` servers."""
    return BearerAuth(TokenVerifier([hs256_key(BENCH_SECRET)]))


def noop(request: object) -> None:
    """The endpoint under test: does nothing."""
    del request


def full_chain(service: str) -> kit.Endpoint[object, None]:
    """The no-op endpoint inside the middleware a real service runs: logging, then metrics."""
    middleware: kit.Middleware[object, None] = kit.chain(
        logging_middleware(logging.getLogger(service), "Noop"),
        instrument(service, "Noop"),
    )
    return middleware(noop)


def http_bare() -> Flask:
    """A Flask app whose one view answers ``{}`` without any kit code."""
    app = Flask(__name__)

    @app.get("/noop")
    def view() -> Response:
        return Response(b"{}", mimetype="application/json")

    return app


def http_kit(tracer: Tracer, auth: BearerAuth | None = None) -> Flask:
    """The same route through ``kit.http.HTTPServer`` with the full middleware chain."""
    app = kit.http.create_app(__name__)
    server = kit.http.HTTPServer(full_chain("bench_http"), lambda request, view_args: None,
                                 lambda _: Response(b"{}", mimetype="application/json"),
                                 tracer=tracer, auth=auth)
    kit.http.register(app, "/noop", server, methods=["GET"])
    return app


def grpc_server(handler: grpc.RpcMethodHandler[empty_pb2.Empty, empty_pb2.Empty], port: int,
                tls: ServerTLS | None = None) -> grpc.Server:
    """A started gRPC server with one method ``/bench.Bench/Noop``."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=GRPC_WORKERS))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("bench.Bench", {"Noop": handler}),))
    if tls is None:
        server.add_insecure_port(f"127.0.0.1:{port}")
    else:
        server.add_secure_port(f"127.0.0.1:{port}", tls.credentials())
    server.start()
    return server


def grpc_bare_handler() -> grpc.RpcMethodHandler[empty_pb2.Empty, empty_pb2.Empty]:
    """A bare servicer method returning Empty."""
    empty = empty_pb2.Empty()
    return grpc.unary_unary_rpc_method_handler(
        lambda request, context: empty,
        request_deserializer=empty_pb2.Empty.FromString,
        response_serializer=empty_pb2.Empty.SerializeToString,
    )


def grpc_kit_handler(tracer: Tracer, auth: BearerAuth | None = None
                     ) -> grpc.RpcMethodHandler[empty_pb2.Empty, empty_pb2.Empty]:
    """The same method through ``kit.grpc.GRPCServer`` with the full middleware chain."""
    empty = empty_pb2.Empty()
    adapter: kit.grpc.GRPCServer[empty_pb2.Empty, object, None, empty_pb2.Empty]
    adapter = kit.grpc.GRPCServer(full_chain("bench_grpc"), lambda request: None, lambda _: empty,
                                  method=GRPC_METHOD, tracer=tracer, auth=auth)
    return grpc.unary_unary_rpc_method_handler(
        adapter,
        request_deserializer=empty_pb2.Empty.FromString,
        response_serializer=empty_pb2.Empty.SerializeToString,
    )


class _Sink(BaseHTTPRequestHandler):
    # Keep-alive, as a real Zipkin answers: the reporter reuses one connection for every batch.
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        del format, args


def main(argv: list[str]) -> None:
    """Serve the KIND given on the command line until killed."""
    kind, port = argv[0], int(argv[1])
    zipkin_url = argv[2] if len(argv) > 2 else None
    kit.logs.configure()  # EVENTSTREAM_LOG_LEVEL / _FORMAT, INFO and logfmt by default
    if kind == "zipkin-sink":
        ThreadingHTTPServer(("127.0.0.1", port), _Sink).serve_forever()
    tracer = tracer_from_env(f"bench-{kind}", zipkin_url, 1.0) if zipkin_url else kit.tracing.NOOP_TRACER
    if kind == "http-bare":
        waitress.serve(http_bare(), host="127.0.0.1", port=port, threads=HTTP_THREADS, _quiet=True)
    elif kind in ("http-kit", "http-auth"):
        app = http_kit(tracer, bench_auth() if kind == "http-auth" else None)
        waitress.serve(app, host="127.0.0.1", port=port, threads=HTTP_THREADS, _quiet=True)
    elif kind in ("grpc-bare", "grpc-kit", "grpc-auth", "grpc-tls"):
        auth = bench_auth() if kind in ("grpc-auth", "grpc-tls") else None
        handler = grpc_bare_handler() if kind == "grpc-bare" else grpc_kit_handler(tracer, auth)
        tls = ServerTLS.from_env() if kind == "grpc-tls" else None
        if kind == "grpc-tls" and (tls is None or tls.client_ca is None):
            raise SystemExit("grpc-tls needs EVENTSTREAM_TLS_CERT, _KEY and _CA")
        server = grpc_server(handler, port, tls)  # keep a reference: a collected server stops
        server.wait_for_termination()
    else:
        raise SystemExit(f"unknown server kind {kind!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
