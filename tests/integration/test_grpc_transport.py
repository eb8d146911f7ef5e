"""The gRPC transport over a real server on a loopback port, called through the kit clients."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import pytest
from google.protobuf import struct_pb2, wrappers_pb2

from kit import context, errors
from kit.grpc import (
    GRPCClient,
    GRPCServer,
    GRPCStreamClient,
    GRPCStreamServer,
    dial,
    serve,
    shutdown,
)
from kit.testing.grpc import serve_grpc
from kit.testing.net import free_port

pytestmark = pytest.mark.integration

SERVICE = "test.Echo"
StringValue = wrappers_pb2.StringValue


@dataclass(frozen=True)
class Text:
    text: str


def decode_text(message: StringValue) -> Text:
    if message.value == "undecodable":
        raise ValueError("text must be decodable")
    return Text(message.value)


def encode_text(response: Text) -> StringValue:
    return StringValue(value=response.text)


def text_client(target_or_channel: str | grpc.Channel, method: str, **kwargs: object) -> GRPCClient:
    channel = dial(target_or_channel) if isinstance(target_or_channel, str) else target_or_channel
    return GRPCClient(channel, f"/{SERVICE}/{method}", encode_text, lambda m: Text(m.value),
                      request_serializer=StringValue.SerializeToString,
                      response_deserializer=StringValue.FromString, **kwargs)


def kit_error(name: str) -> errors.KitError:
    """The error the Fail method raises for a request naming its class."""
    cls = getattr(errors, name)
    if cls is errors.InvalidArgument:
        return errors.InvalidArgument("bad order", fields=[
            errors.FieldViolation("order_items.0.quantity", "must be positive"),
            errors.FieldViolation("customer_id", "is required"),
        ])
    if cls is errors.ResourceExhausted:
        return errors.ResourceExhausted("slow down", retry_after=1.5)
    return cls(f"{name} happened")


class EchoServicer:
    """Shaped like a generated servicer: its methods are GRPCServer instances."""

    def __init__(self) -> None:
        self.calls = 0
        self.seen: list[context.RequestContext] = []
        self.stream_closed = threading.Event()
        self.Echo = GRPCServer(self.echo, decode_text, encode_text, method=f"/{SERVICE}/Echo")
        self.Fail = GRPCServer(self.fail, decode_text, encode_text, method=f"/{SERVICE}/Fail")
        self.Context = GRPCServer(self.context, decode_text, lambda s: s, method=f"/{SERVICE}/Context")
        self.Count = GRPCStreamServer(self.count, decode_text, encode_text, method=f"/{SERVICE}/Count")

    def echo(self, request: Text) -> Text:
        self.calls += 1
        return Text(request.text.upper())

    def fail(self, request: Text) -> Text:
        if request.text == "crash":
            raise RuntimeError("secret database password 'hunter2' rejected")
        raise kit_error(request.text)

    def context(self, request: Text) -> struct_pb2.Struct:
        ctx = context.current()
        self.seen.append(ctx)
        reply = struct_pb2.Struct()
        reply.update({"remaining": ctx.remaining() if ctx.deadline is not None else -1.0,
                      "metadata": dict(ctx.metadata)})
        return reply

    def count(self, request: Text) -> Iterator[Text]:
        """Yield 0, 1, 2; "forever" never stops; "fail-at-2" raises NotFound after two items."""
        try:
            i = 0
            while request.text == "forever" or i < 3:
                if request.text == "fail-at-2" and i == 2:
                    raise errors.NotFound("item 2 is gone")
                yield Text(str(i))
                i += 1
        finally:
            self.stream_closed.set()


def add_echo_servicer_to_server(servicer: EchoServicer, server: grpc.Server) -> None:
    """What protoc would generate for EchoServicer."""
    unary = {name: grpc.unary_unary_rpc_method_handler(
        getattr(servicer, name), request_deserializer=StringValue.FromString,
        response_serializer=StringValue.SerializeToString) for name in ("Echo", "Fail")}
    unary["Context"] = grpc.unary_unary_rpc_method_handler(
        servicer.Context, request_deserializer=StringValue.FromString,
        response_serializer=struct_pb2.Struct.SerializeToString)
    unary["Count"] = grpc.unary_stream_rpc_method_handler(
        servicer.Count, request_deserializer=StringValue.FromString,
        response_serializer=StringValue.SerializeToString)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, unary),))


@pytest.fixture(scope="module")
def servicer() -> EchoServicer:
    return EchoServicer()


@pytest.fixture(scope="module")
def channel(servicer: EchoServicer) -> Iterator[grpc.Channel]:
    with serve_grpc(lambda server: add_echo_servicer_to_server(servicer, server)) as target:
        channel = dial(target)
        yield channel
        channel.close()


def test_a_call_round_trips(channel: grpc.Channel) -> None:
    assert text_client(channel, "Echo")(Text("hello")) == Text("HELLO")


ALL_ERRORS = sorted(cls.__name__ for cls in errors.BY_CODE.values())


@pytest.mark.parametrize("name", ALL_ERRORS)
def test_every_kit_error_arrives_as_the_same_class_and_message(channel: grpc.Channel, name: str) -> None:
    sent = kit_error(name)
    with pytest.raises(errors.KitError) as raised:
        text_client(channel, "Fail")(Text(name))
    assert type(raised.value) is type(sent)
    assert raised.value.message == sent.message
    assert raised.value.retry_after == sent.retry_after


def test_invalid_argument_keeps_its_field_violations(channel: grpc.Channel) -> None:
    with pytest.raises(errors.InvalidArgument) as raised:
        text_client(channel, "Fail")(Text("InvalidArgument"))
    assert raised.value.fields == (
        errors.FieldViolation("order_items.0.quantity", "must be positive"),
        errors.FieldViolation("customer_id", "is required"),
    )


def test_retry_after_travels(channel: grpc.Channel) -> None:
    with pytest.raises(errors.ResourceExhausted) as raised:
        text_client(channel, "Fail")(Text("ResourceExhausted"))
    assert raised.value.retry_after == 1.5


def test_a_request_that_does_not_decode_is_invalid_argument(channel: grpc.Channel,
                                                           servicer: EchoServicer) -> None:
    before = servicer.calls
    with pytest.raises(errors.InvalidArgument) as raised:
        text_client(channel, "Echo")(Text("undecodable"))
    assert "text must be decodable" in raised.value.message
    assert servicer.calls == before


def test_an_unexpected_exception_is_internal_and_its_text_stays_home(
        channel: grpc.Channel, caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(errors.Internal) as raised:
        text_client(channel, "Fail")(Text("crash"))
    assert "hunter2" not in raised.value.message
    assert "hunter2" not in repr(raised.value.__cause__)
    assert any(r.name == "kit.grpc" and r.exc_info for r in caplog.records)


def context_client(channel: grpc.Channel, **kwargs: object) -> GRPCClient:
    return GRPCClient(channel, f"/{SERVICE}/Context", encode_text, lambda m: m,
                      request_serializer=StringValue.SerializeToString,
                      response_deserializer=struct_pb2.Struct.FromString, **kwargs)


def test_the_callers_deadline_arrives_in_the_servers_request_context(channel: grpc.Channel) -> None:
    with context.scope(timeout=7.0):
        reply = context_client(channel, timeout=60.0)(Text("x"))
    # gRPC measures the deadline on its own clock, so allow it a little slack either way.
    assert 0 < reply["remaining"] < 30.0


def test_the_client_timeout_bounds_the_deadline_when_tighter(channel: grpc.Channel) -> None:
    with context.scope(timeout=60.0):
        reply = context_client(channel, timeout=7.0)(Text("x"))
    assert 0 < reply["remaining"] < 30.0


def test_no_deadline_arrives_as_none(channel: grpc.Channel) -> None:
    reply = context_client(channel)(Text("x"))
    assert reply["remaining"] == -1.0


def test_metadata_arrives_lower_case_in_the_request_context(channel: grpc.Channel) -> None:
    client = context_client(channel, metadata={"X-Tenant": "acme"},
                            before=[lambda md: md.update({"X-Request-Id": "r-1"})])
    metadata = client(Text("x"))["metadata"]
    assert metadata["x-tenant"] == "acme"
    assert metadata["x-request-id"] == "r-1"


def test_an_expired_deadline_fails_fast_without_calling(channel: grpc.Channel,
                                                        servicer: EchoServicer) -> None:
    before = servicer.calls
    with context.scope(timeout=-1.0), pytest.raises(errors.DeadlineExceeded):
        text_client(channel, "Echo")(Text("x"))
    assert servicer.calls == before


def test_connection_refused_is_unavailable() -> None:
    channel = dial(f"127.0.0.1:{free_port()}")
    try:
        with pytest.raises(errors.Unavailable):
            text_client(channel, "Echo", timeout=5.0)(Text("x"))
    finally:
        channel.close()


class CountingChannel(grpc.Channel):
    """A real channel that counts the multicallables built on it."""

    def __init__(self, inner: grpc.Channel) -> None:
        self.inner = inner
        self.built = 0

    def unary_unary(self, *args, **kwargs):
        self.built += 1
        return self.inner.unary_unary(*args, **kwargs)

    def unary_stream(self, *args, **kwargs):
        self.built += 1
        return self.inner.unary_stream(*args, **kwargs)

    def stream_unary(self, *args, **kwargs):
        raise NotImplementedError

    def stream_stream(self, *args, **kwargs):
        raise NotImplementedError

    def subscribe(self, *args, **kwargs):
        return self.inner.subscribe(*args, **kwargs)

    def unsubscribe(self, *args, **kwargs):
        return self.inner.unsubscribe(*args, **kwargs)

    def close(self):
        self.inner.close()


def test_one_channel_and_one_multicallable_serve_many_calls(channel: grpc.Channel) -> None:
    counting = CountingChannel(channel)
    client = text_client(counting, "Echo")
    replies = [client(Text(f"m{i}")) for i in range(50)]
    assert replies[-1] == Text("M49")
    assert counting.built == 1


def count_client(channel: grpc.Channel, **kwargs: object) -> GRPCStreamClient:
    return GRPCStreamClient(channel, f"/{SERVICE}/Count", encode_text, lambda m: Text(m.value),
                            request_serializer=StringValue.SerializeToString,
                            response_deserializer=StringValue.FromString, **kwargs)


def test_a_stream_delivers_every_item(channel: grpc.Channel) -> None:
    assert list(count_client(channel)(Text("three"))) == [Text("0"), Text("1"), Text("2")]


def test_an_error_mid_stream_arrives_after_the_items_sent_before_it(channel: grpc.Channel) -> None:
    received = []
    with pytest.raises(errors.NotFound) as raised:
        for item in count_client(channel)(Text("fail-at-2")):
            received.append(item)
    assert received == [Text("0"), Text("1")]
    assert raised.value.message == "item 2 is gone"


def test_closing_the_client_iterator_cancels_and_runs_the_servers_finally(
        channel: grpc.Channel, servicer: EchoServicer) -> None:
    servicer.stream_closed.clear()
    items = count_client(channel)(Text("forever"))
    assert [next(items), next(items)] == [Text("0"), Text("1")]
    items.close()
    assert servicer.stream_closed.wait(timeout=10)


def test_a_stream_with_an_expired_deadline_fails_when_called(channel: grpc.Channel) -> None:
    with context.scope(timeout=-1.0), pytest.raises(errors.DeadlineExceeded):
        count_client(channel)(Text("three"))


def test_serve_binds_the_port_and_shutdown_stops_it() -> None:
    port = free_port()
    server = serve(lambda s: add_echo_servicer_to_server(EchoServicer(), s), port=port)
    channel = dial(f"127.0.0.1:{port}")
    try:
        assert text_client(channel, "Echo")(Text("up")) == Text("UP")
        with pytest.raises(RuntimeError):
            serve(lambda s: add_echo_servicer_to_server(EchoServicer(), s), port=port)
    finally:
        shutdown(server, grace=1.0)
    with pytest.raises(errors.Unavailable):
        text_client(channel, "Echo", timeout=5.0)(Text("down"))
    channel.close()
