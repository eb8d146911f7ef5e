"""The order saga's rules: from an order's history, the state it is in and the next step to take.

Pure functions over ``OrderHistory``; the coordinator (``coordinator``) applies the steps. Steps,
each at most once per order (its event id is the deterministic id of the step's name):

- ``refund`` (``ORDERS.paymentrefunded``), the compensation: a debited payment of an order that
  was rejected by the review, cancelled, rejected outright, or timed out;
- ``reject`` (``ORDERS.rejected``): after a failed payment (the reason is the payment's), or after
  a review rejection once the payment was refunded;
- ``cancel`` (``ORDERS.cancelled`` with reason "timeout"): a Pending order past its deadline, once
  a debit was refunded.

So the issue's flows read: payment failed -> rejected; review rejected after a debit -> refunded,
then rejected; stuck past the deadline -> refunded if debited, then cancelled.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from orders.domain import MAX_REASON_LENGTH, OrderStatus, PaymentStatus
from orders.events import DomainEvent, OrderCancelled, OrderRejected, PaymentRefunded, ReviewRejected
from orders.history import OrderHistory

TIMEOUT_REASON = "timeout"


class SagaState(enum.Enum):
    """Where an order's saga stands."""

    AWAITING_PAYMENT = "awaiting-payment"
    AWAITING_REVIEW = "awaiting-review"
    COMPENSATING = "compensating"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        """Whether the saga has nothing left to do."""
        return self in (SagaState.APPROVED, SagaState.REJECTED, SagaState.CANCELLED)


@dataclass(frozen=True)
class Step:
    """A step to take: its name (which makes its event id) and the event to append."""

    name: str
    event: DomainEvent


def _because(what: str, reason: str) -> str:
    return (f"{what}: {reason}" if reason else what)[:MAX_REASON_LENGTH]


def _refund(history: OrderHistory, reason: str) -> Step:
    order = history.order
    return Step("refund", PaymentRefunded(order.order_id, order.customer_id, order.amount, reason))


def next_step(history: OrderHistory, *, timed_out: bool = False) -> Step | None:
    """The next compensating or concluding step of the order's saga, or None if there is none now."""
    order = history.order
    debited = order.payment is PaymentStatus.DEBITED
    if order.status is OrderStatus.APPROVED:
        return None
    if order.status is OrderStatus.REJECTED:
        if debited:
            return _refund(history, _because("order rejected", order.rejection_reason))
        if order.payment is PaymentStatus.FAILED and not history.has(OrderRejected.TYPE):
            return Step("reject", OrderRejected(order.order_id, order.rejection_reason or "payment failed"))
        return None
    if order.status is OrderStatus.CANCELLED:
        return _refund(history, _because("order cancelled", order.cancellation_reason)) if debited else None
    if history.has(ReviewRejected.TYPE):
        if debited:
            return _refund(history, _because("review rejected", order.rejection_reason))
        return Step("reject", OrderRejected(order.order_id, order.rejection_reason))
    if timed_out:
        if debited:
            return _refund(history, TIMEOUT_REASON)
        return Step("cancel", OrderCancelled(order.order_id, TIMEOUT_REASON))
    return None


def state_of(history: OrderHistory, *, timed_out: bool = False) -> SagaState:
    """The saga state the order's history puts it in."""
    if next_step(history, timed_out=timed_out) is not None:
        return SagaState.COMPENSATING
    order = history.order
    if order.status is OrderStatus.APPROVED:
        return SagaState.APPROVED
    if order.status is OrderStatus.REJECTED:
        return SagaState.REJECTED
    if order.status is OrderStatus.CANCELLED:
        return SagaState.CANCELLED
    if order.payment is PaymentStatus.DEBITED:
        return SagaState.AWAITING_REVIEW
    return SagaState.AWAITING_PAYMENT
