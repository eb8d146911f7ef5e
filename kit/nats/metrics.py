"""Prometheus metrics of JetStream consumers, labelled by stream and consumer name.

- ``jetstream_consumer_received_total``: deliveries taken from the server;
- ``jetstream_consumer_messages_total{outcome}``: how they ended: ``acked``, ``nakd`` (to be
  retried), ``dead_lettered``, ``skipped`` (a dead letter replayed for another consumer),
  ``discarded`` (terminated by a ``discard_after`` settlement policy);
- ``jetstream_consumer_redeliveries_total``: deliveries after the first of a message;
- ``jetstream_consumer_dead_letters_total``: messages moved to the dead-letter stream;
- ``jetstream_consumer_handler_duration_seconds``: decode + endpoint time;
- ``jetstream_consumer_lag``: messages not yet delivered to the consumer (``num_pending``), and
  ``jetstream_consumer_ack_pending``: delivered but not yet acknowledged; both refreshed
  periodically from the consumer's info.

Metric objects are created once per registry; each consumer binds its labelled children once, so
counting a message costs a few ``inc`` calls. The handler duration histogram is kit's own
(``DurationHistogram``, exported by a collector): prometheus-client's ``Histogram.observe`` costs
several microseconds, as much as the rest of a no-op message's trip through the handler.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge
from prometheus_client.core import HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from kit.middleware.metrics import BUCKETS
from kit.registries import per_registry

OUTCOMES = ("acked", "nakd", "dead_lettered", "skipped", "discarded")


class DurationHistogram:
    """A histogram of durations: thread-safe, at the cost of a bisect and an uncontended lock."""

    def __init__(self, buckets: Sequence[float] = BUCKETS) -> None:
        self._bounds = sorted(buckets)
        self._counts = [0] * (len(self._bounds) + 1)
        self._sum = 0.0
        self._lock = threading.Lock()

    def observe(self, seconds: float) -> None:
        """Count one duration."""
        index = bisect.bisect_left(self._bounds, seconds)
        with self._lock:
            self._counts[index] += 1
            self._sum += seconds

    def snapshot(self) -> tuple[list[tuple[str, float]], float]:
        """Cumulative ``(le, count)`` buckets ending with ``+Inf``, and the sum."""
        with self._lock:
            counts = list(self._counts)
            total = self._sum
        buckets: list[tuple[str, float]] = []
        running = 0
        for bound, count in zip([*self._bounds, float("inf")], counts, strict=True):
            running += count
            buckets.append(("+Inf" if bound == float("inf") else repr(float(bound)), running))
        return buckets, total


class DurationCollector(Collector):
    """Exports ``jetstream_consumer_handler_duration_seconds`` from per-consumer ``DurationHistogram``."""

    NAME = "jetstream_consumer_handler_duration_seconds"
    DOC = "Time to decode and handle a message"

    def __init__(self, registry: CollectorRegistry) -> None:
        self._children: dict[tuple[str, str], DurationHistogram] = {}
        self._lock = threading.Lock()
        registry.register(self)

    def labels(self, stream: str, consumer: str) -> DurationHistogram:
        """The histogram of one consumer, created on first use."""
        with self._lock:
            return self._children.setdefault((stream, consumer), DurationHistogram())

    def describe(self) -> Iterable[Metric]:
        """The metric family's name, so the registry can refuse duplicates."""
        return [HistogramMetricFamily(self.NAME, self.DOC, labels=["stream", "consumer"])]

    def collect(self) -> Iterable[Metric]:
        """The current buckets of every consumer."""
        family = HistogramMetricFamily(self.NAME, self.DOC, labels=["stream", "consumer"])
        with self._lock:
            children = list(self._children.items())
        for (stream, consumer), histogram in children:
            buckets, total = histogram.snapshot()
            family.add_metric([stream, consumer], buckets, total)
        return [family]


@dataclass(frozen=True)
class ConsumerMetricFamilies:
    """The metric families shared by every consumer of one registry."""

    received: Counter
    messages: Counter
    redeliveries: Counter
    dead_letters: Counter
    duration: DurationCollector
    lag: Gauge
    ack_pending: Gauge


@per_registry
def consumer_metric_families(registry: CollectorRegistry = REGISTRY) -> ConsumerMetricFamilies:
    """The consumer metric families of ``registry``, created on first use."""
    labels = ["stream", "consumer"]
    return ConsumerMetricFamilies(
        received=Counter("jetstream_consumer_received", "Messages delivered to the consumer",
                         labels, registry=registry),
        messages=Counter("jetstream_consumer_messages", "Deliveries handled, by outcome",
                         [*labels, "outcome"], registry=registry),
        redeliveries=Counter("jetstream_consumer_redeliveries",
                             "Deliveries of a message after its first", labels, registry=registry),
        dead_letters=Counter("jetstream_consumer_dead_letters",
                             "Messages moved to the dead-letter stream", labels, registry=registry),
        duration=DurationCollector(registry),
        lag=Gauge("jetstream_consumer_lag", "Stream messages not yet delivered to the consumer",
                  labels, registry=registry),
        ack_pending=Gauge("jetstream_consumer_ack_pending",
                          "Messages delivered but not yet acknowledged", labels, registry=registry),
    )


class ConsumerMetrics:
    """The labelled metric children of one consumer."""

    def __init__(self, stream: str, consumer: str, registry: CollectorRegistry = REGISTRY) -> None:
        families = consumer_metric_families(registry)
        self.received = families.received.labels(stream, consumer)
        self.acked = families.messages.labels(stream, consumer, "acked")
        self.nakd = families.messages.labels(stream, consumer, "nakd")
        self.dead_lettered = families.messages.labels(stream, consumer, "dead_lettered")
        self.skipped = families.messages.labels(stream, consumer, "skipped")
        self.discarded = families.messages.labels(stream, consumer, "discarded")
        self.redeliveries = families.redeliveries.labels(stream, consumer)
        self.dead_letters = families.dead_letters.labels(stream, consumer)
        self.duration = families.duration.labels(stream, consumer)
        self.lag = families.lag.labels(stream, consumer)
        self.ack_pending = families.ack_pending.labels(stream, consumer)
