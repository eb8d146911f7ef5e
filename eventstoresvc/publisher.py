"""Pipelined JetStream publishing: a batch of messages sent back to back, their acks awaited together.

``JetStreamContext.publish`` sends one message and waits for its ack, with a timer per message;
publishing a batch that way, even gathered, costs a task, a timer and a parsed ``PubAck`` object
per event. Here a batch is written to the connection in order (so JetStream stores it in that
order) with a reply subject per message under one inbox subscription, and the acks are matched by
reply subject and awaited with one timeout for the whole batch.

A JetStream ack is a JSON object: ``{"stream": ..., "seq": ..., "duplicate": true?}`` when stored
(or recognised as a duplicate by its ``Nats-Msg-Id``), ``{"error": {...}}`` when refused. An ack
that arrives after its batch timed out is ignored; the message is sent again later and JetStream
drops the copy.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription


@dataclass(frozen=True)
class Message:
    """One message to publish: subject, body and headers (``Nats-Msg-Id`` among them)."""

    subject: str
    body: bytes
    headers: dict[str, str]


class PublishError(Exception):
    """JetStream refused a message, did not answer in time, or the connection failed."""


class Publisher:
    """Publishes batches on one NATS connection and reports how many were acknowledged, in order."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._prefix = client.new_inbox()
        self._numbers = itertools.count()
        self._waiting: dict[str, asyncio.Future[bytes]] = {}
        self._subscription: Subscription | None = None

    async def _on_ack(self, msg: Msg) -> None:
        future = self._waiting.pop(msg.subject, None)
        if future is not None and not future.done():
            future.set_result(msg.data)

    async def _subscribe(self) -> None:
        if self._subscription is None:
            self._subscription = await self._client.subscribe(f"{self._prefix}.*", cb=self._on_ack)

    async def publish(self, messages: Sequence[Message], timeout: float) -> int:
        """Send ``messages`` in order and wait up to ``timeout`` for their acks.

        Returns the length of the acknowledged prefix; raises ``PublishError`` (carrying that
        length as ``args[1]``) when a message of the batch was refused or not acknowledged in time.
        """
        await self._subscribe()
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[bytes]] = []
        replies: list[str] = []
        try:
            for message in messages:
                reply = f"{self._prefix}.{next(self._numbers)}"
                future: asyncio.Future[bytes] = loop.create_future()
                self._waiting[reply] = future
                futures.append(future)
                replies.append(reply)
                await self._client.publish(message.subject, message.body, reply=reply,
                                           headers=message.headers)
            if futures:
                await asyncio.wait(futures, timeout=timeout)
        except Exception as exc:
            raise PublishError(f"publishing failed: {exc!r}", self._acked(futures)) from exc
        finally:
            for reply in replies:
                self._waiting.pop(reply, None)
        acked = self._acked(futures)
        if acked < len(messages):
            raise PublishError(self._problem(futures[acked]), acked)
        return acked

    @staticmethod
    def _ok(future: asyncio.Future[bytes]) -> bool:
        if not future.done() or future.cancelled():
            return False
        try:
            ack = json.loads(future.result())
        except ValueError:
            return False
        return isinstance(ack, dict) and "error" not in ack and "seq" in ack

    def _acked(self, futures: Sequence[asyncio.Future[bytes]]) -> int:
        for index, future in enumerate(futures):
            if not self._ok(future):
                return index
        return len(futures)

    @staticmethod
    def _problem(future: asyncio.Future[bytes]) -> str:
        if not future.done() or future.cancelled():
            return "no acknowledgement in time"
        return f"refused: {future.result()[:200]!r}"
