"""The one way an order changes: load its history, decide, append at its version, retry on conflict.

A decider is a function of an order's history that returns a ``Decision``: its result and, if the
order is to change, the event to append and its id. ``decide`` runs it on the history read from
the event store and appends the event at the version the decision was based on (the expected
version), so a decision taken on a stale history cannot be stored: the append fails with
``Conflict`` (someone else changed the order in between), and the history is read again and the
decider asked again, ``attempts`` times in all. Errors the decider raises (``FailedPrecondition``
for a transition the order does not allow, say) pass through at once: they are answers.

Workers append with a deterministic event id (``decision_id``: one id per order and step, e.g.
"payment" or "refund"). So a redelivered message finds its decision already taken, two instances
racing on one order cannot both decide (one append wins, the other gets ``Conflict`` and re-reads),
and a retried append of the same decision is recognised by the store and kept once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from kit.errors import Conflict, Unavailable
from orders.events import DomainEvent
from orders.history import OrderHistory, OrderLog

NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://eventstream.local/workers")
ATTEMPTS = 5
"""How often a decider re-reads an order after losing an append race before giving up (a worker
then lets its message be redelivered)."""

R = TypeVar("R")


def decision_id(order_id: str, step: str) -> str:
    """The deterministic event id of ``step`` ("payment", "review", "refund", ...) of an order."""
    return str(uuid.uuid5(NAMESPACE, f"{order_id}/{step}"))


@dataclass(frozen=True)
class Decision(Generic[R]):
    """What a decider made of a history: its result, and the event (with its id) to append, if any.

    ``final`` False asks for another decision on the history after the append, within the same
    attempt (a saga takes several steps); a decision without an event always ends the attempt.
    """

    result: R
    event: DomainEvent | None = None
    event_id: str = ""
    final: bool = True


@dataclass(frozen=True)
class Decided(Generic[R]):
    """The outcome of ``decide``: the last decision's result, the history after it, what it stored."""

    result: R
    history: OrderHistory
    appended: tuple[DomainEvent, ...]


Decider = Callable[[OrderHistory], Decision[R]]


def decide(orders: OrderLog, order_id: str, decider: Decider[R], *,
           missing: Callable[[], Exception], exhausted: Callable[[], Exception] | None = None,
           attempts: int = ATTEMPTS, steps: int = 1,
           first: Callable[[], OrderHistory | None] | None = None) -> Decided[R]:
    """Run ``decider`` on the order's history and append what it decides; re-read on ``Conflict``.

    ``missing`` is raised when the store has no events of the order; ``exhausted`` after
    ``attempts`` lost races (None: the last ``Conflict`` itself). ``steps`` bounds the decisions of
    one attempt. ``first`` gives the history of the first attempt in place of a read (``OrderLog.at``);
    every later attempt reads the store.
    """
    if attempts < 1 or steps < 1:
        raise ValueError("attempts and steps must be at least 1")
    for attempt in range(attempts):
        history = first() if attempt == 0 and first is not None else orders.load(order_id)
        if history is None:
            raise missing()
        try:
            return _take(orders, history, decider, steps)
        except Conflict:
            if attempt + 1 < attempts:
                continue
            if exhausted is None:
                raise
            raise exhausted() from None
    raise AssertionError("unreachable")


def decide_or_retry_later(orders: OrderLog, order_id: str, decider: Decider[R], *, what: str,
                          steps: int = 1, first: Callable[[], OrderHistory | None] | None = None,
                          ) -> Decided[R]:
    """``decide`` for a consumer: a missing order or too many lost races are ``Unavailable``.

    The message is then redelivered with backoff: events are published after they are committed,
    so a store behind its messages catches up, and an order that kept changing settles. ``what``
    names the decision in the message ("the payment", "its saga").
    """
    return decide(
        orders, order_id, decider, steps=steps, first=first,
        missing=lambda: Unavailable(f"order {order_id} is not in the event store (yet)"),
        exhausted=lambda: Unavailable(f"order {order_id} kept changing; {what} will be retried"))


def _take(orders: OrderLog, history: OrderHistory, decider: Decider[R], steps: int) -> Decided[R]:
    appended: list[DomainEvent] = []
    decision = decider(history)
    for step in range(1, steps + 1):
        if decision.event is None:
            break
        history = orders.append(history, decision.event, decision.event_id)
        appended.append(decision.event)
        if decision.final or step == steps:
            break
        decision = decider(history)
    return Decided(decision.result, history, tuple(appended))
