"""The saga coordinator's service: drives every order to a final state and compensates failures.

For each order event (and for each order past its deadline, found by ``sweep``) the coordinator
reads the order's history from the event store, takes the saga's next steps (``saga.next_step``)
until there are none, and records the transition (state reached, steps taken) with the id of the
event it handled, in one transaction (``SagaStore.record``); ``handle_batch`` records the
transitions of a batch of events in one transaction (the worker's batch endpoint).

Every step is idempotent: a refund goes through the gateway under the order's charge id (given
back at most once) and is then appended as ``ORDERS.paymentrefunded``; every appended event has
the deterministic id of its step and the order's version as the expected version. A crash at any
point, a redelivery or a second instance therefore repeats steps harmlessly: the store keeps each
step once, and a lost append race (``Conflict``) makes the coordinator re-read and decide again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from kit.errors import Unavailable
from orders.decisions import Decision, decide_or_retry_later, decision_id
from orders.history import OrderHistory, OrderLog
from orders.ports import RecordedEvent
from workers.gateway import PaymentGateway
from workers.payment import charge_id
from workers.saga import SagaState, next_step, state_of
from workers.sagastore import SagaStore, Transition

log = logging.getLogger(__name__)

TIMEOUT_EVENT_TYPE = "saga.timeout"
DEFAULT_TIMEOUT = 300.0
MAX_STEPS = 4  # the longest saga takes two steps (refund, then reject or cancel)


def _now() -> datetime:
    return datetime.now(UTC)


class SagaCoordinator:
    """Takes each order's saga steps and records its state and history."""

    def __init__(self, orders: OrderLog, gateway: PaymentGateway, store: SagaStore, *,
                 timeout: float = DEFAULT_TIMEOUT, clock: Callable[[], datetime] = _now) -> None:
        self._orders = orders
        self._gateway = gateway
        self._store = store
        self.timeout = timedelta(seconds=timeout)
        self._clock = clock

    def handle(self, event: RecordedEvent) -> SagaState:
        """React to an order event: take the order's next steps, record the transition."""
        return self._advance(event.aggregate_id, event.event_id, event.event_type, event)

    def handle_batch(self, batch: Sequence[RecordedEvent]) -> list[SagaState]:
        """``handle`` each event of ``batch`` in its order; their transitions in one transaction."""
        transitions = [self._take_steps(e.aggregate_id, e.event_id, e.event_type, e) for e in batch]
        self._store.record_many(transitions)
        return [t.state for t in transitions]

    def sweep(self, limit: int = 100) -> int:
        """Advance the sagas of orders past their deadline; how many were looked at."""
        due = self._store.due(self._clock() - self.timeout, limit)
        for order_id in due:
            try:
                self._advance(order_id, f"timeout:{order_id}", TIMEOUT_EVENT_TYPE)
            except Unavailable as exc:
                log.warning("saga of order %s could not time out now: %s", order_id, exc.message)
        return len(due)

    def _advance(self, order_id: str, handled_id: str, handled_type: str,
                 event: RecordedEvent | None = None) -> SagaState:
        transition = self._take_steps(order_id, handled_id, handled_type, event)
        self._store.record(transition)
        return transition.state

    def _take_steps(self, order_id: str, handled_id: str, handled_type: str,
                    event: RecordedEvent | None = None) -> Transition:
        # The history known up to the handled event spares a read; a stale one makes the append
        # conflict (or finds the step stored already), and the next attempt re-reads.
        decided = decide_or_retry_later(
            self._orders, order_id, self._step, what="its saga", steps=MAX_STEPS,
            first=None if event is None else (lambda: self._orders.at(event)))
        history = decided.history
        for taken in decided.appended:
            log.info("saga of order %s: %s", order_id, taken.TYPE)
        state = state_of(history, timed_out=self._timed_out(history))
        return Transition(
            order_id=order_id, handled_event_id=handled_id, handled_event_type=handled_type,
            state=state, actions=tuple(taken.TYPE for taken in decided.appended),
            order_version=history.order.version, started_at=history.order.created_on,
            recorded_at=self._clock())

    def _timed_out(self, history: OrderHistory) -> bool:
        return self._clock() >= history.order.created_on + self.timeout

    def _step(self, history: OrderHistory) -> Decision[None]:
        """The saga's next step on ``history``, its refund made; none when the saga is done."""
        step = next_step(history, timed_out=self._timed_out(history))
        if step is None:
            return Decision(None)
        if step.name == "refund":
            self._gateway.refund(charge_id(history.order.order_id))
        return Decision(None, step.event, decision_id(history.order.order_id, step.name), final=False)
