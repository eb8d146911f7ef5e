"""GRPCServer and GRPCStreamServer called directly with a fake servicer context (no network)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping

import grpc
import pytest

from kit import context, errors
from kit.grpc import GRPCServer, GRPCStreamServer, from_rpc_error
from kit.testing.grpc import AbortedCall, FakeServicerContext
from kit.tracing import SpanKind


class Span:
    def __init__(self, name: str, kind: SpanKind, headers: Mapping[str, str] | None) -> None:
        self.name, self.kind, self.headers = name, kind, headers
        self.tags: dict[str, str] = {}
        self.remote: dict[str, object] = {}

    def tag(self, key: str, value: str) -> None:
        self.tags[key] = value

    def remote_endpoint(self, **endpoint: object) -> None:
        self.remote.update(endpoint)


class Tracer:
    def __init__(self) -> None:
        self.spans: list[Span] = []

    @contextlib.contextmanager
    def span(self, name: str, kind: SpanKind, *, headers: Mapping[str, str] | None = None):
        self.spans.append(span := Span(name, kind, headers))
        try:
            yield span
        except BaseException as exc:
            span.tag("error", type(exc).__name__)
            raise

    def inject(self, headers: dict[str, str]) -> None:
        del headers


def upper(text: str) -> str:
    return text.upper()


def server(endpoint=upper, decode=str, **kwargs) -> GRPCServer:
    return GRPCServer(endpoint, decode, lambda r: r, method="/pkg.Svc/Do", **kwargs)


def aborted(call) -> errors.KitError:
    with pytest.raises(AbortedCall) as raised:
        call()
    return from_rpc_error(raised.value)


def test_a_call_decodes_calls_and_encodes() -> None:
    assert server()("abc", FakeServicerContext()) == "ABC"


def test_the_endpoint_runs_under_the_callers_deadline_and_metadata() -> None:
    seen: list[context.RequestContext] = []

    def endpoint(request: str) -> str:
        seen.append(context.current())
        return request

    ctx = FakeServicerContext(timeout=5.0, metadata=[("x-tenant", "acme"), ("blob-bin", b"\x00")])
    server(endpoint)("x", ctx)
    (inside,) = seen
    remaining = inside.remaining()
    assert remaining is not None and 0 < remaining <= 5.0
    assert dict(inside.metadata) == {"x-tenant": "acme"}
    assert context.current().deadline is None  # the scope ends with the call


def test_without_a_client_deadline_there_is_none() -> None:
    seen: list[float | None] = []
    server(lambda r: seen.append(context.current().deadline) or r)("x", FakeServicerContext())
    assert seen == [None]


def test_a_kit_error_aborts_with_its_status() -> None:
    def endpoint(request: str) -> str:
        raise errors.Conflict("version 3 exists", retry_after=0.5)

    error = aborted(lambda: server(endpoint)("x", FakeServicerContext()))
    assert type(error) is errors.Conflict
    assert (error.message, error.retry_after) == ("version 3 exists", 0.5)


def test_an_unexpected_error_is_internal_logged_and_not_sent(caplog: pytest.LogCaptureFixture) -> None:
    def endpoint(request: str) -> str:
        raise KeyError("private-key-material")

    with caplog.at_level(logging.ERROR, logger="kit.grpc"):
        error = aborted(lambda: server(endpoint)("x", FakeServicerContext()))
    assert type(error) is errors.Internal
    assert "private-key-material" not in error.message
    (record,) = caplog.records
    assert record.exc_info is not None and record.exc_info[0] is KeyError


@pytest.mark.parametrize("failure", [ValueError("not a number"), TypeError("wrong type"),
                                     errors.InvalidArgument.for_field("id", "is required")])
def test_a_request_that_fails_to_decode_is_invalid_argument(failure: Exception) -> None:
    calls: list[str] = []

    def decode(message: str) -> str:
        raise failure

    error = aborted(lambda: server(calls.append, decode)("x", FakeServicerContext()))
    assert isinstance(error, errors.InvalidArgument)
    assert calls == []


def test_an_expired_deadline_is_refused_without_calling() -> None:
    calls: list[str] = []
    error = aborted(lambda: server(calls.append)("x", FakeServicerContext(timeout=-1.0)))
    assert isinstance(error, errors.DeadlineExceeded)
    assert calls == []


def test_before_hooks_see_the_metadata_and_may_refuse() -> None:
    def authenticate(ctx: grpc.ServicerContext, metadata: Mapping[str, str]) -> None:
        if metadata.get("authorization") != "Bearer ok":
            raise errors.Unauthenticated("who are you?")

    guarded = server(before=[authenticate])
    assert guarded("x", FakeServicerContext(metadata={"authorization": "Bearer ok"})) == "X"
    assert isinstance(aborted(lambda: guarded("x", FakeServicerContext())), errors.Unauthenticated)


def test_after_hooks_run_on_success_and_may_set_metadata() -> None:
    ctx = FakeServicerContext()
    server(after=[lambda c: c.set_trailing_metadata((("x-served-by", "one"),))])("x", ctx)
    assert ctx.trailing == (("x-served-by", "one"),)


def test_the_server_span_is_named_tagged_and_given_the_metadata() -> None:
    tracer = Tracer()
    ctx = FakeServicerContext(metadata={"x-b3-traceid": "abc"}, peer="ipv6:%5B::1%5D:4321")
    server(tracer=tracer)("x", ctx)
    (span,) = tracer.spans
    assert (span.name, span.kind) == ("/pkg.Svc/Do", SpanKind.SERVER)
    assert span.headers == {"x-b3-traceid": "abc"}
    assert span.tags == {"rpc.method": "/pkg.Svc/Do", "rpc.service": "pkg.Svc",
                         "grpc.status_code": "OK"}
    assert span.remote == {"ip": "::1", "port": 4321}


def test_a_failed_call_tags_its_status_and_error() -> None:
    tracer = Tracer()

    def endpoint(request: str) -> str:
        raise errors.NotFound("no order 7")

    with pytest.raises(AbortedCall):
        server(endpoint, tracer=tracer)("x", FakeServicerContext())
    (span,) = tracer.spans
    assert span.tags["grpc.status_code"] == "NOT_FOUND"
    assert span.tags["error"] == "no order 7"


class Counter:
    """A generator endpoint that records whether its finally ran."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.fail_at = fail_at
        self.closed = False

    def __call__(self, request: int) -> Iterator[int]:
        try:
            for i in range(request):
                if i == self.fail_at:
                    raise errors.ResourceExhausted("quota", retry_after=3.0)
                yield i
        finally:
            self.closed = True


def stream(endpoint, **kwargs) -> GRPCStreamServer:
    return GRPCStreamServer(endpoint, int, lambda i: i * 10, method="/pkg.Svc/List", **kwargs)


def test_a_stream_sends_each_item_encoded() -> None:
    counter = Counter()
    assert list(stream(counter)("3", FakeServicerContext())) == [0, 10, 20]
    assert counter.closed


def test_an_error_mid_stream_aborts_after_the_items_before_it() -> None:
    counter = Counter(fail_at=2)
    received: list[int] = []
    with pytest.raises(AbortedCall) as raised:
        received.extend(stream(counter)("5", FakeServicerContext()))
    assert received == [0, 10]
    error = from_rpc_error(raised.value)
    assert type(error) is errors.ResourceExhausted and error.retry_after == 3.0


def test_a_stream_stops_and_closes_the_endpoint_when_the_client_goes_away() -> None:
    counter = Counter()
    ctx = FakeServicerContext()
    items = stream(counter)("1000", ctx)
    assert next(items) == 0
    ctx.cancel()
    assert list(items) == []
    assert counter.closed


def test_closing_the_stream_closes_the_endpoint_quietly() -> None:
    counter, tracer = Counter(), Tracer()
    items = stream(counter, tracer=tracer)("1000", FakeServicerContext())
    assert next(items) == 0
    items.close()
    assert counter.closed
    assert tracer.spans[0].tags["grpc.status_code"] == "CANCELLED"
    assert "error" not in tracer.spans[0].tags


def test_a_stream_that_fails_to_decode_is_invalid_argument() -> None:
    counter = Counter()
    with pytest.raises(AbortedCall) as raised:
        list(stream(counter)("many", FakeServicerContext()))
    assert isinstance(from_rpc_error(raised.value), errors.InvalidArgument)


def test_the_stream_endpoint_runs_under_the_request_context() -> None:
    seen: list[Mapping[str, str]] = []

    def endpoint(request: int) -> Iterator[int]:
        seen.append(context.current().metadata)
        yield request

    list(stream(endpoint)("1", FakeServicerContext(metadata={"x-k": "v"})))
    assert [dict(m) for m in seen] == [{"x-k": "v"}]


def test_a_waiting_stream_yields_none_to_notice_a_client_gone_away() -> None:
    ctx = FakeServicerContext()
    closed = []

    def tail(request: int) -> Iterator[int | None]:
        try:
            yield 1
            while True:  # no new data: heartbeat until the client leaves
                yield None
        finally:
            closed.append(True)

    items = stream(tail)("0", ctx)
    assert next(items) == 10
    ctx.active = False
    assert list(items) == []
    assert closed == [True]
