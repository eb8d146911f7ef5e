"""The saga coordinator's storage port: per-order saga state and its history of transitions.

A transition is recorded with the id of the event (or timeout) that caused it, unique per order,
so a redelivered event is recorded once; the order's saga state only moves forward (it is kept
with the order version it was computed from). ``InMemorySagaStore`` is the in-process adapter for
tests; ``sqlstores.SqlSagaStore`` the real one.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from workers.saga import SagaState


@dataclass(frozen=True)
class Transition:
    """The saga of ``order_id`` handled an event (or its timeout) and reached ``state``.

    ``actions`` are the event types of the steps this handling took. Steps are idempotent, so when
    two events of one order are handled at once both may list a step the store kept once.
    """

    order_id: str
    handled_event_id: str
    handled_event_type: str
    state: SagaState
    actions: tuple[str, ...]
    order_version: int
    started_at: datetime
    recorded_at: datetime


@dataclass(frozen=True)
class SagaRecord:
    """An order's saga: its current state and every recorded transition, oldest first."""

    order_id: str
    state: SagaState
    order_version: int
    started_at: datetime
    updated_at: datetime
    history: tuple[Transition, ...]


class SagaStore(Protocol):
    """Keeps saga state and history."""

    def record(self, transition: Transition) -> bool:
        """Record ``transition`` and move the saga's state forward; False if its event was recorded."""
        ...

    def record_many(self, transitions: Sequence[Transition]) -> list[bool]:
        """``record`` each of ``transitions`` in their order, all in one transaction."""
        ...

    def get(self, order_id: str) -> SagaRecord | None:
        """The saga of ``order_id``, or None if none was recorded."""
        ...

    def due(self, started_before: datetime, limit: int = 100) -> list[str]:
        """Orders whose saga is not final and which started before ``started_before``, oldest first."""
        ...


class InMemorySagaStore:
    """``SagaStore`` in dicts."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sagas: dict[str, SagaRecord] = {}

    def record(self, transition: Transition) -> bool:
        """Record ``transition`` once per handled event id."""
        with self._lock:
            return self._record(transition)

    def _record(self, transition: Transition) -> bool:
        found = self._sagas.get(transition.order_id)
        if found is None:
            found = SagaRecord(transition.order_id, transition.state, transition.order_version,
                               transition.started_at, transition.recorded_at, ())
        fresh = all(t.handled_event_id != transition.handled_event_id for t in found.history)
        history = (*found.history, transition) if fresh else found.history
        if transition.order_version >= found.order_version:
            found = replace(found, state=transition.state, order_version=transition.order_version,
                            updated_at=transition.recorded_at)
        self._sagas[transition.order_id] = replace(found, history=history)
        return fresh

    def record_many(self, transitions: Sequence[Transition]) -> list[bool]:
        """``record`` each transition, under one hold of the lock."""
        with self._lock:
            return [self._record(t) for t in transitions]

    def get(self, order_id: str) -> SagaRecord | None:
        """The saga of ``order_id``."""
        with self._lock:
            return self._sagas.get(order_id)

    def due(self, started_before: datetime, limit: int = 100) -> list[str]:
        """Non-final sagas started before ``started_before``."""
        with self._lock:
            waiting = sorted((s for s in self._sagas.values()
                              if not s.state.final and s.started_at < started_before),
                             key=lambda s: s.started_at)
        return [s.order_id for s in waiting[:limit]]
