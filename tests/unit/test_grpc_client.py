"""GRPCClient and GRPCStreamClient over a fake channel (no network)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, MutableMapping

import grpc
import pytest

from kit import context, errors
from kit.grpc import GRPCClient, GRPCStreamClient, to_status
from kit.testing.grpc import AbortedCall
from kit.tracing import SpanKind


class Multicallable:
    """Records calls and answers with a canned reply, error or stream."""

    def __init__(self, answer: object) -> None:
        self.answer = answer
        self.calls: list[dict[str, object]] = []
        self.cancelled = 0

    def __call__(self, request: object, timeout: float | None = None,
                 metadata: tuple[tuple[str, str], ...] | None = None):
        self.calls.append({"request": request, "timeout": timeout, "metadata": metadata})
        if isinstance(self.answer, Exception):
            raise self.answer
        if isinstance(self.answer, list):
            return Call(self, self.answer)
        return self.answer


class Call:
    def __init__(self, owner: Multicallable, items: list[object]) -> None:
        self.owner, self.items = owner, items

    def __iter__(self) -> Iterator[object]:
        for item in self.items:
            if isinstance(item, Exception):
                raise item
            yield item

    def cancel(self) -> bool:
        self.owner.cancelled += 1
        return True


class Channel:
    def __init__(self, answer: object) -> None:
        self.multicallable = Multicallable(answer)
        self.built: list[tuple[str, str]] = []

    def unary_unary(self, method, request_serializer=None, response_deserializer=None):
        self.built.append(("unary_unary", method))
        return self.multicallable

    def unary_stream(self, method, request_serializer=None, response_deserializer=None):
        self.built.append(("unary_stream", method))
        return self.multicallable


class Span:
    def __init__(self) -> None:
        self.tags: dict[str, str] = {}
        self.remote: dict[str, object] = {}

    def tag(self, key: str, value: str) -> None:
        self.tags[key] = value

    def remote_endpoint(self, **endpoint: object) -> None:
        self.remote.update(endpoint)


class Tracer:
    def __init__(self) -> None:
        self.spans: list[tuple[str, SpanKind, Span]] = []
        self.open: Span | None = None

    @contextlib.contextmanager
    def span(self, name: str, kind: SpanKind, *, headers: Mapping[str, str] | None = None):
        span = Span()
        self.spans.append((name, kind, span))
        self.open = span
        try:
            yield span
        except BaseException as exc:
            span.tag("error", type(exc).__name__)
            raise
        finally:
            self.open = None

    def inject(self, headers: MutableMapping[str, str]) -> None:
        assert self.open is not None, "inject must run inside the client span"
        headers["X-B3-TraceId"] = "abc"


def client(answer: object, **kwargs) -> tuple[GRPCClient, Channel]:
    channel = Channel(answer)
    return GRPCClient(channel, "/pkg.Svc/Do", str.encode, bytes.decode, **kwargs), channel


def test_the_multicallable_is_built_once_for_every_call() -> None:
    call, channel = client(b"ok")
    assert [call("a"), call("b"), call("c")] == ["ok", "ok", "ok"]
    assert channel.built == [("unary_unary", "/pkg.Svc/Do")]
    assert [c["request"] for c in channel.multicallable.calls] == [b"a", b"b", b"c"]


def test_without_any_deadline_there_is_no_timeout() -> None:
    call, channel = client(b"ok")
    call("a")
    assert channel.multicallable.calls[0]["timeout"] is None


def test_the_client_timeout_applies_outside_a_request() -> None:
    call, channel = client(b"ok", timeout=2.5)
    call("a")
    assert channel.multicallable.calls[0]["timeout"] == 2.5


def test_the_requests_remaining_time_wins_when_shorter() -> None:
    call, channel = client(b"ok", timeout=30.0)
    with context.scope(timeout=4.0):
        call("a")
    timeout = channel.multicallable.calls[0]["timeout"]
    assert isinstance(timeout, float) and 0 < timeout <= 4.0


def test_the_client_timeout_wins_when_shorter() -> None:
    call, channel = client(b"ok", timeout=1.0)
    with context.scope(timeout=60.0):
        call("a")
    assert channel.multicallable.calls[0]["timeout"] == 1.0


def test_an_expired_deadline_raises_without_calling() -> None:
    call, channel = client(b"ok")
    with context.scope(timeout=-0.1), pytest.raises(errors.DeadlineExceeded):
        call("a")
    assert channel.multicallable.calls == []


def test_static_metadata_is_sent_lower_case_without_a_tracer() -> None:
    call, channel = client(b"ok", metadata={"X-Api-Key": "k"})
    call("a")
    assert channel.multicallable.calls[0]["metadata"] == (("x-api-key", "k"),)


def test_the_span_context_and_hooks_go_into_lower_case_metadata() -> None:
    tracer = Tracer()
    call, channel = client(b"ok", tracer=tracer, metadata=[("x-api-key", "k")],
                           before=[lambda md: md.update({"X-Request-Id": "r1"})],
                           peer_service="eventstore")
    call("a")
    assert channel.multicallable.calls[0]["metadata"] == (
        ("x-api-key", "k"), ("x-request-id", "r1"), ("x-b3-traceid", "abc"))
    ((name, kind, span),) = tracer.spans
    assert (name, kind) == ("/pkg.Svc/Do", SpanKind.CLIENT)
    assert span.tags == {"rpc.method": "/pkg.Svc/Do", "rpc.service": "pkg.Svc",
                         "grpc.status_code": "OK"}
    assert span.remote == {"service_name": "eventstore"}


def test_a_failed_call_raises_the_kit_error_of_its_status() -> None:
    status = to_status(errors.AlreadyExists("order 1 exists"))
    tracer = Tracer()
    call, _ = client(AbortedCall(status.code, status.details, status.trailing_metadata), tracer=tracer)
    with pytest.raises(errors.AlreadyExists, match="order 1 exists") as raised:
        call("a")
    assert isinstance(raised.value.__cause__, grpc.RpcError)
    ((_, _, span),) = tracer.spans
    assert span.tags["grpc.status_code"] == "ALREADY_EXISTS"
    assert span.tags["error"] == "AlreadyExists"


@pytest.mark.parametrize(("code", "expected"), [
    (grpc.StatusCode.UNAVAILABLE, errors.Unavailable),
    (grpc.StatusCode.DEADLINE_EXCEEDED, errors.DeadlineExceeded),
    (grpc.StatusCode.CANCELLED, errors.Unavailable),
    (grpc.StatusCode.UNKNOWN, errors.Internal),
])
def test_transport_failures_map_to_kit_errors(code: grpc.StatusCode,
                                              expected: type[errors.KitError]) -> None:
    call, _ = client(AbortedCall(code, "transport says no"))
    with pytest.raises(expected):
        call("a")


def test_a_reply_that_does_not_decode_is_internal() -> None:
    call, _ = client(b"\xff\xfe")
    with pytest.raises(errors.Internal, match=r"malformed reply from /pkg\.Svc/Do"):
        call("a")


def stream_client(items: list[object], **kwargs) -> tuple[GRPCStreamClient, Channel]:
    channel = Channel(items)
    return GRPCStreamClient(channel, "/pkg.Svc/List", str.encode, bytes.decode, **kwargs), channel


def test_a_stream_yields_decoded_items_from_one_multicallable() -> None:
    call, channel = stream_client([b"a", b"b"])
    assert list(call("x")) == ["a", "b"]
    assert list(call("y")) == ["a", "b"]
    assert channel.built == [("unary_stream", "/pkg.Svc/List")]


def test_an_error_mid_stream_raises_the_kit_error_after_the_items() -> None:
    status = to_status(errors.NotFound("no more"))
    call, _ = stream_client([b"a", AbortedCall(status.code, status.details, status.trailing_metadata)])
    received = []
    with pytest.raises(errors.NotFound, match="no more"):
        received.extend(call("x"))
    assert received == ["a"]


def test_closing_a_stream_cancels_the_call_and_is_no_error() -> None:
    tracer = Tracer()
    call, channel = stream_client([b"a", b"b", b"c"], tracer=tracer)
    items = call("x")
    assert next(items) == "a"
    items.close()
    assert channel.multicallable.cancelled == 1
    ((_, kind, span),) = tracer.spans
    assert kind is SpanKind.CLIENT
    assert span.tags["grpc.status_code"] == "CANCELLED"
    assert "error" not in span.tags


def test_a_stream_with_an_expired_deadline_raises_when_called() -> None:
    call, channel = stream_client([b"a"])
    with context.scope(timeout=-0.1), pytest.raises(errors.DeadlineExceeded):
        call("x")
    assert channel.multicallable.calls == []
