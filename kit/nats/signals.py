"""Run consumers in the foreground until SIGTERM or SIGINT, then drain them gracefully.

``run_until_signal`` is what a worker process's main function calls: it installs the signal
handlers (so it must be called from the main thread), runs every consumer in its own thread, and
on the first signal sets their shared stop event; each consumer stops fetching, finishes its
running handlers, sends their acks and returns. The previous handlers are restored afterwards.
If a consumer fails, the others are stopped too and the error is raised.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Sequence
from types import FrameType
from typing import Any, Protocol


class Runnable(Protocol):
    """Anything with a blocking ``run(stop)``, like ``JetStreamConsumer``."""

    name: str

    def run(self, stop: threading.Event) -> None:
        """Run until ``stop`` is set."""


_LOG = logging.getLogger("kit.nats")


def run_until_signal(consumers: Sequence[Runnable], *,
                     signals: Sequence[signal.Signals] = (signal.SIGTERM, signal.SIGINT),
                     stop: threading.Event | None = None) -> None:
    """Run ``consumers`` until one of ``signals`` arrives (or ``stop`` is set), then drain them."""
    stop = stop or threading.Event()
    failures: list[BaseException] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        del frame
        _LOG.info("received %s; draining %d consumers", signal.Signals(signum).name, len(consumers))
        stop.set()

    def run(consumer: Runnable) -> None:
        try:
            consumer.run(stop)
        except BaseException as exc:
            _LOG.exception("consumer %s failed", consumer.name)
            failures.append(exc)
            stop.set()

    previous: dict[signal.Signals, Any] = {sig: signal.signal(sig, on_signal) for sig in signals}
    try:
        threads = [threading.Thread(target=run, args=(consumer,), name=f"run-{consumer.name}")
                   for consumer in consumers]
        for thread in threads:
            thread.start()
        # Waiting in short slices keeps the main thread responsive to signals.
        while not stop.wait(0.2):
            pass
        for thread in threads:
            thread.join()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if failures:
        raise failures[0]
