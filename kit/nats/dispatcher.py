"""Hands fetched messages to worker threads and collects their outcomes for the event loop.

A ``Dispatcher`` owns ``workers`` threads, each taking chunks of work from one queue. Every message
runs through the synchronous handler in a copy of the loop's contextvars; its ``(key, outcome)``
lands in ``completed``, and the loop is woken once per burst of completions, not once per message.

Why not ``run_in_executor`` per message: a hand-off to a thread costs tens of microseconds (a
future, a wake-up, the GIL changing hands), more than nats-py spends receiving and acking the
message. Messages are handed over in chunks sized from a moving average of the handler time, so a
chunk holds about ``CHUNK_TARGET`` seconds of work: microsecond handlers share one hand-off per
chunk, while handlers slower than ``CHUNK_TARGET`` get one message each and run ``workers`` at a
time. Once ``stopping()`` is true, messages not yet started come back ``RELEASED``.

With a ``batch`` handler (``kit.nats.batch``) a chunk is one call: what was fetched together is
spread over the workers in chunks of up to ``max_batch`` messages, each handed to the batch
handler at once, so a quiet consumer handles a message as soon as it arrives and a busy one pays
its per-call costs once per chunk.
"""

from __future__ import annotations

import collections
import contextvars
import queue
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from kit.nats.handler import RELEASED, Outcome
from kit.nats.message import Message

CHUNK_TARGET = 0.002  # seconds of handler time per hand-off to a worker thread

Work = tuple[int, Message, contextvars.Context]


class Dispatcher:
    """Runs ``handler`` on worker threads; outcomes in ``completed``, ``wake`` called per burst."""

    def __init__(self, handler: Callable[[Message], Outcome], *, workers: int, name: str,
                 stopping: Callable[[], bool],
                 batch: Callable[[Sequence[Message]], list[Outcome]] | None = None,
                 max_batch: int = 1) -> None:
        self._handler = handler
        self._batch = batch
        self._max_batch = max_batch
        self._workers = workers
        self._stopping = stopping
        self._queue: queue.SimpleQueue[list[Work] | None] = queue.SimpleQueue()
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix=f"jetstream-{name}")
        self.completed: collections.deque[tuple[int, Outcome]] = collections.deque()
        self.wake: Callable[[], object] = lambda: None
        self.wake_pending = False  # cleared by the loop before it drains ``completed``
        self._handler_time = CHUNK_TARGET  # seconds per message, a moving average; slow until measured

    def start(self) -> None:
        """Start the worker threads."""
        for _ in range(self._workers):
            self._executor.submit(self._work_loop)

    def shutdown(self) -> None:
        """Let the workers finish what they hold and stop them."""
        for _ in range(self._workers):
            self._queue.put(None)
        self._executor.shutdown(wait=True)

    def submit(self, runnable: Sequence[Work]) -> None:
        """Queue messages for the workers, in chunks sized by the handlers' speed (or as batches)."""
        if self._batch is not None:
            size = max(1, min(self._max_batch, -(-len(runnable) // self._workers)))
        else:
            size = max(1, min(len(runnable), int(CHUNK_TARGET / max(self._handler_time, 1e-6))))
        for start in range(0, len(runnable), size):
            self._queue.put(list(runnable[start:start + size]))

    def _work_loop(self) -> None:
        """A worker thread: handle queued chunks of messages until the ``None`` sentinel."""
        work, done, handler, stopping = self._queue, self.completed, self._handler, self._stopping
        while (chunk := work.get()) is not None:
            if self._batch is not None:
                self._run_batch(self._batch, chunk)
                continue
            started = time.perf_counter()
            for index, (key, message, context) in enumerate(chunk):
                try:
                    outcome = RELEASED if stopping() else context.run(handler, message)
                except BaseException:
                    done.extend((k, RELEASED) for k, _, _ in chunk[index:])
                    self.wake()
                    raise
                done.append((key, outcome))
            per_message = (time.perf_counter() - started) / len(chunk)
            self._handler_time += (per_message - self._handler_time) * 0.2  # a racy average is fine
            self._wake_once()

    def _run_batch(self, batch: Callable[[Sequence[Message]], list[Outcome]], chunk: list[Work]) -> None:
        keys = [key for key, _, _ in chunk]
        try:
            outcomes = ([RELEASED] * len(chunk) if self._stopping()
                        else chunk[0][2].run(batch, [message for _, message, _ in chunk]))
        except BaseException:
            self.completed.extend((key, RELEASED) for key in keys)
            self.wake()
            raise
        self.completed.extend(zip(keys, outcomes, strict=True))
        self._wake_once()

    def _wake_once(self) -> None:
        # One wake-up per burst of completions, not one per message: appending before reading
        # the flag, and the loop clearing the flag before draining, loses no outcome.
        if not self.wake_pending:
            self.wake_pending = True
            self.wake()
