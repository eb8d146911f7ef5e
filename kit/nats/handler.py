"""The synchronous half of a JetStream consumer: one message in, a verdict out.

``Handler`` runs in a worker thread: it opens the request scope and a CONSUMER span continuing the
trace in the message's B3 headers, decodes the message and calls the endpoint, and turns what
happened into an ``Outcome`` the consumer's event loop acts on:

- the endpoint returned: ``ACK`` (its effect is committed, so the message is done);
- ``decode`` raised: ``DEAD_LETTER`` at once, a redelivery would fail the same way;
- the endpoint raised a ``KitError`` that is not ``retryable`` (``InvalidArgument``, ``NotFound``,
  ``FailedPrecondition``, ...): ``DEAD_LETTER`` at once, for the same reason;
- it raised a retryable ``KitError`` (``Unavailable``, ``DeadlineExceeded``, ``ResourceExhausted``)
  or any other exception (a bug, a driver error nobody wrapped): ``RETRY``, with the error's
  ``retry_after`` if it has one. An unexpected exception is retried rather than dead-lettered
  because most are transient (a dropped connection surfacing as a raw driver error); a real bug
  still reaches the dead-letter stream after ``max_deliver`` attempts.

With ``auth`` (a ``kit.auth.BearerAuth``) a message must carry ``Authorization: Bearer <token>`` in
its headers: the verified claims are the context's ``claims`` while the endpoint runs, the header
itself never enters the context, and a message without a valid token is ``DEAD_LETTER``-ed at once
(a redelivery carries the same token), the endpoint not called.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from kit.auth.bearer import Authenticator
from kit.context import scope
from kit.endpoint import Endpoint
from kit.errors import KitError
from kit.nats.message import Message
from kit.tracing import NOOP_TRACER, Span, SpanKind, Tracer

Req = TypeVar("Req")

_LOG = logging.getLogger("kit.nats")


class Verdict(enum.Enum):
    """What the consumer does with a message after its handler ran."""

    ACK = "ack"
    RETRY = "retry"
    DEAD_LETTER = "dead_letter"
    RELEASE = "release"  # not handled (the consumer is stopping): give it back at once
    SKIP = "skip"  # not for this consumer (a dead letter replayed for another one): ack unhandled


@dataclass(frozen=True)
class Outcome:
    """A verdict, why (for retries and dead letters) and, for retries, the delay the error asked for."""

    verdict: Verdict
    reason: str = ""
    retry_after: float | None = None


ACKED = Outcome(Verdict.ACK)
RELEASED = Outcome(Verdict.RELEASE)
SKIPPED = Outcome(Verdict.SKIP)


class Handler(Generic[Req]):
    """Decodes a ``Message``, calls the endpoint under a scope and a CONSUMER span, returns an Outcome."""

    def __init__(
        self,
        endpoint: Endpoint[Req, object],
        decode: Callable[[Message], Req],
        *,
        stream: str,
        consumer: str,
        tracer: Tracer = NOOP_TRACER,
        observe: Callable[[float], None] | None = None,
        auth: Authenticator | None = None,
    ) -> None:
        self._endpoint = endpoint
        self._decode = decode
        self._stream = stream
        self._consumer = consumer
        self._tracer = tracer
        self._traced = tracer is not NOOP_TRACER
        self._observe = observe
        self._auth = auth

    def __call__(self, message: Message) -> Outcome:
        """Handle one message; never raises."""
        started = time.perf_counter()
        try:
            return self._handle(message)
        finally:
            if self._observe is not None:
                self._observe(time.perf_counter() - started)

    def _handle(self, message: Message) -> Outcome:
        try:
            claims, headers = verified(self._auth, message)
        except KitError as exc:
            return refused(exc, message, self._consumer)
        with scope(metadata=headers, claims=claims), \
                self._tracer.span(message.subject, SpanKind.CONSUMER, headers=message.headers) as span:
            if self._traced:
                tag_consumer_span(span, message, stream=self._stream, consumer=self._consumer)
            try:
                request = self._decode(message)
            except Exception as exc:
                return undecodable(exc, span)
            try:
                self._endpoint(request)
            except Exception as exc:
                return failed(exc, message, self._consumer, span)
            return ACKED


def verified(auth: Authenticator | None,
             message: Message) -> tuple[Mapping[str, Any] | None, Mapping[str, str]]:
    """The message's verified claims (None without ``auth``) and the headers the context gets
    (without ``Authorization`` when ``auth`` is set); ``Unauthenticated`` for a bad token."""
    if auth is None:
        return None, message.headers
    return auth(message.headers), context_headers(auth, message)  # keys are lower-case (Message)


def context_headers(auth: Authenticator | None, message: Message) -> Mapping[str, str]:
    """The headers a handler puts in the request context: all of them, ``Authorization`` aside
    when ``auth`` is set (the token stays out of the context, as on HTTP and gRPC)."""
    if auth is None:
        return message.headers
    return {key: value for key, value in message.headers.items() if key != "authorization"}


def refused(exc: KitError, message: Message, consumer: str) -> Outcome:
    """The outcome of a message whose token was refused: dead-lettered at once, logged without it."""
    _LOG.warning("%s refused %s #%d: %s", consumer, message.subject, message.stream_sequence, exc.message)
    return Outcome(Verdict.DEAD_LETTER, f"{exc.code.value}: {exc.message}")


def failed(exc: Exception, message: Message, consumer: str, span: Span) -> Outcome:
    """The outcome of an endpoint that raised ``exc`` handling ``message``, tagged on ``span``."""
    if isinstance(exc, KitError):
        span.tag("error", f"{exc.code.value}: {exc.message}")
        if exc.retryable:
            return Outcome(Verdict.RETRY, f"{exc.code.value}: {exc.message}", exc.retry_after)
        return Outcome(Verdict.DEAD_LETTER, f"{exc.code.value}: {exc.message}")
    _LOG.error("unexpected error handling %s #%d (delivery %d) in %s", message.subject,
               message.stream_sequence, message.num_delivered, consumer, exc_info=exc)
    span.tag("error", _describe(exc))
    return Outcome(Verdict.RETRY, _describe(exc))


def undecodable(exc: Exception, span: Span) -> Outcome:
    """The outcome of a message ``decode`` refused: dead-lettered at once."""
    reason = f"undecodable message: {_describe(exc)}"
    span.tag("error", reason)
    return Outcome(Verdict.DEAD_LETTER, reason)


def tag_consumer_span(span: Span, message: Message, *, stream: str, consumer: str) -> None:
    """The messaging tags of a CONSUMER span."""
    span.tag("messaging.system", "nats")
    span.tag("messaging.subject", message.subject)
    span.tag("messaging.stream", stream)
    span.tag("messaging.consumer", consumer)
    span.tag("messaging.stream_sequence", str(message.stream_sequence))
    span.tag("messaging.delivery_count", str(message.num_delivered))


def _describe(exc: BaseException) -> str:
    if isinstance(exc, KitError):
        return f"{exc.code.value}: {exc.message}"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
