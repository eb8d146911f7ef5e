"""A whole gRPC server guarded by ``kit.grpc.auth.RequireToken``, called through ``with_token``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from kit import errors
from kit.auth import BearerAuth, TokenVerifier, hs256_key, mint_token
from kit.grpc import dial, json_client, json_method, json_stream_client, json_stream_method, service
from kit.grpc.auth import RequireToken, with_token
from kit.grpc.net import new_server
from kit.testing.auth import OTHER_SECRET, SECRET

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Ping:
    n: int = 1


@dataclass(frozen=True)
class Pong:
    n: int


def ping(request: Ping) -> Pong:
    return Pong(request.n)


def pings(request: Ping) -> Iterator[Pong]:
    for i in range(request.n):
        yield Pong(i)


@pytest.fixture(scope="module")
def target() -> Iterator[str]:
    def add_health(server: grpc.Server) -> None:
        health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)

    guard = RequireToken(BearerAuth(TokenVerifier([hs256_key(SECRET)])), ["service"])
    server = new_server(service("test.Ping", {"Ping": json_method(ping, Ping),
                                              "Pings": json_stream_method(pings, Ping)}),
                        add_health, interceptors=[guard])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop(None).wait()


def call(channel: grpc.Channel) -> Pong:
    return json_client(channel, "/test.Ping/Ping", Ping, Pong, timeout=5)(Ping(3))


def stream(channel: grpc.Channel) -> list[Pong]:
    return list(json_stream_client(channel, "/test.Ping/Pings", Ping, Pong, timeout=5)(Ping(3)))


def test_a_service_token_passes_unary_and_streaming_calls(target: str) -> None:
    channel = with_token(dial(target), lambda: mint_token(SECRET, subject="svc", scopes=["service"]))
    assert call(channel) == Pong(3)
    assert stream(channel) == [Pong(0), Pong(1), Pong(2)]


def test_no_token_is_unauthenticated_on_both_kinds(target: str) -> None:
    channel = dial(target)
    with pytest.raises(errors.Unauthenticated):
        call(channel)
    with pytest.raises(errors.Unauthenticated):
        stream(channel)


def test_a_token_from_another_key_is_unauthenticated(target: str) -> None:
    channel = with_token(dial(target), mint_token(OTHER_SECRET, subject="svc", scopes=["service"]))
    with pytest.raises(errors.Unauthenticated, match="signature"):
        call(channel)


def test_a_customer_token_is_permission_denied(target: str) -> None:
    channel = with_token(dial(target), mint_token(SECRET, subject="cust-1"))
    with pytest.raises(errors.PermissionDenied, match="service"):
        call(channel)
    with pytest.raises(errors.PermissionDenied):
        stream(channel)


def test_health_checks_stay_open(target: str) -> None:
    stub = health_pb2_grpc.HealthStub(dial(target))
    reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
