"""JSON over gRPC: dataclass endpoints served and called with no .proto, over a real server."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import pytest
from google.protobuf import wrappers_pb2

from kit import errors
from kit.grpc import (
    GRPCServer,
    dial,
    from_rpc_error,
    json_client,
    json_method,
    json_stream_client,
    json_stream_method,
    service,
)
from kit.testing.grpc import serve_grpc

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Greet:
    name: str
    times: int = 1


@dataclass(frozen=True)
class Greeting:
    text: str


@dataclass(frozen=True)
class Nameless:
    times: str


def greet(request: Greet) -> Greeting:
    if request.name == "nobody":
        raise errors.NotFound("nobody is not here")
    return Greeting(" ".join([f"hello {request.name}"] * request.times))


def greet_each(request: Greet) -> Iterator[Greeting]:
    for i in range(request.times):
        yield Greeting(f"{i}: hello {request.name}")


def shout(message: wrappers_pb2.StringValue) -> wrappers_pb2.StringValue:
    return wrappers_pb2.StringValue(value=message.value.upper())


@pytest.fixture(scope="module")
def channel() -> Iterator[grpc.Channel]:
    greeter = service("greeter.Greeter", {
        "Greet": json_method(greet, Greet),
        "GreetEach": json_stream_method(greet_each, Greet),
        # A protobuf method can sit in the same service beside the JSON ones.
        "Shout": grpc.unary_unary_rpc_method_handler(
            GRPCServer(shout, lambda m: m, lambda m: m, method="/greeter.Greeter/Shout"),
            request_deserializer=wrappers_pb2.StringValue.FromString,
            response_serializer=wrappers_pb2.StringValue.SerializeToString),
    })
    with serve_grpc(greeter) as target:
        channel = dial(target)
        yield channel
        channel.close()


def test_a_json_method_round_trips(channel: grpc.Channel) -> None:
    client = json_client(channel, "/greeter.Greeter/Greet", Greet, Greeting)
    assert client(Greet("ada", times=2)) == Greeting("hello ada hello ada")


def test_a_json_method_raises_kit_errors_through(channel: grpc.Channel) -> None:
    client = json_client(channel, "/greeter.Greeter/Greet", Greet, Greeting)
    with pytest.raises(errors.NotFound, match="nobody is not here"):
        client(Greet("nobody"))


def test_a_request_with_bad_fields_is_invalid_argument_naming_them(channel: grpc.Channel) -> None:
    client = json_client(channel, "/greeter.Greeter/Greet", Nameless, Greeting)
    with pytest.raises(errors.InvalidArgument) as raised:
        client(Nameless(times="many"))
    assert {f.field for f in raised.value.fields} == {"name", "times"}


def test_malformed_json_is_invalid_argument_on_the_body(channel: grpc.Channel) -> None:
    raw = channel.unary_unary("/greeter.Greeter/Greet", request_serializer=None,
                              response_deserializer=None)
    with pytest.raises(grpc.RpcError) as raised:
        raw(b"{not json")
    error = from_rpc_error(raised.value)
    assert isinstance(error, errors.InvalidArgument)
    assert [f.field for f in error.fields] == ["body"]


def test_a_json_stream_round_trips(channel: grpc.Channel) -> None:
    client = json_stream_client(channel, "/greeter.Greeter/GreetEach", Greet, Greeting)
    assert list(client(Greet("bob", times=3))) == [
        Greeting("0: hello bob"), Greeting("1: hello bob"), Greeting("2: hello bob")]


def test_a_reply_that_does_not_decode_is_internal(channel: grpc.Channel) -> None:
    client = json_client(channel, "/greeter.Greeter/Greet", Greet, Nameless)
    with pytest.raises(errors.Internal, match="malformed reply"):
        client(Greet("ada"))


def test_protobuf_and_json_methods_share_a_service(channel: grpc.Channel) -> None:
    shout_client = channel.unary_unary(
        "/greeter.Greeter/Shout", request_serializer=wrappers_pb2.StringValue.SerializeToString,
        response_deserializer=wrappers_pb2.StringValue.FromString)
    assert shout_client(wrappers_pb2.StringValue(value="hey")).value == "HEY"


def test_an_unknown_method_is_internal(channel: grpc.Channel) -> None:
    client = json_client(channel, "/greeter.Greeter/Missing", Greet, Greeting)
    with pytest.raises(errors.Internal, match="UNIMPLEMENTED"):
        client(Greet("ada"))
