"""Spans and trace propagation through the gRPC transport, over a real server."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import count

import grpc
import pytest

from kit import context, errors
from kit.grpc import dial, json_client, json_method, json_stream_client, json_stream_method, service
from kit.testing.grpc import serve_grpc
from kit.tracing import SpanKind

pytestmark = pytest.mark.integration


@dataclass
class RecordedSpan:
    name: str
    kind: SpanKind
    span_id: str
    headers: dict[str, str] | None
    tags: dict[str, str] = field(default_factory=dict)
    remote: dict[str, object] = field(default_factory=dict)

    def tag(self, key: str, value: str) -> None:
        self.tags[key] = value

    def remote_endpoint(self, **endpoint: object) -> None:
        self.remote.update(endpoint)


class RecordingTracer:
    """Records every span; inject writes the open span's id with mixed-case keys."""

    def __init__(self) -> None:
        self.spans: list[RecordedSpan] = []
        self.injected: list[dict[str, str]] = []
        self._ids = count(1)
        self._lock = threading.Lock()
        self._open: contextvars.ContextVar[RecordedSpan | None] = contextvars.ContextVar(
            "open_span", default=None)

    @contextmanager
    def span(self, name: str, kind: SpanKind, *,
             headers: Mapping[str, str] | None = None) -> Iterator[RecordedSpan]:
        with self._lock:
            span = RecordedSpan(name, kind, f"span-{next(self._ids)}",
                                dict(headers) if headers is not None else None)
            self.spans.append(span)
        token = self._open.set(span)
        try:
            yield span
        except BaseException as exc:
            span.tag("error", type(exc).__name__)
            raise
        finally:
            self._open.reset(token)

    def inject(self, headers: MutableMapping[str, str]) -> None:
        span = self._open.get()
        if span is not None:
            headers["X-B3-SpanId"] = span.span_id
            self.injected.append(dict(headers))

    def of_kind(self, kind: SpanKind) -> list[RecordedSpan]:
        return [span for span in self.spans if span.kind is kind]


@dataclass(frozen=True)
class Ask:
    what: str


@dataclass(frozen=True)
class Answer:
    text: str


def answer(request: Ask) -> Answer:
    if request.what == "missing":
        raise errors.NotFound("no such thing")
    return Answer(context.current().metadata.get("x-b3-spanid", ""))


def answers(request: Ask) -> Iterator[Answer]:
    yield Answer(request.what)
    yield Answer(request.what)


@pytest.fixture
def tracers() -> Iterator[tuple[RecordingTracer, RecordingTracer, grpc.Channel]]:
    server_tracer, client_tracer = RecordingTracer(), RecordingTracer()
    handler = service("qa.Oracle", {"Answer": json_method(answer, Ask),
                                    "Answers": json_stream_method(answers, Ask)},
                      tracer=server_tracer)
    with serve_grpc(handler) as target:
        channel = dial(target)
        yield server_tracer, client_tracer, channel
        channel.close()


def test_client_and_server_spans_are_named_and_tagged(tracers) -> None:
    server_tracer, client_tracer, channel = tracers
    client = json_client(channel, "/qa.Oracle/Answer", Ask, Answer, tracer=client_tracer)
    reply = client(Ask("life"))

    (client_span,) = client_tracer.of_kind(SpanKind.CLIENT)
    (server_span,) = server_tracer.of_kind(SpanKind.SERVER)
    for span in (client_span, server_span):
        assert span.name == "/qa.Oracle/Answer"
        assert span.tags["rpc.method"] == "/qa.Oracle/Answer"
        assert span.tags["rpc.service"] == "qa.Oracle"
        assert span.tags["grpc.status_code"] == "OK"
        assert "error" not in span.tags
    assert server_span.remote["ip"] == "127.0.0.1"
    assert isinstance(server_span.remote["port"], int)
    # What the client injected arrived, lower-cased, as the server span's headers and context.
    assert client_tracer.injected == [{"X-B3-SpanId": client_span.span_id}]
    assert server_span.headers is not None
    assert server_span.headers["x-b3-spanid"] == client_span.span_id
    assert reply == Answer(client_span.span_id)


def test_a_failed_call_tags_both_spans_with_its_status_and_error(tracers) -> None:
    server_tracer, client_tracer, channel = tracers
    client = json_client(channel, "/qa.Oracle/Answer", Ask, Answer, tracer=client_tracer)
    with pytest.raises(errors.NotFound):
        client(Ask("missing"))

    (client_span,) = client_tracer.of_kind(SpanKind.CLIENT)
    (server_span,) = server_tracer.of_kind(SpanKind.SERVER)
    assert server_span.tags["grpc.status_code"] == "NOT_FOUND"
    assert server_span.tags["error"] == "no such thing"
    assert client_span.tags["grpc.status_code"] == "NOT_FOUND"
    assert client_span.tags["error"] == "NotFound"


def test_a_stream_is_one_span_on_each_side(tracers) -> None:
    server_tracer, client_tracer, channel = tracers
    client = json_stream_client(channel, "/qa.Oracle/Answers", Ask, Answer, tracer=client_tracer)
    assert len(list(client(Ask("x")))) == 2

    (client_span,) = client_tracer.of_kind(SpanKind.CLIENT)
    (server_span,) = server_tracer.of_kind(SpanKind.SERVER)
    assert client_span.name == server_span.name == "/qa.Oracle/Answers"
    assert client_span.tags["grpc.status_code"] == server_span.tags["grpc.status_code"] == "OK"
    assert server_span.headers is not None
    assert server_span.headers["x-b3-spanid"] == client_span.span_id


def test_zipkin_spans_of_one_call_share_a_trace_across_the_wire() -> None:
    from kit.testing.tracing import RecordingTracer as ZipkinRecordingTracer

    server_tracer = ZipkinRecordingTracer("oracle")
    client_tracer = ZipkinRecordingTracer("asker")
    handler = service("qa.Oracle", {"Answer": json_method(answer, Ask)}, tracer=server_tracer)
    with serve_grpc(handler) as target:
        channel = dial(target)
        json_client(channel, "/qa.Oracle/Answer", Ask, Answer, tracer=client_tracer)(Ask("life"))
        channel.close()

    (client_span,) = client_tracer.spans
    (server_span,) = server_tracer.spans
    assert client_span.kind is SpanKind.CLIENT and server_span.kind is SpanKind.SERVER
    assert server_span.trace_id == client_span.trace_id
    assert server_span.parent_id == client_span.span_id
