"""Publish to JetStream from synchronous code and wait for the stream's ack.

``JetStreamPublisher`` runs one nats-py connection on a private event loop in a background thread;
``publish`` is a blocking call safe from any thread, made with the kit's one publishing path
(``kit.nats.pipeline``, a batch of one). Its PRODUCER span is a child of the current span (or of
the B3 context the given headers carry) and its own context travels in the message headers; it
sets ``Nats-Msg-Id`` when a message id is given (JetStream then drops re-publishes inside the
stream's duplicate window), and returns the stream sequence JetStream stored the message at.

The connection is made on first use and, once made, reconnects by itself; while NATS cannot be
reached ``publish`` raises ``Unavailable`` (retryable) after at most ``timeout`` seconds, or the
time left of the current request's deadline (``kit.context``) if that is shorter.
``endpoint(encode)`` turns the publisher into an endpoint ``Req -> int`` over an ``Outgoing``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import nats
from nats.aio.client import Client

from kit.context import current
from kit.endpoint import Endpoint
from kit.errors import DeadlineExceeded, FailedPrecondition, KitError, Unavailable
from kit.nats.pipeline import UNAVAILABLE, Message, PipelinedPublisher, PublishError
from kit.nats.security import NatsSecurity
from kit.nats.servers import log_connection_error, server_list
from kit.tracing import NOOP_TRACER, Tracer

Req = TypeVar("Req")

MSG_ID = "Nats-Msg-Id"


def has_trace_context(headers: Mapping[str, str]) -> bool:
    """Whether ``headers`` already carry a B3 context (any key case)."""
    return any(key.lower() in ("b3", "x-b3-traceid") for key in headers)


@dataclass(frozen=True)
class Outgoing:
    """A message to publish: subject, body, headers and an optional de-duplication id."""

    subject: str
    data: bytes
    headers: Mapping[str, str] | None = None
    msg_id: str | None = None


class JetStreamPublisher:
    """A blocking JetStream publisher with PRODUCER spans and B3 headers (see the module docstring)."""

    def __init__(self, *, nats_url: str, tracer: Tracer = NOOP_TRACER, timeout: float = 5.0,
                 name: str = "kit-publisher", security: NatsSecurity | None = None) -> None:
        self._url = nats_url
        self._secured = (security or NatsSecurity.from_env()).connect_options()
        self._tracer = tracer
        self._traced = tracer is not NOOP_TRACER
        self._timeout = timeout
        self._name = name
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=name, daemon=True)
        self._thread.start()
        self._client: Client | None = None
        self._pipeline: PipelinedPublisher | None = None
        self._pipeline_client: Client | None = None
        self._connecting: asyncio.Lock | None = None
        self._closed = False

    def publish(self, subject: str, data: bytes, *, headers: Mapping[str, str] | None = None,
                msg_id: str | None = None) -> int:
        """Publish and wait for JetStream's ack; return the stream sequence of the stored message."""
        if self._closed:
            raise Unavailable("the publisher is closed")
        timeout = self._call_timeout(subject)
        outgoing = dict(headers or {})
        if msg_id is not None:
            outgoing[MSG_ID] = msg_id
        if self._traced and not has_trace_context(outgoing):
            self._tracer.inject(outgoing)  # the caller's span, parent of the PRODUCER span
        future = asyncio.run_coroutine_threadsafe(self._publish(subject, data, outgoing, timeout),
                                                  self._loop)
        try:
            return future.result(timeout + 1.0)
        except concurrent.futures.TimeoutError as exc:
            future.cancel()
            raise Unavailable(f"no ack from JetStream for {subject} within {timeout:.1f}s") from exc

    def endpoint(self, encode: Callable[[Req], Outgoing]) -> Endpoint[Req, int]:
        """An endpoint publishing ``encode(request)`` and returning its stream sequence."""

        def publish(request: Req) -> int:
            message = encode(request)
            return self.publish(message.subject, message.data, headers=message.headers,
                                msg_id=message.msg_id)

        return publish

    def close(self) -> None:
        """Flush, close the connection and stop the background loop."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):  # closing a broken connection: nothing left to save
            asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(self._timeout + 1.0)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5.0)
        if not self._thread.is_alive():
            self._loop.close()

    def _call_timeout(self, subject: str) -> float:
        remaining = current().remaining()
        if remaining is None:
            return self._timeout
        if remaining <= 0:
            raise DeadlineExceeded(f"deadline exceeded before publishing to {subject}")
        return min(self._timeout, remaining)

    async def _connected(self, timeout: float) -> Client:
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._client is not None and not self._client.is_closed:
                return self._client
            # The client retries forever once it has connected; the first connect is bounded here.
            connect = nats.connect(server_list(self._url), name=self._name, error_cb=log_connection_error,
                                   connect_timeout=max(1, round(timeout)), allow_reconnect=True,
                                   max_reconnect_attempts=-1, reconnect_time_wait=0.25,
                                   **self._secured)
            self._client = await asyncio.wait_for(connect, timeout)
            return self._client

    async def _publish(self, subject: str, data: bytes, headers: dict[str, str], timeout: float) -> int:
        try:
            client = await self._connected(timeout)
            if self._pipeline is None or self._pipeline_client is not client:
                self._pipeline = PipelinedPublisher(client, tracer=self._tracer)
                self._pipeline_client = client
            sequences = await self._pipeline.publish([Message(subject, data, headers)], timeout)
        except PublishError as exc:
            if exc.code is None or exc.code == UNAVAILABLE:  # no answer, or no stream there (yet)
                raise Unavailable(f"cannot publish to {subject}: {exc.message}") from exc
            raise FailedPrecondition(f"JetStream refused the message on {subject}: {exc.message}") from exc
        except KitError:
            raise
        except Exception as exc:  # timeouts, closed connections, refused connects: NATS is out of reach
            raise Unavailable(f"cannot publish to {subject}: {exc!r}") from exc
        return sequences[0]

    async def _close(self) -> None:
        if self._client is not None and not self._client.is_closed:
            try:
                await self._client.flush(timeout=2)
            finally:
                await self._client.close()
