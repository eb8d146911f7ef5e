"""One lifecycle for every process of a kit service: start, serve until a signal, drain, stop.

A process is a set of parts. A part is either ``Runnable`` (a blocking ``run(stop)`` that returns
once ``stop`` is set and its work is drained, like ``kit.nats.JetStreamConsumer`` or a background
loop) or a server with ``start`` and ``stop`` (a gRPC or HTTP server, the event store with its
relay), which ``Served`` turns into a ``Runnable``. ``run_until_signal`` is what a process's main
function calls: it installs the signal handlers (so it must be called from the main thread), runs
every part in its own thread, and on the first SIGTERM / SIGINT sets their shared stop event; each
part drains and returns. The previous handlers are restored afterwards. If a part fails (a server
cannot bind its port, a consumer crashes), the others are stopped too and the error is raised.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any, Protocol

_LOG = logging.getLogger("kit.lifecycle")


class Runnable(Protocol):
    """Anything with a blocking ``run(stop)``, like ``JetStreamConsumer``."""

    name: str

    def run(self, stop: threading.Event) -> None:
        """Run until ``stop`` is set, then drain and return."""


class Served:
    """A server with ``start`` / ``stop`` as a ``Runnable``: started, served until stop, stopped."""

    def __init__(self, name: str, start: Callable[[], object], stop: Callable[[], object]) -> None:
        self.name = name
        self._start = start
        self._stop = stop

    def run(self, stop: threading.Event) -> None:
        """Start, wait for ``stop``, then stop (also when ``stop`` came during the start)."""
        self._start()
        try:
            stop.wait()
        finally:
            _LOG.info("%s stopping", self.name)
            self._stop()


def run_until_signal(parts: Sequence[Runnable], *,
                     signals: Sequence[signal.Signals] = (signal.SIGTERM, signal.SIGINT),
                     stop: threading.Event | None = None) -> None:
    """Run ``parts`` until one of ``signals`` arrives (or ``stop`` is set), then drain them."""
    stop = stop or threading.Event()
    failures: list[BaseException] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        del frame
        _LOG.info("received %s; draining %d parts", signal.Signals(signum).name, len(parts))
        stop.set()

    def run(part: Runnable) -> None:
        try:
            part.run(stop)
        except BaseException as exc:
            _LOG.exception("%s failed", part.name)
            failures.append(exc)
            stop.set()

    previous: dict[signal.Signals, Any] = {sig: signal.signal(sig, on_signal) for sig in signals}
    try:
        threads = [threading.Thread(target=run, args=(part,), name=f"run-{part.name}") for part in parts]
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
