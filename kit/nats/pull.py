"""The asyncio half of a JetStream consumer: fetch, hand messages to worker threads, ack, recover.

``PullLoop.run`` owns one event loop (in the thread that called ``JetStreamConsumer.run``) and a
``ThreadPoolExecutor`` of ``max_concurrency`` worker threads, each taking work from one queue. It
keeps up to ``batch`` messages delivered and unsettled: it fetches more when half of them are
settled, so fetching overlaps handling. Every message runs through the synchronous ``Handler`` in a
worker thread, in a copy of the loop's contextvars, and the loop settles it from its ``Outcome``:
ack, nak with a delay, or dead letter and terminate. Completions wake the loop once per burst, not
once per message. Messages delivered and not settled get an ``in_progress`` every ``heartbeat``
seconds, so a slow handler keeps its message instead of having it redelivered to someone else.

Why not ``run_in_executor`` per message: a hand-off to a thread costs tens of microseconds (a
future, a wake-up, the GIL changing hands), more than nats-py spends receiving and acking the
message. Messages are handed over in chunks sized from a moving average of the handler time, so a
chunk holds about ``CHUNK_TARGET`` seconds of work: microsecond handlers share one hand-off per
chunk, while handlers slower than ``CHUNK_TARGET`` get one message each and run
``max_concurrency`` at a time.

How it copes with the network, as nats-py behaves: a fetch that finds nothing raises a timeout (or
returns an empty list when the server's 408 arrives first); both mean "no messages". The client
reconnects by itself (forever), but pull requests in flight are lost with the old connection, and a
server that lost its state may have lost the consumer too. So after every reconnect, and after any
fetch error that is not a timeout, the pull subscription is thrown away and rebuilt: the dead-letter
stream and the consumer are ensured again (both idempotent) and a fresh inbox is bound, with capped
exponential backoff between failed attempts. The lag gauge refresh doubles as a liveness check of
the consumer (a deleted consumer is re-created).

Stopping (``stop`` is set): no more fetches; messages not yet started are released (nak without
delay, so another instance takes them at once); handlers already running finish and are settled;
the connection is flushed, so every ack has left, and closed.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import functools
import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from kit.nats import deadletter
from kit.nats.handler import RELEASED, SKIPPED, Outcome, Verdict
from kit.nats.message import Message, from_nats
from kit.nats.metrics import ConsumerMetrics
from kit.nats.servers import server_list
from kit.nats.streams import consumer_config, ensure_consumer

_LOG = logging.getLogger("kit.nats")

_REPLAY_FOR = deadletter.REPLAY_FOR.lower()

CHUNK_TARGET = 0.002  # seconds of handler time per hand-off to a worker thread


def retry_delay(backoff: Sequence[float], delivered: int, retry_after: float | None = None) -> float:
    """The nak delay after failed delivery number ``delivered``: its backoff step, or the error's wish.

    The last step repeats; an error's ``retry_after`` wins when it asks for longer.
    """
    delay = backoff[min(delivered, len(backoff)) - 1] if backoff and delivered > 0 else 0.0
    return max(delay, retry_after or 0.0)


@dataclass(frozen=True)
class Settings:
    """What a pull loop needs to know about its consumer."""

    nats_url: str
    stream: str
    durable: str
    name: str
    filter_subjects: Sequence[str]
    max_concurrency: int
    max_deliver: int
    ack_wait: float
    backoff: Sequence[float]
    heartbeat: float
    dead_letter_stream: str
    batch: int
    fetch_wait: float = 0.5
    lag_interval: float = 5.0
    max_reconnect_backoff: float = 5.0


@dataclass
class Tally:
    """Counts kept across runs (read from other threads: plain ints, written by the loop only)."""

    acked: int = 0
    dead_lettered: int = 0
    naks: int = 0


class PullLoop:
    """One run of a consumer: connects, consumes until ``stop`` is set, drains, disconnects."""

    def __init__(self, settings: Settings, handler: Callable[[Message], Outcome], metrics: ConsumerMetrics,
                 tally: Tally, stop: threading.Event) -> None:
        self._s = settings
        self._handler = handler
        self._metrics = metrics
        self._tally = tally
        self._stop = stop
        self._dlq_subject = deadletter.dead_letter_subject(settings.dead_letter_stream, settings.stream,
                                                          settings.durable)
        self._config = consumer_config(settings.durable, filter_subjects=settings.filter_subjects,
                                       max_deliver=settings.max_deliver, ack_wait=settings.ack_wait,
                                       max_ack_pending=max(1000, settings.batch * 4))
        self._low_water = max(1, settings.batch // 2)
        self._outstanding = 0
        self._dispatched = 0
        self._unsettled: dict[int, tuple[Msg, Message, float]] = {}
        self._done: collections.deque[tuple[int, Outcome]] = collections.deque()
        self._wake_pending = False
        self._settled = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._room = asyncio.Event()
        self._wake: Callable[[], object] = lambda: None
        self._stale = True
        self._work: queue.SimpleQueue[list[tuple[int, Message, contextvars.Context]] | None] = \
            queue.SimpleQueue()
        self._handler_time = CHUNK_TARGET  # seconds per message, a moving average; slow until measured

    # -- lifecycle ---------------------------------------------------------------------------------

    async def run(self) -> None:
        """Consume until stopped; reconnects and re-subscribes as often as needed."""
        self._wake = functools.partial(asyncio.get_running_loop().call_soon_threadsafe, self._settled.set)
        workers = self._s.max_concurrency
        executor = ThreadPoolExecutor(workers, thread_name_prefix=f"jetstream-{self._s.name}")
        for _ in range(workers):
            executor.submit(self._work_loop)
        try:
            while not self._stop.is_set():
                client = await self._connect()
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
                    await self._close(client)
        finally:
            for _ in range(workers):
                self._work.put(None)
            executor.shutdown(wait=True)

    async def _connect(self) -> Client | None:
        """Connect, trying for as long as it takes; None if stopped first."""
        connecting = asyncio.ensure_future(nats.connect(
            server_list(self._s.nats_url), name=f"jetstream-consumer-{self._s.name}", connect_timeout=2,
            allow_reconnect=True, max_reconnect_attempts=-1, reconnect_time_wait=0.25,
            reconnected_cb=self._on_reconnected, disconnected_cb=self._on_disconnected,
            error_cb=self._on_error,
        ))
        while not connecting.done():
            if self._stop.is_set():
                connecting.cancel()
                return None
            await asyncio.wait({connecting}, timeout=0.05)
        try:
            return connecting.result()
        except Exception as exc:
            _LOG.warning("consumer %s cannot connect to NATS: %r", self._s.name, exc)
            await self._pause(1.0)
            return None if self._stop.is_set() else await self._connect()

    async def _on_reconnected(self) -> None:
        _LOG.info("consumer %s reconnected to NATS; re-subscribing", self._s.name)
        self._stale = True

    async def _on_disconnected(self) -> None:
        _LOG.info("consumer %s disconnected from NATS", self._s.name)

    async def _on_error(self, exc: Exception) -> None:
        _LOG.debug("consumer %s NATS connection error: %r", self._s.name, exc)

    async def _close(self, client: Client) -> None:
        try:
            if client.is_connected:
                await client.flush(timeout=5)
        except Exception as exc:  # acks still buffered are lost: those messages get redelivered
            _LOG.warning("consumer %s could not flush its acks: %r", self._s.name, exc)
        try:
            await client.close()
        except Exception as exc:
            _LOG.debug("consumer %s close: %r", self._s.name, exc)

    async def _pause(self, seconds: float) -> None:
        """Sleep, waking early when stopped."""
        end = time.monotonic() + seconds
        while not self._stop.is_set() and (left := end - time.monotonic()) > 0:
            await asyncio.sleep(min(0.05, left))

    def _backoff(self, failures: int) -> float:
        return random.uniform(0.5, 1.0) * min(self._s.max_reconnect_backoff, 0.1 * 2.0 ** min(failures, 10))

    # -- consuming ---------------------------------------------------------------------------------

    async def _consume(self, client: Client, js: JetStreamContext) -> None:
        sub: JetStreamContext.PullSubscription | None = None
        failures = 0
        # The keepers stop when ``leaving`` is set, not only when cancelled: on Python 3.11 a
        # ``wait_for`` whose awaitable completes as it is cancelled swallows the cancellation, and
        # a keeper inside a NATS request would then loop on forever.
        leaving = asyncio.Event()
        keepers = [asyncio.create_task(self._keep_in_progress(leaving)),
                   asyncio.create_task(self._refresh_lag(js, leaving))]
        try:
            while not self._stop.is_set() and not client.is_closed:
                if not client.is_connected:
                    await self._pause(0.05)
                    continue
                if sub is None or self._stale:
                    # Forget the old subscription before trying: a failed attempt must leave no
                    # half-torn-down subscription to fetch from (its requests would reach nobody).
                    old, sub = sub, None
                    try:
                        sub = await self._subscribe(js, old)
                        failures = 0
                    except Exception as exc:
                        failures += 1
                        _LOG.warning("consumer %s cannot subscribe to %s (attempt %d): %r",
                                     self._s.name, self._s.stream, failures, exc)
                        await self._pause(self._backoff(failures))
                        continue
                if not await self._wait_for_room():
                    break
                try:
                    messages = await sub.fetch(self._s.batch - self._outstanding, timeout=self._s.fetch_wait)
                except TimeoutError:  # nats.errors.TimeoutError and FetchTimeoutError included
                    continue  # nothing to do
                except Exception as exc:
                    failures += 1
                    _LOG.warning("consumer %s fetch failed; re-subscribing: %r", self._s.name, exc)
                    self._stale = True
                    await self._pause(self._backoff(failures))
                    continue
                self._dispatch(messages)
        finally:
            leaving.set()
            for keeper in keepers:
                keeper.cancel()
            await asyncio.wait(keepers)
            if sub is not None and not client.is_closed:
                await self._unsubscribe(sub)

    async def _subscribe(self, js: JetStreamContext,
                         old: JetStreamContext.PullSubscription | None) -> JetStreamContext.PullSubscription:
        if old is not None:
            await self._unsubscribe(old)
        await self._ensure_dead_letter_stream(js)
        await ensure_consumer(js, self._s.stream, self._config)
        self._stale = False  # only now: a reconnect during the calls above asks for another round
        return await js.pull_subscribe_bind(durable=self._s.durable, stream=self._s.stream)

    async def _ensure_dead_letter_stream(self, js: JetStreamContext) -> None:
        """Ensure the dead-letter stream, as replicated as the stream consumed; never fatal.

        Consuming must not wait for it: while it is unavailable, a message due for it is nak'd
        and dead-lettered on a later delivery (``_dead_letter``).
        """
        try:
            source = await js.stream_info(self._s.stream)
            await deadletter.ensure_dead_letter_stream(js, self._s.dead_letter_stream,
                                                       num_replicas=source.config.num_replicas or 1)
        except Exception as exc:
            _LOG.warning("consumer %s cannot ensure the dead-letter stream %s: %r", self._s.name,
                         self._s.dead_letter_stream, exc)

    async def _unsubscribe(self, sub: JetStreamContext.PullSubscription) -> None:
        """Drop a pull subscription and give back the messages that reached it unfetched.

        A fetch that returns before its batch is full leaves its pull request open on the server
        until it expires, and messages delivered for it meanwhile wait in the subscription's queue
        (nats-py keeps them for the next fetch). Unless they are nak'd here, they would sit out the
        ack wait before anyone else could have them.
        """
        try:
            await sub.unsubscribe()
        except Exception as exc:  # the old inbox may be gone with the old connection
            _LOG.debug("consumer %s unsubscribe: %r", self._s.name, exc)
        pending = getattr(getattr(sub, "_sub", None), "_pending_queue", None)

        if not isinstance(pending, asyncio.Queue):
            return
        while not pending.empty():
            raw = pending.get_nowait()
            if isinstance(raw, Msg) and (raw.reply or "").startswith("$JS.ACK."):
                try:
                    await raw.nak()
                except Exception as exc:
                    _LOG.debug("consumer %s giving back a message: %r", self._s.name, exc)

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
        """Queue fetched messages for the worker threads, in chunks sized by the handlers' speed."""
        runnable: list[tuple[int, Message, contextvars.Context]] = []
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
            replay_for = message.headers.get(_REPLAY_FOR)
            if replay_for is not None and replay_for != self._s.durable:
                outcome = SKIPPED  # a dead letter replayed for another consumer of this stream
            elif message.num_delivered > self._s.max_deliver:
                outcome = Outcome(Verdict.DEAD_LETTER,
                                  f"delivered {message.num_delivered} times without being settled "
                                  "(the handler crashed or hung past the ack wait)")
            else:
                runnable.append((key, message, contextvars.copy_context()))
                continue
            self._done.append((key, outcome))
            settled_here = True
        if settled_here:
            self._settled.set()
        # Handing a message to a thread costs tens of microseconds (a wake-up, the GIL changing
        # hands): when handlers are that fast, one hand-off carries a chunk of messages, sized so
        # a chunk takes about CHUNK_TARGET seconds; slow handlers get one message each, so up to
        # max_concurrency of them run at once.
        size = max(1, min(len(runnable), int(CHUNK_TARGET / max(self._handler_time, 1e-6))))
        for start in range(0, len(runnable), size):
            self._work.put(runnable[start:start + size])

    def _work_loop(self) -> None:
        """A worker thread: handle queued chunks of messages until the ``None`` sentinel."""
        work, done, handler, stopping = self._work, self._done, self._handler, self._stop.is_set
        while (chunk := work.get()) is not None:
            started = time.perf_counter()
            for index, (key, message, context) in enumerate(chunk):
                try:
                    outcome = RELEASED if stopping() else context.run(handler, message)
                except BaseException:
                    done.extend((k, RELEASED) for k, _, _ in chunk[index:])
                    self._wake()
                    raise
                done.append((key, outcome))
            per_message = (time.perf_counter() - started) / len(chunk)
            self._handler_time += (per_message - self._handler_time) * 0.2  # a racy average is fine
            # One wake-up per burst of completions, not one per message: appending before reading
            # the flag, and the loop clearing the flag before draining, loses no outcome.
            if not self._wake_pending:
                self._wake_pending = True
                self._wake()

    async def _settle_completed(self, js: JetStreamContext) -> None:
        """Settle outcomes as handlers complete (runs for the life of a connection)."""
        done = self._done
        while True:
            await self._settled.wait()
            self._settled.clear()
            self._wake_pending = False
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
        """Ack, nak or start dead-lettering; False when a task settles the message later."""
        verdict = outcome.verdict
        if verdict is Verdict.ACK:
            await raw.ack()
            self._tally.acked += 1  # counted in the metric once per burst
        elif verdict is Verdict.SKIP:
            await raw.ack()
            self._metrics.skipped.inc()
        elif verdict is Verdict.RELEASE:
            await raw.nak()
            self._metrics.nakd.inc()
        elif verdict is Verdict.RETRY and message.num_delivered < self._s.max_deliver:
            await raw.nak(delay=self._retry_delay(message.num_delivered, outcome.retry_after))
            self._tally.naks += 1
            self._metrics.nakd.inc()
        else:
            reason = outcome.reason
            if verdict is Verdict.RETRY:
                reason = f"failed {message.num_delivered} deliveries, last: {reason}"
            # Publishing a dead letter waits for JetStream's ack: not in the way of other settlements.
            task = asyncio.create_task(self._dead_letter(js, raw, message, reason))
            self._tasks.add(task)
            task.add_done_callback(self._dead_lettered)
            return False
        return True

    def _dead_lettered(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._release_slot()

    def _retry_delay(self, delivered: int, retry_after: float | None) -> float:
        return retry_delay(self._s.backoff, delivered, retry_after)

    async def _dead_letter(self, js: JetStreamContext, raw: Msg, message: Message, reason: str) -> None:
        headers = deadletter.dead_letter_headers(
            raw.headers, reason=reason, stream=self._s.stream, subject=message.subject,
            sequence=message.stream_sequence, deliveries=message.num_delivered, consumer=self._s.durable)
        try:
            try:
                await js.publish(self._dlq_subject, raw.data, headers=headers, timeout=5.0,
                                 stream=self._s.dead_letter_stream)
            except Exception as exc:  # keep the message; it comes back and is dead-lettered then
                _LOG.warning("consumer %s could not dead-letter %s #%d: %r", self._s.name,
                             message.subject, message.stream_sequence, exc)
                self._stale = True  # ensures the dead-letter stream again
                await raw.nak(delay=self._retry_delay(len(self._s.backoff) or 1, None))
                self._metrics.nakd.inc()
                return
            await raw.term()
        except Exception as exc:  # the connection is gone: the message will be redelivered
            _LOG.warning("consumer %s could not settle %s #%d: %r", self._s.name, message.subject,
                         message.stream_sequence, exc)
            return
        _LOG.warning("consumer %s dead-lettered %s #%d after %d deliveries: %s", self._s.name,
                     message.subject, message.stream_sequence, message.num_delivered, reason)
        self._tally.dead_lettered += 1
        self._metrics.dead_lettered.inc()
        self._metrics.dead_letters.inc()

    async def _drain(self) -> None:
        """Wait for every dispatched message to be settled."""
        while self._outstanding > 0:
            await asyncio.sleep(0.01)

    # -- background upkeep -------------------------------------------------------------------------

    async def _keep_in_progress(self, leaving: asyncio.Event) -> None:
        """Tell the server every ``heartbeat`` seconds that unsettled messages are still being handled."""
        heartbeat = self._s.heartbeat
        while not leaving.is_set():
            await asyncio.sleep(heartbeat / 2)
            now = time.monotonic()
            for key, (raw, message, since) in list(self._unsettled.items()):
                if now - since >= heartbeat:
                    try:
                        await raw.in_progress()
                    except Exception as exc:
                        _LOG.debug("consumer %s in_progress: %r", self._s.name, exc)
                    if key in self._unsettled:
                        self._unsettled[key] = (raw, message, now)

    async def _refresh_lag(self, js: JetStreamContext, leaving: asyncio.Event) -> None:
        """Refresh the lag gauges; re-subscribe if the consumer has disappeared."""
        while not leaving.is_set():
            await asyncio.sleep(self._s.lag_interval)
            try:
                info = await js.consumer_info(self._s.stream, self._s.durable, timeout=2)
            except NotFoundError:
                _LOG.warning("consumer %s: durable %s is gone from %s; re-creating it", self._s.name,
                             self._s.durable, self._s.stream)
                self._stale = True
                continue
            except Exception as exc:
                _LOG.debug("consumer %s lag refresh: %r", self._s.name, exc)
                continue
            self._metrics.lag.set(info.num_pending or 0)
            self._metrics.ack_pending.set(info.num_ack_pending or 0)
