"""The review worker's service: approve a paid order, or turn it down by the review rules.

On ``ORDERS.paymentdebited`` the order is read from the event store; a Pending, debited order that
has not been reviewed yet gets one decision, appended with the deterministic id of its "review"
step at the order's version: ``ORDERS.approved``, or ``ORDERS.reviewrejected`` with the first
rule's reason. A rejection is not final by itself: the saga coordinator refunds the payment
(``ORDERS.paymentrefunded``) and then rejects the order (``ORDERS.rejected``), so a rejected order
never keeps its money. A redelivery or a second instance finds the decision recorded (or loses the
append race, re-reads, and finds it) and does nothing.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence

from orders.aggregate import Order
from orders.decisions import Decision, decide_or_retry_later, decision_id
from orders.domain import OrderStatus, PaymentStatus
from orders.events import DomainEvent, PaymentDebited, ReviewRejected
from orders.history import OrderHistory, OrderLog
from orders.ports import RecordedEvent

STEP = "review"

ReviewRule = Callable[[Order], "str | None"]
"""A review rule: the reason to reject an order, or None to let it pass."""


def closed_restaurants(restaurants: Iterable[str]) -> ReviewRule:
    """The rule rejecting orders of the given restaurants (e.g. closed for the day)."""
    closed = frozenset(r.strip() for r in restaurants if r.strip())

    def rule(order: Order) -> str | None:
        if order.restaurant_id in closed:
            return f"restaurant {order.restaurant_id} is closed"
        return None

    return rule


def parse_restaurants(text: str) -> list[str]:
    """Restaurant ids from comma-separated text (``EVENTSTREAM_REVIEW_CLOSED_RESTAURANTS``)."""
    return [part.strip() for part in text.split(",") if part.strip()]


class ReviewOutcome(enum.Enum):
    """What handling one event did."""

    APPROVED = "approved"
    REJECTED = "rejected"
    NOT_REVIEWABLE = "not-reviewable"
    IGNORED = "ignored"


def review(order: Order, rules: Sequence[ReviewRule]) -> DomainEvent:
    """The review decision for a Pending, debited order: approve, or reject with the first reason."""
    for rule in rules:
        reason = rule(order)
        if reason:
            return ReviewRejected(order.order_id, reason)
    return order.approve()


class ReviewService:
    """Reviews each paid order once."""

    def __init__(self, orders: OrderLog, rules: Sequence[ReviewRule]) -> None:
        self._orders = orders
        self._rules = tuple(rules)

    def handle(self, event: RecordedEvent) -> ReviewOutcome:
        """Review the order ``event`` debited, unless it was reviewed or has moved on."""
        if event.event_type != PaymentDebited.TYPE:
            return ReviewOutcome.IGNORED
        order_id = event.aggregate_id
        return decide_or_retry_later(self._orders, order_id, self._decide, what="the review").result

    def _decide(self, history: OrderHistory) -> Decision[ReviewOutcome]:
        order = history.order
        if (order.status is not OrderStatus.PENDING or order.payment is not PaymentStatus.DEBITED
                or history.has(ReviewRejected.TYPE)):
            return Decision(ReviewOutcome.NOT_REVIEWABLE)
        decided = review(order, self._rules)
        outcome = ReviewOutcome.REJECTED if isinstance(decided, ReviewRejected) else ReviewOutcome.APPROVED
        return Decision(outcome, decided, decision_id(order.order_id, STEP))
