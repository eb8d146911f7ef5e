"""The outbox relay: publishes committed events to JetStream, in position order, until acknowledged.

The outbox is the event log itself with one checkpoint row (``schema``): the last position
JetStream has acknowledged. An append commits its event, and that row *is* its outbox entry; this
relay is the only publisher. It reads the events after its checkpoint oldest first, publishes each
with ``Nats-Msg-Id = event_id``, waits for JetStream's acks, and then advances the checkpoint over
the acknowledged run with one update: that update is the "mark published" of every event it
passes. While events keep coming the update is made at most every ``checkpoint_interval`` seconds
(and when the relay goes idle or stops), so one write covers many batches; what a crash loses is
only the knowledge that the last interval's events were acked, and they are published again.

This is sound only because positions are commit-ordered and dense (``positions``): no event can
commit below the checkpoint later, and "above the checkpoint" is exactly "not yet
acknowledged". The backlog (head minus checkpoint) is exported as the ``eventstore_outbox_backlog``
gauge.

Nothing is lost: an event stays above the checkpoint until acked, so a NATS outage or a crash only
delays it, and a restarted relay publishes the backlog in order from the checkpoint. Nothing is
doubled: when an outcome is unknown (ack lost, crash or failed update between the ack and the
checkpoint) the events are published again and JetStream drops the copies by their message id
(within ``jetstream.DUPLICATE_WINDOW``). While NATS is down the relay backs off (capped exponential
with jitter) and appends keep working.

A batch is written to the connection in position order and its acks awaited together
(``publisher``), so the stream's order is the position order; only a refused or unacknowledged
message in the middle of a batch can let the events after it into the stream before it (they are
published again after it, as duplicates). With a tracer, each publish is a PRODUCER span in the
trace of the append that stored the event (its stored B3 context), and the message carries the
span's context, so the consumers' spans are its children. Within one process the relay is woken by each commit
and reads the new events from the repository's window of recent commits, not from the database;
commits of other processes are noticed by polling every ``idle_poll`` seconds. asyncio (nats-py)
lives only inside this module and ``kit.nats.pipeline``: the relay runs its own event loop in a thread and
reaches the synchronous repository through worker threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from dataclasses import dataclass

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge

from eventstoresvc import jetstream
from eventstoresvc.domain import RecordedEvent
from eventstoresvc.lease import Fence
from eventstoresvc.repository import EventRepository
from kit.nats.connection import backoff, close_flushed, connect_until_stopped, pause
from kit.nats.pipeline import Message, PipelinedPublisher, PublishError
from kit.registries import per_registry
from kit.tracing import NOOP_TRACER, Tracer

log = logging.getLogger(__name__)

BACKLOG_REFRESH = 0.5  # seconds between backlog counts while batches come full


@dataclass(frozen=True)
class RelayMetrics:
    """The relay's Prometheus metrics."""

    backlog: Gauge
    published: Counter
    failures: Counter


@per_registry
def relay_metrics(registry: CollectorRegistry = REGISTRY) -> RelayMetrics:
    """The relay metrics registered in ``registry`` (created on first use, shared afterwards)."""
    return RelayMetrics(
        backlog=Gauge("eventstore_outbox_backlog", "Events committed but not yet acked by JetStream",
                      registry=registry),
        published=Counter("eventstore_relay_published", "Events acked by JetStream", registry=registry),
        failures=Counter("eventstore_relay_failures",
                         "Failed NATS connections, publishes or outbox updates", registry=registry),
    )


class OutboxRelay:
    """Moves events above the checkpoint to JetStream in a background thread (``start`` / ``stop``)."""

    def __init__(
        self,
        repository: EventRepository,
        nats_url: str,
        *,
        batch_size: int = 1000,
        ack_timeout: float = 5.0,
        max_backoff: float = 5.0,
        idle_poll: float = 0.5,
        checkpoint_interval: float = 0.1,
        coalesce: float = 0.002,
        registry: CollectorRegistry = REGISTRY,
        tracer: Tracer = NOOP_TRACER,
        fence: Fence | None = None,
    ) -> None:
        self._repository = repository
        self._fence = fence
        self._tracer = tracer
        self._nats_url = nats_url
        self._batch_size = batch_size
        self._ack_timeout = ack_timeout
        self._max_backoff = max_backoff
        self._idle_poll = idle_poll
        self._checkpoint_interval = checkpoint_interval
        self._coalesce = coalesce
        self._saved_at = 0.0
        self.metrics = relay_metrics(registry)
        self._stopping = threading.Event()
        self._flush_deadline = 0.0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._idle = False  # read by the committing thread: only an idle relay needs waking
        self._backlog_counted = 0.0

    def start(self) -> None:
        """Start relaying in a background thread."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name="outbox-relay",
                                        daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        """Whether the relay's thread runs (it ends after ``stop`` or once its fence lapses)."""
        return self._thread is not None and self._thread.is_alive()

    def stop(self, flush_timeout: float = 5.0) -> None:
        """Publish what is pending for up to ``flush_timeout`` seconds, then stop."""
        self._flush_deadline = time.monotonic() + flush_timeout
        self._stopping.set()
        self._notify()
        if self._thread is not None:
            self._thread.join(flush_timeout + self._ack_timeout + 5.0)
            self._thread = None

    def _notify(self) -> None:
        """Wake the relay's loop (from any thread) if it is waiting for commits."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and (self._idle or self._stopping.is_set()):
            self._idle = False
            with contextlib.suppress(RuntimeError):  # the loop has closed: the relay is gone
                loop.call_soon_threadsafe(wake.set)

    def _done(self) -> bool:
        return (self._stopping.is_set() and time.monotonic() >= self._flush_deadline) or not self._allowed()

    def _allowed(self) -> bool:
        """Whether this relay may publish: always, or while its lease's fence holds."""
        return self._fence is None or self._fence.holds()

    async def _pause(self, seconds: float) -> None:
        """Sleep, waking early when a stop's flush time is over."""
        await pause(seconds, self._done)

    def _backoff(self, failures: int) -> float:
        return backoff(failures, self._max_backoff)

    async def _on_error(self, exc: Exception) -> None:
        # NATS is unreachable or the connection broke; the client reconnects by itself.
        self.metrics.failures.inc()
        log.debug("relay NATS connection error: %r", exc)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        unsubscribe = self._repository.on_commit(self._notify)
        try:
            client = await connect_until_stopped(self._nats_url, name="eventstore-relay",
                                                 stopped=self._stopping.is_set, error_cb=self._on_error)
            if client is None:
                log.error("relay stopped before it could reach NATS; %d events wait in the outbox",
                          self._repository.backlog())
                return
            try:
                await self._relay(PipelinedPublisher(client, tracer=self._tracer))
            finally:
                await close_flushed(client, "relay")
        finally:
            unsubscribe()
            self._loop = None

    async def _checkpoint(self) -> int:
        """The checkpoint from the database, waiting out database outages."""
        failures = 0
        while True:
            try:
                return await asyncio.to_thread(self._repository.published_through)
            except Exception as exc:
                failures += 1
                self.metrics.failures.inc()
                log.warning("relay cannot read its checkpoint: %s", exc)
                await self._pause(self._backoff(failures))
                if self._done():
                    raise

    async def _next_batch(self, checkpoint: int, wait: float) -> list[RecordedEvent]:
        """The events after ``checkpoint``, waiting up to ``wait`` seconds for a commit if there are none.

        This process's own commits come from its window of recent commits (no database read, no
        thread hop); the database is asked when the window cannot tell, and after every idle poll,
        which is how commits of other processes are found.
        """
        assert self._wake is not None
        self._wake.clear()
        self._idle = True  # from here on a commit wakes us, so none can slip between read and wait
        batch = self._repository.recent_after(checkpoint, self._batch_size)
        if batch is None:
            batch = await asyncio.to_thread(self._repository.events_after, checkpoint, self._batch_size)
        if batch or self._stopping.is_set():
            self._idle = False
            return batch
        woken = False
        with contextlib.suppress(TimeoutError):
            woken = await asyncio.wait_for(self._wake.wait(), wait)
        self._idle = False
        if woken and self._coalesce:
            await asyncio.sleep(self._coalesce)  # let the commits right behind this one join the batch
        batch = self._repository.recent_after(checkpoint, self._batch_size) if woken else None
        if not batch:
            batch = await asyncio.to_thread(self._repository.events_after, checkpoint, self._batch_size)
        return batch

    async def _update_backlog(self, batch: list[RecordedEvent]) -> None:
        if len(batch) < self._batch_size:
            self.metrics.backlog.set(len(batch))  # the read reached the head
        elif time.monotonic() - self._backlog_counted > BACKLOG_REFRESH:
            self._backlog_counted = time.monotonic()
            self.metrics.backlog.set(await asyncio.to_thread(self._repository.backlog))

    async def _save(self, acked: int, saved: int) -> int:
        """Advance the database checkpoint from ``saved`` to ``acked``; the checkpoint now saved."""
        try:
            guard = None if self._fence is None else self._fence.clause()
            await asyncio.to_thread(self._repository.mark_published, range(saved + 1, acked + 1), guard)
        except Exception as exc:  # they will be published again and dropped by JetStream as duplicates
            self.metrics.failures.inc()
            log.warning("advancing the checkpoint over %d events failed: %s", acked - saved, exc)
            raise
        self._saved_at = time.monotonic()
        return acked

    async def _relay(self, publisher: PipelinedPublisher) -> None:
        try:
            saved = acked = await self._checkpoint()
        except Exception:
            return
        failures = 0
        while not self._done():
            unsaved = acked > saved
            due = self._saved_at + self._checkpoint_interval - time.monotonic()
            try:
                if unsaved and (due <= 0 or self._stopping.is_set()):
                    saved = await self._save(acked, saved)
                    unsaved = False
                wait = max(0.0, due) if unsaved else self._idle_poll
                batch = await self._next_batch(acked, wait)
                await self._update_backlog(batch)
            except Exception as exc:  # the database is down: the events wait, so do we
                failures += 1
                self.metrics.failures.inc()
                log.warning("relay cannot read or checkpoint the events to publish: %s", exc)
                await self._pause(self._backoff(failures))
                acked = saved  # publish again what the database does not know as published
                continue
            if not batch:
                if self._stopping.is_set() and not unsaved:
                    return  # flushed
                continue
            published = await self._publish(publisher, batch)
            if published:
                acked = batch[published - 1].position
            if published == len(batch):
                failures = 0
            else:
                failures += 1
                await self._pause(self._backoff(failures))
        if acked > saved:  # stopped before the flush finished: keep what is acked, if we can
            with contextlib.suppress(Exception):
                await self._save(acked, saved)

    async def _publish(self, publisher: PipelinedPublisher, batch: list[RecordedEvent]) -> int:
        """Publish ``batch`` in order; the length of the prefix JetStream acknowledged."""
        messages = [Message(e.event_type, e.event_data.encode("utf-8"), jetstream.headers(e)) for e in batch]
        try:
            acked = len(await publisher.publish(messages, self._ack_timeout, allowed=self._allowed))
        except PublishError as exc:
            acked = len(exc.sequences)
            self.metrics.failures.inc()
            failed = batch[acked]
            log.warning("publishing event %s (position %d) failed: %s", failed.event_id, failed.position,
                        exc.message)
        self.metrics.published.inc(acked)
        return acked
