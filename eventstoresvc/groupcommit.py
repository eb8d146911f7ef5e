"""Group commit: concurrent requests of a process merged into one database transaction.

Callers of ``submit`` block while a single writer thread takes everything queued so far (up to
``max_batch``), hands the batch to ``commit`` and gives each caller its own outcome. While one batch
commits the next one accumulates, so under load a transaction carries many appends and the
per-transaction costs (the position-counter lock, the fsync of the commit) are shared; with a
single caller it degenerates to one transaction per append with no added wait.

The single writer also serialises this process's writers, which SQLite needs anyway.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

from kit.errors import Unavailable

In = TypeVar("In")
Out = TypeVar("Out")
log = logging.getLogger(__name__)


class GroupCommitter(Generic[In, Out]):
    """A writer thread that commits queued requests in batches.

    ``commit(batch)`` returns one outcome per request, in order: a result, or an exception that is
    raised to that request's caller only. If ``commit`` itself raises, every request of the batch
    gets that exception.
    """

    def __init__(
        self,
        commit: Callable[[Sequence[In]], Sequence[Out | BaseException]],
        *,
        max_batch: int = 500,
        name: str = "group-commit",
    ) -> None:
        self._commit = commit
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[tuple[In, Future[Out]] | None] = queue.SimpleQueue()
        self._closed = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit(self, request: In, timeout: float | None = None) -> Out:
        """Queue ``request``, wait for its batch to commit, and return its result (or raise)."""
        future: Future[Out] = Future()
        with self._lock:
            if self._closed:
                raise Unavailable("the event store is shutting down")
            self._queue.put((request, future))
        return future.result(timeout=timeout)

    def close(self) -> None:
        """Commit what is queued, then stop the writer thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(None)
        self._thread.join()

    def _take_batch(self) -> tuple[list[tuple[In, Future[Out]]], bool]:
        """Block for the first request, then take whatever else is queued; also say if closing."""
        first = self._queue.get()
        if first is None:
            return [], True
        batch = [first]
        closing = False
        while len(batch) < self._max_batch:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                closing = True
                break
            batch.append(item)
        return batch, closing

    def _loop(self) -> None:
        while True:
            batch, closing = self._take_batch()
            if batch:
                self._run(batch)
            if closing:
                return

    def _run(self, batch: list[tuple[In, Future[Out]]]) -> None:
        try:
            outcomes = self._commit([request for request, _ in batch])
        except BaseException as exc:  # the writer thread must survive anything a batch raises
            for _, future in batch:
                future.set_exception(exc)
            return
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
