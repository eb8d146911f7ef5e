"""The synchronous half of a batch consumer: many messages in, one endpoint call, a verdict each.

A batch endpoint takes a sequence of requests and commits their effects together (one database
transaction, say), so a consumer pays its per-commit costs once per batch instead of once per
message. ``BatchHandler`` runs in a worker thread with the messages the dispatcher handed over:

- every message gets its own CONSUMER span, continuing the trace in its B3 headers, as with
  single-message endpoints; what the endpoint does (its outgoing calls) is traced under the span of
  the batch's first message, the current span during the calls;
- each message is decoded alone: an undecodable one is dead-lettered at once and left out;
- the endpoint is called once with the rest. If it returns, every one of them is acknowledged.
  If it raises, the batch's effects are presumed rolled back and each message is handled again
  alone (a batch of one), so a poison message is isolated: it is retried or dead-lettered by the
  consumer's settlement policy, while the others are acknowledged as soon as their own call
  succeeds. Endpoints must be idempotent, as for every consumer (delivery is at least once).

With ``auth``, each message's token is verified first and a message without a valid one is
dead-lettered at once and left out; the batch's context carries no claims (its messages may come
from different callers): an endpoint that needs them consumes one message at a time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from typing import Generic, TypeVar

from kit.auth.bearer import Authenticator
from kit.context import scope
from kit.endpoint import Endpoint
from kit.errors import KitError
from kit.nats.handler import (
    ACKED,
    Outcome,
    context_headers,
    failed,
    refused,
    tag_consumer_span,
    undecodable,
    verified,
)
from kit.nats.message import Message
from kit.tracing import NOOP_TRACER, Span, SpanKind, Tracer

Req = TypeVar("Req")


class BatchHandler(Generic[Req]):
    """Decodes messages, calls a batch endpoint once (or each alone after a failure), returns outcomes."""

    def __init__(
        self,
        endpoint: Endpoint[Sequence[Req], object],
        decode: Callable[[Message], Req],
        *,
        stream: str,
        consumer: str,
        tracer: Tracer = NOOP_TRACER,
        observe: Callable[[float], None] | None = None,
        auth: Authenticator | None = None,
    ) -> None:
        self._auth = auth
        self._endpoint = endpoint
        self._decode = decode
        self._stream = stream
        self._consumer = consumer
        self._tracer = tracer
        self._traced = tracer is not NOOP_TRACER
        self._observe = observe

    def __call__(self, messages: Sequence[Message]) -> list[Outcome]:
        """Handle ``messages``; an outcome each, in their order; never raises."""
        started = time.perf_counter()
        try:
            return self._handle(messages)
        finally:
            if self._observe is not None:
                per_message = (time.perf_counter() - started) / max(1, len(messages))
                for _ in messages:
                    self._observe(per_message)

    def _handle(self, messages: Sequence[Message]) -> list[Outcome]:
        outcomes: list[Outcome] = [ACKED] * len(messages)
        with ExitStack() as spans:
            opened: list[Span] = []
            batch: list[tuple[int, Req]] = []
            for message in reversed(messages):  # the first one opened last, so it is the current span
                span = spans.enter_context(
                    self._tracer.span(message.subject, SpanKind.CONSUMER, headers=message.headers))
                if self._traced:
                    tag_consumer_span(span, message, stream=self._stream, consumer=self._consumer)
                opened.append(span)
            opened.reverse()
            for index, message in enumerate(messages):
                try:
                    verified(self._auth, message)
                except KitError as exc:
                    outcomes[index] = refused(exc, message, self._consumer)
                    continue
                try:
                    batch.append((index, self._decode(message)))
                except Exception as exc:
                    outcomes[index] = undecodable(exc, opened[index])
            if not batch:
                return outcomes
            first = messages[batch[0][0]]
            try:
                with scope(metadata=context_headers(self._auth, first)):
                    self._endpoint([request for _, request in batch])
                return outcomes
            except Exception as exc:
                if len(batch) == 1:
                    outcomes[batch[0][0]] = failed(exc, first, self._consumer, opened[batch[0][0]])
                    return outcomes
            for index, request in batch:  # isolate the failure: each message alone
                try:
                    with scope(metadata=context_headers(self._auth, messages[index])):
                        self._endpoint([request])
                except Exception as exc:
                    outcomes[index] = failed(exc, messages[index], self._consumer, opened[index])
        return outcomes
