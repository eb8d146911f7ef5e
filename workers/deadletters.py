"""Dead letters for operators: the ``eventstream_dead_letters`` gauge and their table for the CLI.

Consumers dead-letter a message after ``max_deliver`` failed deliveries, or at once when it cannot
be decoded or fails with a non-retryable error (``kit.nats``). The gauge counts what waits in the
dead-letter stream, by the consumer that gave up, refreshed by every worker process every
``dead_letter_poll`` seconds (``kit.nats`` counts dead-letterings as they happen in
``jetstream_consumer_dead_letters_total``; the gauge also sees replays and deletions).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter as Tally
from collections.abc import Sequence

from prometheus_client import REGISTRY, CollectorRegistry, Gauge

from kit.nats import DeadLetter, dead_letters
from kit.registries import per_registry

log = logging.getLogger(__name__)

@per_registry
def dead_letter_gauge(registry: CollectorRegistry = REGISTRY) -> Gauge:
    """``eventstream_dead_letters{stream,consumer}``, created once per registry."""
    return Gauge("eventstream_dead_letters", "Messages waiting in the dead-letter stream",
                 ["stream", "consumer"], registry=registry)


def count(letters: Sequence[DeadLetter]) -> dict[str, int]:
    """How many dead letters each consumer left."""
    return dict(Tally(letter.consumer or "?" for letter in letters))


class DeadLetterGauge:
    """Refreshes the dead-letter gauge from the stream every ``interval`` seconds until stopped."""

    def __init__(self, nats_url: str, stream: str = "DLQ", interval: float = 30.0, *,
                 registry: CollectorRegistry = REGISTRY) -> None:
        self.name = "dead-letter-gauge"
        self._nats_url = nats_url
        self._stream = stream
        self._interval = interval
        self._gauge = dead_letter_gauge(registry)
        self._seen: set[str] = set()

    def refresh(self) -> dict[str, int]:
        """Count the dead letters now and publish the counts; returns them."""
        counts = count(dead_letters(self._nats_url, self._stream))
        for consumer in self._seen - set(counts):
            self._gauge.labels(self._stream, consumer).set(0)
        for consumer, number in counts.items():
            self._gauge.labels(self._stream, consumer).set(number)
        self._seen |= set(counts)
        return counts

    def run(self, stop: threading.Event) -> None:
        """Refresh at once, then every ``interval`` seconds until ``stop`` is set."""
        while True:
            try:
                self.refresh()
            except Exception as exc:  # NATS down or restarting: the next refresh will do
                log.debug("dead letters cannot be counted now: %r", exc)
            if stop.wait(self._interval):
                return
