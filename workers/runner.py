"""A worker process: its JetStream consumer and background loops, built from settings and run.

``WORKERS`` says what each worker consumes: payment ``ORDERS.created``, review
``ORDERS.paymentdebited``, projection and saga every ``ORDERS.*`` event, each on its own durable
consumer (named after the worker), so any number of instances share the work. ``consumers(...)``
builds what a worker runs: the consumer, plus for the saga the timeout sweep, plus the refresher
of the dead-letter gauge. ``run_worker`` prepares the stores (idempotent), serves ``/metrics`` and
runs everything until SIGTERM / SIGINT, then drains.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from kit.endpoint import Endpoint, Middleware
from kit.errors import Unavailable
from kit.lifecycle import Runnable
from kit.nats import JetStreamConsumer, ensure_stream, run_until_signal
from orders.ports import RecordedEvent
from orders.schema import create_schema as create_read_model_schema
from workers.container import Container, build, close
from workers.deadletters import DeadLetterGauge
from workers.messages import decode_event
from workers.schema import create_schema
from workers.settings import WorkerSettings

log = logging.getLogger("workers")

STREAM = "ORDERS"
STREAM_SUBJECTS = ("ORDERS.*",)
DUPLICATE_WINDOW = 2 * 60 * 60.0  # as the event store's relay expects (eventstoresvc.jetstream)


@dataclass(frozen=True)
class WorkerKind:
    """A worker: its durable consumer, the subjects it takes and its endpoint in the container."""

    name: str
    filter_subjects: tuple[str, ...]
    endpoint: Callable[[Container], Endpoint[RecordedEvent, object]]
    batch_endpoint: Callable[[Container], Endpoint[Sequence[RecordedEvent], object]] | None = None


WORKERS: dict[str, WorkerKind] = {
    "payment": WorkerKind("payment", ("ORDERS.created",), lambda c: c.payment_endpoint()),
    "projection": WorkerKind("projection", (), lambda c: c.projection_endpoint(),
                             lambda c: c.projection_batch_endpoint()),
    "review": WorkerKind("review", ("ORDERS.paymentdebited",), lambda c: c.review_endpoint()),
    "saga": WorkerKind("saga", (), lambda c: c.saga_endpoint(), lambda c: c.saga_batch_endpoint()),
}


class SagaSweeper:
    """Runs the saga coordinator's timeout sweep every ``interval`` seconds until stopped."""

    def __init__(self, container: Container, interval: float) -> None:
        self.name = "saga-sweep"
        self._container = container
        self._interval = interval

    def run(self, stop: threading.Event) -> None:
        """Sweep until ``stop`` is set; a failed sweep is logged and tried again next time."""
        coordinator = self._container.coordinator()
        while not stop.wait(self._interval):
            try:
                coordinator.sweep()
            except Exception:
                log.exception("saga timeout sweep failed")


def consumer(container: Container, kind: WorkerKind, settings: WorkerSettings, *,
             wrap: Middleware[Any, object] | None = None,
             name: str | None = None) -> JetStreamConsumer[RecordedEvent]:
    """The JetStream consumer of worker ``kind``; ``wrap`` adds an outermost middleware (tests).

    A worker with a batch endpoint gets a batch consumer (``settings.max_batch`` events per call,
    ``settings.batch_concurrency`` calls at once) unless ``max_batch`` is 1.
    """
    options: dict[str, Any] = dict(
        nats_url=settings.nats_url, stream=STREAM, durable=kind.name,
        filter_subjects=kind.filter_subjects, max_deliver=settings.max_deliver,
        ack_wait=settings.ack_wait, backoff=settings.backoff, heartbeat=settings.heartbeat,
        dead_letter_stream=settings.dead_letter_stream, tracer=container.tracer(),
        name=name or kind.name, batch=settings.batch)
    if kind.batch_endpoint is not None and settings.max_batch > 1:
        batch = kind.batch_endpoint(container)
        return JetStreamConsumer.batched(wrap(batch) if wrap is not None else batch, decode_event,
                                         max_batch=settings.max_batch,
                                         max_concurrency=settings.batch_concurrency, **options)
    endpoint = kind.endpoint(container)
    return JetStreamConsumer(wrap(endpoint) if wrap is not None else endpoint, decode_event,
                             max_concurrency=settings.concurrency, **options)


def consumers(container: Container, worker: str, settings: WorkerSettings, *,
              wrap: Middleware[Any, object] | None = None) -> list[Runnable]:
    """Everything worker ``worker`` runs: its consumer and its background loops."""
    kind = WORKERS[worker]
    runnables: list[Runnable] = [consumer(container, kind, settings, wrap=wrap)]
    if worker == "saga":
        runnables.append(SagaSweeper(container, settings.sweep_interval))
    if settings.dead_letter_poll > 0:
        runnables.append(DeadLetterGauge(settings.nats_url, settings.dead_letter_stream,
                                         settings.dead_letter_poll))
    return runnables


def prepare(container: Container, settings: WorkerSettings) -> None:
    """Create the tables and the stream the workers use, if missing (safe to repeat)."""
    engine = container.engine()
    create_read_model_schema(engine)
    create_schema(engine)
    try:
        ensure_stream(settings.nats_url, STREAM, STREAM_SUBJECTS, duplicate_window=DUPLICATE_WINDOW)
    except Unavailable as exc:  # the consumer keeps trying until NATS and the stream are there
        log.warning("cannot ensure stream %s now: %s", STREAM, exc.message)


def run_worker(worker: str, settings: WorkerSettings, *,
               wrap: Middleware[Any, object] | None = None) -> None:
    """Run worker ``worker`` in the foreground until SIGTERM / SIGINT, then drain and release."""
    from kit.middleware.metrics import start_metrics_server

    if worker not in WORKERS:
        raise ValueError(f"unknown worker {worker!r}; choose one of {', '.join(sorted(WORKERS))}")
    container = build(settings, service_name=f"{worker}-worker")
    try:
        prepare(container, settings)
        server = start_metrics_server(settings.metrics_port) if settings.metrics_port else None
        runnables: Sequence[Runnable] = consumers(container, worker, settings, wrap=wrap)
        log.info("%s worker consuming %s from %s", worker, STREAM, settings.nats_url)
        try:
            run_until_signal(runnables)
        finally:
            if server is not None:
                server.shutdown()
    finally:
        close(container)
