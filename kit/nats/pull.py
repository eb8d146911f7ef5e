"""The asyncio half of a JetStream consumer: fetch, dispatch, settle, recover; in layers.

``PullLoop.run`` owns one event loop (in the thread that called ``JetStreamConsumer.run``) and puts
the layers together: a connection (``connection``), the pull subscription (``fetcher``), the worker
threads (``dispatcher``) and the settlement policy (``settlement``). It keeps up to ``batch``
messages delivered and unsettled: it fetches more when half of them are settled, so fetching
overlaps handling. Each outcome is settled as the policy says: ack, nak with a delay, or dead
letter and terminate. Messages delivered and not settled get an ``in_progress`` every
``heartbeat`` seconds, so a slow handler keeps its message instead of having it redelivered to
someone else.

How it copes with the network: the client reconnects by itself (forever), but pull requests in
flight are lost with the old connection, and a server that lost its state may have lost the
consumer too. So after every reconnect, and after any fetch error, the fetcher is thrown away and
a new one opened: the dead-letter stream and the consumer are ensured again (both idempotent) and
a fresh inbox is bound, with capped exponential backoff between failed attempts. The lag gauge
refresh doubles as a liveness check of the consumer (a deleted consumer is re-created).

Stopping (``stop`` is set): no more fetches; messages not yet started are released (nak without
delay, so another instance takes them at once); handlers already running finish and are settled;
the connection is flushed, so every ack has left, and closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from kit.nats.connection import backoff, close_flushed, connect_until_stopped, pause
from kit.nats.dispatcher import Dispatcher, Work
from kit.nats.fetcher import Fetcher
from kit.nats.handler import Outcome, Verdict
from kit.nats.message import Message, from_nats
from kit.nats.metrics import ConsumerMetrics
from kit.nats.settings import Settings, Tally
from kit.nats.settlement import Action, DeadLetterAfter, Settlement, Settler, retry_delay, settled_unhandled
from kit.nats.streams import consumer_config
from kit.nats.upkeep import keep_in_progress, refresh_lag

_LOG = logging.getLogger("kit.nats")

__all__ = ["PullLoop", "Settings", "Tally", "retry_delay"]


class PullLoop:
    """One run of a consumer: connects, consumes until ``stop`` is set, drains, disconnects."""

    def __init__(self, settings: Settings, handler: Callable[[Message], Outcome], metrics: ConsumerMetrics,
                 tally: Tally, stop: threading.Event,
                 batch: Callable[[Sequence[Message]], list[Outcome]] | None = None) -> None:
        self._s = settings
        self._handler = handler
        self._metrics = metrics
        self._tally = tally
        self._stop = stop
        self._config = consumer_config(settings.durable, filter_subjects=settings.filter_subjects,
                                       max_deliver=settings.max_deliver, ack_wait=settings.ack_wait,
                                       max_ack_pending=max(1000, settings.batch * 4))
        self._policy = settings.settlement or DeadLetterAfter(settings.max_deliver, settings.backoff)
        self._settler = Settler(stream=settings.stream, durable=settings.durable, name=settings.name,
                                dead_letter_stream=settings.dead_letter_stream, metrics=metrics,
                                retry_later=retry_delay(settings.backoff, len(settings.backoff) or 1))
        self._low_water = max(1, settings.batch // 2)
        self._outstanding = 0
        self._dispatched = 0
        self._unsettled: dict[int, tuple[Msg, Message, float]] = {}
        self._settled = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._room = asyncio.Event()
        self._stale = True
        self._dispatcher = Dispatcher(handler, workers=settings.max_concurrency, name=settings.name,
                                      stopping=stop.is_set, batch=batch, max_batch=settings.max_batch)

    # -- lifecycle ---------------------------------------------------------------------------------

    async def run(self) -> None:
        """Consume until stopped; reconnects and re-subscribes as often as needed."""
        self._dispatcher.wake = functools.partial(asyncio.get_running_loop().call_soon_threadsafe,
                                                  self._settled.set)
        self._dispatcher.start()
        try:
            while not self._stop.is_set():
                client = await connect_until_stopped(
                    self._s.nats_url, name=f"jetstream-consumer-{self._s.name}", stopped=self._stop.is_set,
                    reconnected_cb=self._on_reconnected, disconnected_cb=self._on_disconnected,
                    error_cb=self._on_error, security=self._s.security)
                if client is None:
                    break
                js = client.jetstream()
                settler = asyncio.create_task(self._settle_completed(js))
                try:
                    await self._consume(client, js)
                finally:
                    await self._drain()
                    settler.cancel()
                    await asyncio.gather(settler, return_exceptions=True)
                    await close_flushed(client, f"consumer {self._s.name}")
        finally:
            self._dispatcher.shutdown()

    async def _on_reconnected(self) -> None:
        _LOG.info("consumer %s reconnected to NATS; re-subscribing", self._s.name)
        self._stale = True

    async def _on_disconnected(self) -> None:
        _LOG.info("consumer %s disconnected from NATS", self._s.name)

    async def _on_error(self, exc: Exception) -> None:
        _LOG.debug("consumer %s NATS connection error: %r", self._s.name, exc)

    async def _pause(self, seconds: float) -> None:
        await pause(seconds, self._stop.is_set)

    # -- consuming ---------------------------------------------------------------------------------

    async def _consume(self, client: Client, js: JetStreamContext) -> None:
        fetcher: Fetcher | None = None
        failures = 0
        # The keepers stop when ``leaving`` is set, not only when cancelled (``upkeep``).
        leaving = asyncio.Event()
        keepers = [
            asyncio.create_task(keep_in_progress(self._unsettled, self._s.heartbeat, leaving, self._s.name)),
            asyncio.create_task(self._refresh_lag(js, leaving)),
        ]
        try:
            while not self._stop.is_set() and not client.is_closed:
                if not client.is_connected:
                    await self._pause(0.05)
                    continue
                if fetcher is None or self._stale:
                    # Forget the old fetcher before trying: a failed attempt must leave none
                    # half torn down to fetch from (its requests would reach nobody).
                    old, fetcher = fetcher, None
                    try:
                        fetcher = await self._subscribe(client, js, old)
                        failures = 0
                    except Exception as exc:
                        failures += 1
                        _LOG.warning("consumer %s cannot subscribe to %s (attempt %d): %r",
                                     self._s.name, self._s.stream, failures, exc)
                        await self._pause(backoff(failures, self._s.max_reconnect_backoff))
                        continue
                if not await self._wait_for_room():
                    break
                try:
                    messages = await fetcher.fetch(self._s.batch - self._outstanding, self._s.fetch_wait)
                except Exception as exc:
                    failures += 1
                    _LOG.warning("consumer %s fetch failed; re-subscribing: %r", self._s.name, exc)
                    self._stale = True
                    await self._pause(backoff(failures, self._s.max_reconnect_backoff))
                    continue
                if messages:
                    self._dispatch(messages)
        finally:
            leaving.set()
            for keeper in keepers:
                keeper.cancel()
            await asyncio.wait(keepers)
            if fetcher is not None and not client.is_closed:
                await fetcher.close()

    async def _subscribe(self, client: Client, js: JetStreamContext, old: Fetcher | None) -> Fetcher:
        if old is not None:
            await old.close()
        fetcher = Fetcher(client, js, stream=self._s.stream, config=self._config,
                          dead_letter_stream=self._s.dead_letter_stream, name=self._s.name)
        self._stale = False  # before: a reconnect during the calls below asks for another round
        try:
            await fetcher.open()
        except BaseException:
            await fetcher.close()
            raise
        return fetcher

    async def _wait_for_room(self) -> bool:
        """Wait until at most half of ``batch`` is unsettled; False if stopped meanwhile."""
        while self._outstanding > self._low_water:
            if self._stop.is_set():
                return False
            self._room.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._room.wait(), timeout=0.1)
        return not self._stop.is_set()

    def _dispatch(self, raws: list[Msg]) -> None:
        """Hand fetched messages to the dispatcher; settle at once those with nothing to run."""
        runnable: list[Work] = []
        settled_here = False
        now = time.monotonic()
        self._metrics.received.inc(len(raws))
        for raw in raws:
            message = from_nats(raw)
            if message.num_delivered > 1:
                self._metrics.redeliveries.inc()
            self._outstanding += 1
            self._dispatched += 1
            key = self._dispatched
            self._unsettled[key] = (raw, message, now)
            outcome = settled_unhandled(message, durable=self._s.durable, max_deliver=self._s.max_deliver)
            if outcome is None:
                runnable.append((key, message, contextvars.copy_context()))
                continue
            self._dispatcher.completed.append((key, outcome))
            settled_here = True
        if settled_here:
            self._settled.set()
        self._dispatcher.submit(runnable)

    async def _settle_completed(self, js: JetStreamContext) -> None:
        """Settle outcomes as handlers complete (runs for the life of a connection)."""
        done = self._dispatcher.completed
        while True:
            await self._settled.wait()
            self._settled.clear()
            self._dispatcher.wake_pending = False
            acked_before = self._tally.acked
            while done:
                key, outcome = done.popleft()
                raw, message, _ = self._unsettled.pop(key)
                try:
                    if not await self._settle(js, raw, message, outcome):
                        continue  # settled by a task of its own
                except Exception as exc:  # the connection is gone: the message will be redelivered
                    _LOG.warning("consumer %s could not settle %s #%d: %r", self._s.name, message.subject,
                                 message.stream_sequence, exc)
                self._release_slot()
            if self._tally.acked > acked_before:
                self._metrics.acked.inc(self._tally.acked - acked_before)

    def _release_slot(self) -> None:
        self._outstanding -= 1
        if self._outstanding <= self._low_water:
            self._room.set()

    async def _settle(self, js: JetStreamContext, raw: Msg, message: Message, outcome: Outcome) -> bool:
        """Settle as the policy says; False when a task of its own settles the message later."""
        settlement = self._policy.settle(message, outcome)
        if settlement.action is Action.DEAD_LETTER:
            # Publishing a dead letter waits for JetStream's ack: not in the way of other settlements.
            task = asyncio.create_task(self._dead_letter(js, raw, message, settlement))
            self._tasks.add(task)
            task.add_done_callback(self._dead_lettered)
            return False
        await self._settler.settle(raw, settlement)
        if settlement.action is Action.ACK:
            if outcome.verdict is Verdict.SKIP:
                self._metrics.skipped.inc()
            else:
                self._tally.acked += 1  # counted in the metric once per burst
        elif settlement.action is Action.NAK and outcome.verdict is Verdict.RETRY:
            self._tally.naks += 1
        return True

    def _dead_lettered(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._release_slot()

    async def _dead_letter(self, js: JetStreamContext, raw: Msg, message: Message,
                           settlement: Settlement) -> None:
        try:
            if await self._settler.dead_letter(js, raw, message, settlement.reason):
                self._tally.dead_lettered += 1
            else:
                self._stale = True  # ensures the dead-letter stream again
        except Exception as exc:  # the connection is gone: the message will be redelivered
            _LOG.warning("consumer %s could not settle %s #%d: %r", self._s.name, message.subject,
                         message.stream_sequence, exc)

    def _refresh_lag(self, js: JetStreamContext, leaving: asyncio.Event) -> Coroutine[Any, Any, None]:
        return refresh_lag(js, stream=self._s.stream, durable=self._s.durable, name=self._s.name,
                           interval=self._s.lag_interval, metrics=self._metrics, gone=self._go_stale,
                           leaving=leaving)

    def _go_stale(self) -> None:
        self._stale = True

    async def _drain(self) -> None:
        """Wait for every dispatched message to be settled."""
        while self._outstanding > 0:
            await asyncio.sleep(0.01)
