"""Group commit: concurrent requests of a process merged into one database transaction.

Callers of ``submit`` block while a single writer thread takes everything queued so far (up to
``max_batch``), hands the batch to ``commit`` and gives each caller its own outcome. While one batch
commits the next one accumulates, so under load a transaction carries many appends and the
per-transaction costs (the position-counter lock, the fsync of the commit) are shared; with a
single caller it degenerates to one transaction per append with no added wait.

The single writer also serialises this process's writers, which SQLite needs anyway.

``max_batch`` bounds a transaction by ``weight`` (1 per request by default; the event store weighs
a request by its number of events): a request that would take a batch over it waits for the next
one, and a request heavier than ``max_batch`` on its own is a batch of its own.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar, cast

from kit.errors import Unavailable

In = TypeVar("In")
Out = TypeVar("Out")
log = logging.getLogger(__name__)


class _Outcome(Generic[Out]):
    """One request's outcome, handed from the writer thread to its caller.

    A pre-acquired lock released by the writer is the cheapest wake-up between two threads;
    ``concurrent.futures.Future`` builds a condition, a lock and a waiter list per request.
    """

    __slots__ = ("_error", "_ready", "_value")

    def __init__(self) -> None:
        self._ready = threading.Lock()
        self._ready.acquire()
        self._value: Out | None = None
        self._error: BaseException | None = None

    def set(self, value: Out | None, error: BaseException | None) -> None:
        self._value, self._error = value, error
        self._ready.release()

    def wait(self, timeout: float | None) -> Out:
        if not self._ready.acquire(timeout=-1 if timeout is None else max(0.0, timeout)):
            raise TimeoutError("the batch did not commit in time")
        if self._error is not None:
            raise self._error
        return cast("Out", self._value)


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
        weight: Callable[[In], int] | None = None,
    ) -> None:
        self._commit = commit
        self._max_batch = max_batch
        self._weight = weight
        # A request taken from the queue that did not fit in the last batch; writer thread only.
        self._carry: tuple[In, _Outcome[Out]] | None = None
        self._queue: queue.SimpleQueue[tuple[In, _Outcome[Out]] | None] = queue.SimpleQueue()
        self._closed = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit(self, request: In, timeout: float | None = None) -> Out:
        """Queue ``request``, wait for its batch to commit, and return its result (or raise)."""
        future: _Outcome[Out] = _Outcome()
        with self._lock:
            if self._closed:
                raise Unavailable("the event store is shutting down")
            self._queue.put((request, future))
        return future.wait(timeout)

    def close(self) -> None:
        """Commit what is queued, then stop the writer thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(None)
        self._thread.join()

    def _take_batch(self) -> tuple[list[tuple[In, _Outcome[Out]]], bool]:
        """Block for the first request, then take whatever else is queued; also say if closing."""
        first = self._carry if self._carry is not None else self._queue.get()
        self._carry = None
        if first is None:
            return [], True
        batch = [first]
        return batch, self._drain(batch)

    def _drain(self, batch: list[tuple[In, _Outcome[Out]]]) -> bool:
        """Move queued requests into ``batch`` (up to ``max_batch``); True if the close marker came."""
        weight = self._weight
        size = len(batch) if weight is None else sum(weight(request) for request, _ in batch)
        while size < self._max_batch:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return False
            if item is None:
                return True
            more = 1 if weight is None else weight(item[0])
            if size + more > self._max_batch:
                self._carry = item
                return False
            batch.append(item)
            size += more
        return False

    def _loop(self) -> None:
        while True:
            batch, closing = self._take_batch()
            if batch:
                self._run(batch)
            if closing:
                return

    def _run(self, batch: list[tuple[In, _Outcome[Out]]]) -> None:
        try:
            outcomes = self._commit([request for request, _ in batch])
        except BaseException as exc:  # the writer thread must survive anything a batch raises
            for _, future in batch:
                future.set(None, exc)
            return
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                future.set(None, outcome)
            else:
                future.set(outcome, None)
