"""Pipelined JetStream publishing: a batch of messages sent back to back, their acks awaited together.

``JetStreamContext.publish`` sends one message and waits for its ack, with a timer per message;
publishing a batch that way, even gathered, costs a task, a timer and a parsed ``PubAck`` object
per event. Here a batch is written to the connection in order (so JetStream stores it in that
order) with a reply subject per message under one inbox subscription, and the acks are matched by
reply subject and awaited with one timeout for the whole batch.

A JetStream ack is a JSON object: ``{"stream": ..., "seq": ..., "duplicate": true?}`` when stored
(or recognised as a duplicate by its ``Nats-Msg-Id``), ``{"error": {"code": ...}}`` when refused.
A message no stream listens to is answered by the server itself with an empty "no responders"
status message (``Status: 503``). An ack that arrives after its batch timed out is ignored; the
message is sent again later and JetStream drops the copy.

Tracing: with a tracer, each message gets a PRODUCER span from just before it is sent until its
ack (or the batch's failure), and the span's B3 context replaces the one in the message's headers,
so its consumers' CONSUMER spans are children of the publish. A message whose headers already
carry a B3 context (an event stored by an earlier request) gets a span in that trace; otherwise
the span is a child of the current one.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
import json
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from kit.tracing import NOOP_TRACER, Span, SpanKind, Tracer

UNAVAILABLE = 503  # JetStream's code (and the server's status) for "no stream can take it now"


@dataclass(frozen=True)
class Message:
    """One message to publish: subject, body and headers (``Nats-Msg-Id`` among them)."""

    subject: str
    body: bytes
    headers: dict[str, str]


class PublishError(Exception):
    """JetStream refused a message, did not answer in time, or the connection failed.

    ``sequences`` are the stream sequences of the acknowledged prefix of the batch; ``code`` is
    JetStream's error code (``UNAVAILABLE`` for "no responders"), or None for a timeout or a
    broken connection.
    """

    def __init__(self, message: str, sequences: Sequence[int], code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.sequences = list(sequences)
        self.code = code


@dataclass(frozen=True)
class _Ack:
    sequence: int | None
    code: int | None
    text: str


def _parse(msg: Msg) -> _Ack:
    if not msg.data and (msg.headers or {}).get("Status") == str(UNAVAILABLE):
        return _Ack(None, UNAVAILABLE, "no stream listens to this subject (no responders)")
    try:
        ack = json.loads(msg.data)
    except ValueError:
        return _Ack(None, None, f"unreadable acknowledgement {msg.data[:200]!r}")
    if not isinstance(ack, dict):
        return _Ack(None, None, f"unreadable acknowledgement {msg.data[:200]!r}")
    error = ack.get("error")
    if isinstance(error, dict):
        code = error.get("code")
        return _Ack(None, code if isinstance(code, int) else None,
                    f"refused: {error.get('description', error)}")
    sequence = ack.get("seq")
    if not isinstance(sequence, int):
        return _Ack(None, None, f"unreadable acknowledgement {msg.data[:200]!r}")
    return _Ack(sequence, None, "")


class _Traced:
    """The PRODUCER span of one message, open in a context of its own so that the spans of a batch
    overlap (each from its send to its ack) without nesting in one another."""

    __slots__ = ("_context", "_open_span", "_span")

    def __init__(self, tracer: Tracer, message: Message) -> None:
        self._context = contextvars.copy_context()
        self._span: AbstractContextManager[Span] = tracer.span(
            message.subject, SpanKind.PRODUCER, headers=message.headers)
        self._context.run(self._open, tracer, message.subject, message.headers)

    def _open(self, tracer: Tracer, subject: str, headers: dict[str, str]) -> None:
        span = self._span.__enter__()
        span.tag("messaging.system", "nats")
        span.tag("messaging.subject", subject)
        for key in [key for key in headers if key.lower() == "b3" or key.lower().startswith("x-b3-")]:
            del headers[key]  # the parent's context, read above; the span's own replaces it
        tracer.inject(headers)
        self._open_span = span

    def close(self, ack: _Ack | None) -> None:
        """End the span: tagged with the stream sequence, or with the error that kept the ack away."""
        self._context.run(self._close, ack)

    def _close(self, ack: _Ack | None) -> None:
        if ack is not None and ack.sequence is not None:
            self._open_span.tag("messaging.stream_sequence", str(ack.sequence))
            self._span.__exit__(None, None, None)
            return
        error = PublishError(ack.text if ack is not None else "no acknowledgement in time", [])
        self._span.__exit__(PublishError, error, None)


class PipelinedPublisher:
    """Publishes batches on one NATS connection; the stream sequences of what was acknowledged."""

    def __init__(self, client: Client, *, tracer: Tracer = NOOP_TRACER) -> None:
        self._client = client
        self._tracer = tracer
        self._traced = tracer is not NOOP_TRACER
        self._prefix = client.new_inbox()
        self._numbers = itertools.count()
        self._waiting: dict[str, asyncio.Future[Msg]] = {}
        self._subscription: Subscription | None = None

    async def _on_ack(self, msg: Msg) -> None:
        future = self._waiting.pop(msg.subject, None)
        if future is not None and not future.done():
            future.set_result(msg)

    async def _subscribe(self) -> None:
        if self._subscription is None:
            self._subscription = await self._client.subscribe(f"{self._prefix}.*", cb=self._on_ack)

    async def publish(self, messages: Sequence[Message], timeout: float,
                      allowed: Callable[[], bool] | None = None) -> list[int]:
        """Send ``messages`` in order and wait up to ``timeout`` for their acks.

        Returns the stream sequence of each message; raises ``PublishError`` (with the sequences of
        the acknowledged prefix) when a message of the batch was refused or not acknowledged in
        time, or when ``allowed`` (asked before each message is sent) said to stop sending. With
        tracing on, the messages' headers are rewritten to carry their PRODUCER spans.
        """
        await self._subscribe()
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[Msg]] = []
        replies: list[str] = []
        spans: list[_Traced] = []
        try:
            for message in messages:
                if allowed is not None and not allowed():
                    break
                reply = f"{self._prefix}.{next(self._numbers)}"
                future: asyncio.Future[Msg] = loop.create_future()
                self._waiting[reply] = future
                futures.append(future)
                replies.append(reply)
                if self._traced:
                    spans.append(_Traced(self._tracer, message))
                await self._client.publish(message.subject, message.body, reply=reply,
                                           headers=message.headers)
            if futures:
                await asyncio.wait(futures, timeout=timeout)
        except Exception as exc:
            acks = self._acks(futures)
            self._close_spans(spans, acks)
            raise PublishError(f"publishing failed: {exc!r}", self._prefix_of(acks)) from exc
        finally:
            for reply in replies:
                self._waiting.pop(reply, None)
        acks = self._acks(futures)
        self._close_spans(spans, acks)
        sequences = self._prefix_of(acks)
        if len(sequences) < len(messages):
            if len(sequences) == len(acks):
                raise PublishError("publishing stopped: no longer allowed to publish", sequences)
            failed = acks[len(sequences)]
            raise PublishError(failed.text if failed else "no acknowledgement in time", sequences,
                               failed.code if failed else None)
        return sequences

    @staticmethod
    def _acks(futures: Sequence[asyncio.Future[Msg]]) -> list[_Ack | None]:
        return [_parse(f.result()) if f.done() and not f.cancelled() else None for f in futures]

    @staticmethod
    def _prefix_of(acks: Sequence[_Ack | None]) -> list[int]:
        sequences: list[int] = []
        for ack in acks:
            if ack is None or ack.sequence is None:
                break
            sequences.append(ack.sequence)
        return sequences

    @staticmethod
    def _close_spans(spans: Sequence[_Traced], acks: Sequence[_Ack | None]) -> None:
        for index, traced in enumerate(spans):
            traced.close(acks[index] if index < len(acks) else None)
