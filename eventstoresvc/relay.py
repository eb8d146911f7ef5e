"""The outbox relay: publishes committed events to JetStream, in position order, until acknowledged.

An append commits the event and its outbox entry together; this relay is the only publisher. It
reads the outbox oldest first, publishes each event with ``Nats-Msg-Id = event_id``, waits for
JetStream's ack, and deletes the entry. Nothing is lost: an event stays in the outbox until acked,
so a NATS outage or a crash only delays it. Nothing is doubled: when an outcome is unknown (ack
lost, crash before the entry was deleted) the event is published again and JetStream drops the
copy by its message id (within ``jetstream.DUPLICATE_WINDOW``). While NATS is down the relay backs
off (capped exponential with jitter) and appends keep working; the backlog is exported as the
``eventstore_outbox_backlog`` gauge.

Events are published in position order, pipelined in small windows (see ``_publish``), so the
stream's order is the position order; only a failed publish in the middle of a window can let the
events after it into the stream before it. asyncio (nats-py) lives only inside this module: the relay
runs its own event loop in a thread and reaches the synchronous repository through worker threads.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from dataclasses import dataclass

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge

from eventstoresvc import jetstream
from eventstoresvc.domain import RecordedEvent
from eventstoresvc.repository import EventRepository

log = logging.getLogger(__name__)

WINDOW = 64  # publishes in flight at once


@dataclass(frozen=True)
class RelayMetrics:
    """The relay's Prometheus metrics."""

    backlog: Gauge
    published: Counter
    failures: Counter


_METRICS: dict[int, RelayMetrics] = {}
_METRICS_LOCK = threading.Lock()


def relay_metrics(registry: CollectorRegistry = REGISTRY) -> RelayMetrics:
    """The relay metrics registered in ``registry`` (created on first use, shared afterwards)."""
    with _METRICS_LOCK:
        metrics = _METRICS.get(id(registry))
        if metrics is None:
            metrics = RelayMetrics(
                backlog=Gauge("eventstore_outbox_backlog", "Events committed but not yet acked by JetStream",
                              registry=registry),
                published=Counter("eventstore_relay_published", "Events acked by JetStream",
                                  registry=registry),
                failures=Counter("eventstore_relay_failures",
                                 "Failed NATS connections, publishes or outbox updates", registry=registry),
            )
            _METRICS[id(registry)] = metrics
        return metrics


class OutboxRelay:
    """Moves events from the outbox to JetStream in a background thread (``start`` / ``stop``)."""

    def __init__(
        self,
        repository: EventRepository,
        nats_url: str,
        *,
        batch_size: int = 200,
        ack_timeout: float = 5.0,
        max_backoff: float = 5.0,
        idle_poll: float = 0.5,
        registry: CollectorRegistry = REGISTRY,
    ) -> None:
        self._repository = repository
        self._nats_url = nats_url
        self._batch_size = batch_size
        self._ack_timeout = ack_timeout
        self._max_backoff = max_backoff
        self._idle_poll = idle_poll
        self.metrics = relay_metrics(registry)
        self._stopping = threading.Event()
        self._flush_deadline = 0.0
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start relaying in a background thread."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name="outbox-relay",
                                        daemon=True)
        self._thread.start()

    def stop(self, flush_timeout: float = 5.0) -> None:
        """Publish what is pending for up to ``flush_timeout`` seconds, then stop."""
        self._flush_deadline = time.monotonic() + flush_timeout
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(flush_timeout + self._ack_timeout + 5.0)
            self._thread = None

    def _done(self) -> bool:
        return self._stopping.is_set() and time.monotonic() >= self._flush_deadline

    async def _pause(self, seconds: float) -> None:
        """Sleep, waking early when a stop's flush time is over."""
        end = time.monotonic() + seconds
        while not self._done() and time.monotonic() < end:
            await asyncio.sleep(min(0.05, end - time.monotonic()))

    def _backoff(self, failures: int) -> float:
        return random.uniform(0.5, 1.0) * min(self._max_backoff, 0.1 * 2.0 ** min(failures, 10))

    async def _connect(self) -> Client:
        """Connect, retrying for as long as it takes (the client keeps trying until it is stopped)."""
        connecting = asyncio.ensure_future(nats.connect(
            self._nats_url, name="eventstore-relay", connect_timeout=2, allow_reconnect=True,
            max_reconnect_attempts=-1, reconnect_time_wait=0.25, error_cb=self._on_error,
        ))
        while not connecting.done():
            if self._stopping.is_set():
                connecting.cancel()
                raise ConnectionError("stopped before NATS could be reached")
            await asyncio.wait({connecting}, timeout=0.1)
        return connecting.result()

    async def _on_error(self, exc: Exception) -> None:
        # NATS is unreachable or the connection broke; the client reconnects by itself.
        self.metrics.failures.inc()
        log.debug("relay NATS connection error: %r", exc)

    async def _main(self) -> None:
        try:
            client = await self._connect()
        except Exception:
            log.error("relay stopped before it could reach NATS; %d events wait in the outbox",
                      self._repository.backlog())
            return
        try:
            await self._relay(client.jetstream())
        finally:
            await client.close()

    async def _relay(self, js: JetStreamContext) -> None:
        failures = 0
        head = 0
        while not self._done():
            try:
                batch = await asyncio.to_thread(self._repository.pending, self._batch_size)
                if len(batch) < self._batch_size:
                    self.metrics.backlog.set(len(batch))  # the whole outbox was read
                else:
                    self.metrics.backlog.set(await asyncio.to_thread(self._repository.backlog))
                if not batch:
                    if self._stopping.is_set():
                        return  # flushed
                    # Wait for commits after the head seen now; a commit in between ends the wait at once.
                    head = await asyncio.to_thread(self._repository.head)
                    if not await asyncio.to_thread(self._repository.pending, 1):
                        await asyncio.to_thread(self._repository.wait_for_append, head, self._idle_poll)
                    continue
            except Exception as exc:  # the database is down: the outbox waits, so do we
                failures += 1
                self.metrics.failures.inc()
                log.warning("relay cannot read the outbox: %s", exc)
                await self._pause(self._backoff(failures))
                continue
            if await self._publish(js, batch):
                failures = 0
            else:
                failures += 1
                await self._pause(self._backoff(failures))

    async def _publish(self, js: JetStreamContext, batch: list[RecordedEvent]) -> bool:
        """Publish ``batch`` in order, marking acked events published; False if one failed.

        Publishes are pipelined in windows of ``WINDOW``: sent in position order on one connection
        (so stored in that order), acks awaited together. Only the acked prefix is marked; after a
        failure the rest is published again, and copies JetStream already stored are dropped as
        duplicates, so a failure can leave events after the failed one ahead of it in the stream,
        never missing or doubled.
        """
        acked: list[int] = []
        ok = True
        for start in range(0, len(batch), WINDOW):
            window = batch[start:start + WINDOW]
            outcomes = await asyncio.gather(
                *(js.publish(event.event_type, event.event_data.encode("utf-8"), timeout=self._ack_timeout,
                             stream=event.stream, headers=jetstream.headers(event)) for event in window),
                return_exceptions=True)
            for event, outcome in zip(window, outcomes, strict=True):
                if isinstance(outcome, BaseException):
                    self.metrics.failures.inc()
                    log.warning("publishing event %s (position %d) failed: %r",
                                event.event_id, event.position, outcome)
                    ok = False
                    break
                acked.append(event.position)
            if not ok:
                break
        if acked:
            try:
                await asyncio.to_thread(self._repository.mark_published, acked)
                self.metrics.published.inc(len(acked))
            except Exception as exc:  # they will be published again and dropped by JetStream as duplicates
                self.metrics.failures.inc()
                log.warning("marking %d events published failed: %s", len(acked), exc)
                ok = False
        return ok
