"""Serve an endpoint from a durable JetStream pull consumer: decode each message, call, then ack.

``JetStreamConsumer`` is the consumer side of the NATS transport, as ``GRPCServer`` is for gRPC:
``decode(Message) -> Req`` and a synchronous ``endpoint(Req)`` whose return value is ignored (its
effect is the point). A message is acknowledged only after the endpoint returned, so a crash
before that redelivers it, and endpoints must be idempotent (kit's delivery is at least once).
Failures are sorted by ``kit.nats.handler`` (retry with backoff, or dead letter at once) and what
becomes of them is the ``settlement`` policy's choice (``kit.nats.settlement``; by default retries
bounded by ``max_deliver``, then the dead-letter stream). ``kit.nats.pull`` puts the layers together
(connection, fetcher, dispatcher, settlement: concurrency, heartbeats, recovery after a NATS
restart, graceful drain).

Any number of instances (threads or processes) may share one ``durable``: JetStream hands each
message to one of them. The consumer, and the dead-letter stream, are created on start if missing;
starting with the same configuration again is a no-op. The stream itself is not created here: it
belongs to its publisher (use ``ensure_stream`` in tests and tools); until it exists the consumer
logs and retries.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from prometheus_client import REGISTRY, CollectorRegistry

from kit.auth.bearer import Authenticator
from kit.endpoint import Endpoint
from kit.nats.batch import BatchHandler
from kit.nats.deadletter import DEFAULT_STREAM
from kit.nats.handler import Handler
from kit.nats.message import Message
from kit.nats.metrics import ConsumerMetrics
from kit.nats.pull import PullLoop, Settings, Tally
from kit.nats.security import NatsSecurity
from kit.nats.settlement import SettlementPolicy
from kit.tracing import NOOP_TRACER, Tracer

Req = TypeVar("Req")


class JetStreamConsumer(Generic[Req]):
    """A durable pull consumer on ``stream`` calling ``endpoint`` for each message (see the module doc).

    - ``filter_subjects``: the subjects to receive (all of the stream's when empty);
    - ``max_concurrency``: handlers running at once (worker threads);
    - ``batch``: messages delivered and not yet settled at most (fetched ahead of the handlers);
    - ``max_deliver``: deliveries before a failing message is dead-lettered;
    - ``ack_wait``: seconds the server waits for a settlement before redelivering;
    - ``backoff``: nak delays by delivery count (the last one repeats);
    - ``heartbeat``: seconds between ``in_progress`` signals for messages still being handled;
    - ``dead_letter_stream``: where dead letters go (subject ``<it>.<stream>.<durable>``);
    - ``name``: the consumer's name in metrics, logs and thread names (default: ``durable``);
    - ``registry``: the Prometheus registry of its metrics (``kit.nats.metrics``);
    - ``lag_interval``: seconds between refreshes of the lag gauges;
    - ``settlement``: how outcomes are settled (default ``DeadLetterAfter(max_deliver, backoff)``;
      ``discard_after(max_deliver, backoff)`` terminates instead; or a policy of one's own);
    - ``auth``: a ``kit.auth.BearerAuth``; every message must then carry ``Authorization: Bearer``
      (``kit.nats.handler``): its claims are the context's, one without a valid token is
      dead-lettered unhandled;
    - ``security``: the connection's credentials and TLS (``kit.nats.security``; default: from
      the environment, read once here).
    """

    def __init__(
        self,
        endpoint: Endpoint[Req, object],
        decode: Callable[[Message], Req],
        *,
        nats_url: str,
        stream: str,
        durable: str,
        filter_subjects: Sequence[str] = (),
        max_concurrency: int = 16,
        max_deliver: int = 5,
        ack_wait: float = 30.0,
        backoff: Sequence[float] = (0.5, 1, 2, 5, 10),
        heartbeat: float = 10.0,
        dead_letter_stream: str = DEFAULT_STREAM,
        tracer: Tracer = NOOP_TRACER,
        name: str | None = None,
        batch: int = 64,
        registry: CollectorRegistry = REGISTRY,
        lag_interval: float = 5.0,
        settlement: SettlementPolicy | None = None,
        auth: Authenticator | None = None,
        security: NatsSecurity | None = None,
    ) -> None:
        if max_concurrency < 1 or batch < 1 or max_deliver < 1:
            raise ValueError("max_concurrency, batch and max_deliver must be at least 1")
        if not 0 < heartbeat < ack_wait:
            raise ValueError("heartbeat must be positive and shorter than ack_wait")
        names = {"stream": stream, "durable": durable, "dead_letter_stream": dead_letter_stream}
        for label, value in names.items():
            if not value or any(c in value for c in ". *>"):
                raise ValueError(f"{label} {value!r} must be a non-empty name without '.', '*', '>', ' '")
        self.name = name or durable
        self.settings = Settings(
            nats_url=nats_url, stream=stream, durable=durable, name=self.name,
            filter_subjects=tuple(filter_subjects), max_concurrency=max_concurrency,
            max_deliver=max_deliver, ack_wait=ack_wait, backoff=tuple(float(b) for b in backoff),
            heartbeat=heartbeat, dead_letter_stream=dead_letter_stream, batch=batch,
            lag_interval=lag_interval, settlement=settlement,
            security=security or NatsSecurity.from_env(),
        )
        self.metrics = ConsumerMetrics(stream, self.name, registry)
        self._auth = auth
        self._handler = Handler(endpoint, decode, stream=stream, consumer=self.name, tracer=tracer,
                                observe=self.metrics.duration.observe, auth=auth)
        self._batch: BatchHandler[Req] | None = None
        self._tally = Tally()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._error: BaseException | None = None

    @classmethod
    def batched(cls, endpoint: Endpoint[Sequence[Req], object], decode: Callable[[Message], Req], *,
                max_batch: int = 64, tracer: Tracer = NOOP_TRACER, **options: Any) -> JetStreamConsumer[Req]:
        """A consumer calling ``endpoint`` with up to ``max_batch`` requests at once (``kit.nats.batch``).

        ``options`` are those of the constructor. Messages fetched together are shared among the
        ``max_concurrency`` workers, each calling ``endpoint`` with its share: a batch endpoint
        commits its effects together, and gains most with few workers (1 or 2) and a large ``batch``.
        """
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        consumer: JetStreamConsumer[Req] = cls(lambda request: endpoint([request]), decode, tracer=tracer,
                                               **options)
        consumer.settings = dataclasses.replace(consumer.settings, max_batch=max_batch)
        consumer._batch = BatchHandler(endpoint, decode, stream=consumer.settings.stream,
                                       consumer=consumer.name, tracer=tracer,
                                       observe=consumer.metrics.duration.observe, auth=consumer._auth)
        return consumer

    def run(self, stop: threading.Event) -> None:
        """Consume until ``stop`` is set, then let running handlers finish, send their acks and return."""
        loop = PullLoop(self.settings, self._handler, self.metrics, self._tally, stop, self._batch)
        asyncio.run(loop.run())

    def start(self) -> None:
        """Run in a background thread until ``stop()``."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop = threading.Event()
        self._error = None
        self._thread = threading.Thread(target=self._run_in_thread, name=f"jetstream-consumer-{self.name}",
                                        daemon=True)
        self._thread.start()

    def _run_in_thread(self) -> None:
        try:
            self.run(self._stop)
        except BaseException as exc:  # surfaced by stop()
            self._error = exc
            raise

    def stop(self, timeout: float = 30.0) -> None:
        """Stop a consumer started with ``start()``: drain gracefully and wait up to ``timeout`` s."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                raise TimeoutError(f"consumer {self.name} did not stop within {timeout}s")
            self._thread = None
        if self._error is not None:
            error, self._error = self._error, None
            raise RuntimeError(f"consumer {self.name} failed") from error

    @property
    def running(self) -> bool:
        """Whether a consumer started with ``start()`` is running."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def processed(self) -> int:
        """Messages handled successfully and acknowledged so far."""
        return self._tally.acked

    @property
    def dead_lettered(self) -> int:
        """Messages this consumer moved to the dead-letter stream so far."""
        return self._tally.dead_lettered

    @property
    def retried(self) -> int:
        """Failed deliveries nak'd for a retry so far."""
        return self._tally.naks
