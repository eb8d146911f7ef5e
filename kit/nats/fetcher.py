"""A durable consumer's pull subscription: ensure, bind an inbox, fetch batches, give back leftovers.

The fetcher speaks JetStream's pull protocol over plain NATS: a request to
``$JS.API.CONSUMER.MSG.NEXT.<stream>.<durable>`` asks for up to ``batch`` messages, which the server
delivers to the fetcher's own inbox, followed, when it cannot fill the batch, by a status message
(``404`` no messages, ``408`` request expired, ``409`` the consumer went away or changed leader;
``100`` is an idle heartbeat). Owning the inbox and its queue means nothing depends on nats-py's
private subscription state, and a fetcher that is closed gives back (naks at once) every message
that reached it unfetched, so another instance takes it without sitting out the ack wait.

``fetch`` first asks with ``no_wait`` (the server answers at once with what it has), and only when
nothing is there with a lingering request that expires after ``wait`` seconds; it returns as soon
as it has messages. Messages that arrive for a request after its fetch returned wait in the queue
and are the next fetch's, without a new request.
"""

from __future__ import annotations

import asyncio
import json
import logging

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig

from kit.nats import deadletter
from kit.nats.streams import ensure_consumer

_LOG = logging.getLogger("kit.nats")

API_PREFIX = "$JS.API"
HEARTBEAT = "100"
END_OF_REQUEST = frozenset({"404", "408"})


class ConsumerGone(Exception):
    """The server ended a pull request with 409: the consumer was deleted or changed leader."""


class Fetcher:
    """One binding of a durable pull consumer to a fresh inbox on one connection."""

    def __init__(self, client: Client, js: JetStreamContext, *, stream: str, config: ConsumerConfig,
                 dead_letter_stream: str, name: str) -> None:
        self._client = client
        self._js = js
        self._stream = stream
        self._config = config
        self._dead_letter_stream = dead_letter_stream
        self._name = name
        self._next = f"{API_PREFIX}.CONSUMER.MSG.NEXT.{stream}.{config.durable_name}"
        self._inbox = client.new_inbox()
        self._queue: asyncio.Queue[Msg] = asyncio.Queue()
        self._subscription: Subscription | None = None

    async def open(self) -> None:
        """Ensure the dead-letter stream (never fatal) and the consumer, then bind the inbox."""
        await self._ensure_dead_letter_stream()
        await ensure_consumer(self._js, self._stream, self._config)
        self._subscription = await self._client.subscribe(self._inbox, cb=self._queue.put)

    async def _ensure_dead_letter_stream(self) -> None:
        """Ensure the dead-letter stream, as replicated as the stream consumed; never fatal.

        Consuming must not wait for it: while it is unavailable, a message due for it is nak'd
        and dead-lettered on a later delivery.
        """
        try:
            source = await self._js.stream_info(self._stream)
            await deadletter.ensure_dead_letter_stream(self._js, self._dead_letter_stream,
                                                       num_replicas=source.config.num_replicas or 1)
        except Exception as exc:
            _LOG.warning("consumer %s cannot ensure the dead-letter stream %s: %r", self._name,
                         self._dead_letter_stream, exc)

    async def fetch(self, batch: int, wait: float) -> list[Msg]:
        """Up to ``batch`` messages, waiting at most about ``wait`` seconds for the first one."""
        found = self._take(batch, [])
        if found:
            return found
        await self._request({"batch": batch, "no_wait": True})
        found = await self._receive(batch, 5.0)  # no_wait: the answer comes at once
        if found:
            return found
        await self._request({"batch": batch, "expires": int(wait * 1e9)})
        return await self._receive(batch, wait + 0.5)

    async def _request(self, request: dict[str, object]) -> None:
        await self._client.publish(self._next, json.dumps(request).encode(), reply=self._inbox)

    async def _receive(self, batch: int, timeout: float) -> list[Msg]:
        """The messages answering one request: until its end, or as soon as some have arrived."""
        found: list[Msg] = []
        try:
            msg = await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return found
        while True:
            status = (msg.headers or {}).get("Status") if not msg.data else None
            if status is None:
                found.append(msg)
            elif status == "409":
                raise ConsumerGone((msg.headers or {}).get("Description", "409"))
            elif status in END_OF_REQUEST:
                return found
            if len(found) >= batch or self._queue.empty():
                await asyncio.sleep(0)  # let the connection's reader hand over the rest of a burst
            if len(found) >= batch or self._queue.empty():
                return found
            msg = self._queue.get_nowait()

    def _take(self, batch: int, found: list[Msg]) -> list[Msg]:
        """Queued messages left from earlier requests (their status messages are dropped)."""
        while len(found) < batch and not self._queue.empty():
            msg = self._queue.get_nowait()
            if msg.data or not (msg.headers or {}).get("Status"):
                found.append(msg)
        return found

    async def close(self) -> None:
        """Unbind the inbox and give back every message that reached it unfetched."""
        if self._subscription is not None:
            try:
                await self._subscription.unsubscribe()
            except Exception as exc:  # the old inbox may be gone with the old connection
                _LOG.debug("consumer %s unsubscribe: %r", self._name, exc)
            self._subscription = None
        while not self._queue.empty():
            raw = self._queue.get_nowait()
            if (raw.reply or "").startswith("$JS.ACK."):
                try:
                    await raw.nak()
                except Exception as exc:
                    _LOG.debug("consumer %s giving back a message: %r", self._name, exc)
