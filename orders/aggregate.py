"""The Order aggregate: its state is a fold of its events; its decisions are new events.

``rebuild(history)`` replays an order's events in version order; ``Order.apply`` is the one place
where an event changes the state, and it accepts every event type the system emits (``events``).
Decisions check the state and return the event to append, or raise ``FailedPrecondition`` when the
order is not in a state that allows them; appending that event with the order's ``version`` as the
expected version makes the decision safe against concurrent changes.

Life cycle::

    created -> Pending --paymentdebited--> Pending (paid) --approved--> Approved
                  |  \\--paymentfailed--> Rejected             \\--rejected--> Rejected
                  \\--cancelled--> Cancelled          (a debited payment is then refunded)

``ORDERS.reviewrejected`` keeps a paid order Pending and records the reason: the saga coordinator
then refunds the payment (``ORDERS.paymentrefunded``) and rejects the order (``ORDERS.rejected``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from kit.errors import FailedPrecondition
from orders import money
from orders.domain import OrderItem, OrderStatus, PaymentStatus, check_new_order, check_reason
from orders.events import (
    DomainEvent,
    OrderApproved,
    OrderCancelled,
    OrderCreated,
    OrderRejected,
    PaymentDebited,
    PaymentFailed,
    PaymentRefunded,
    ReviewRejected,
)


class InvalidHistory(ValueError):
    """A stored history that cannot describe an order (e.g. events before the creation)."""


@dataclass(frozen=True)
class Order:
    """An order as its events so far describe it; ``version`` counts the events applied."""

    order_id: str
    customer_id: str
    restaurant_id: str
    created_on: datetime
    amount: Decimal
    items: tuple[OrderItem, ...]
    status: OrderStatus = OrderStatus.PENDING
    payment: PaymentStatus = PaymentStatus.NONE
    rejection_reason: str = ""
    cancellation_reason: str = ""
    version: int = 1

    @classmethod
    def created(cls, event: OrderCreated) -> Order:
        """The state right after ``ORDERS.created``."""
        return cls(order_id=event.order_id, customer_id=event.customer_id,
                   restaurant_id=event.restaurant_id, created_on=event.created_on,
                   amount=event.amount, items=event.items)

    def apply(self, event: DomainEvent | None) -> Order:
        """The state after ``event`` (None: an event type this version does not know, counted only)."""
        state = replace(self, version=self.version + 1)
        if event is None:
            return state
        if isinstance(event, OrderCreated):
            raise InvalidHistory(f"order {self.order_id} is created twice")
        if isinstance(event, OrderCancelled):
            return replace(state, status=OrderStatus.CANCELLED, cancellation_reason=event.reason)
        if isinstance(event, PaymentDebited):
            return replace(state, payment=PaymentStatus.DEBITED)
        if isinstance(event, PaymentFailed):
            status = OrderStatus.REJECTED if self.status is OrderStatus.PENDING else self.status
            return replace(state, payment=PaymentStatus.FAILED, status=status,
                           rejection_reason=event.reason or "payment failed")
        if isinstance(event, PaymentRefunded):
            return replace(state, payment=PaymentStatus.REFUNDED)
        if isinstance(event, OrderApproved):
            return replace(state, status=OrderStatus.APPROVED)
        if isinstance(event, ReviewRejected):
            return replace(state, rejection_reason=event.reason)
        return replace(state, status=OrderStatus.REJECTED, rejection_reason=event.reason)

    # Decisions. Each returns the event to append at expected version ``self.version``.

    def cancel(self, reason: str = "") -> OrderCancelled:
        """Cancel a Pending order; any other state is final for the customer."""
        check_reason(reason)
        self._require_pending("cancelled")
        return OrderCancelled(self.order_id, reason)

    def debit_payment(self) -> PaymentDebited:
        """Record the payment of a Pending order that has not been paid yet."""
        self._require_pending("paid")
        if self.payment is not PaymentStatus.NONE:
            raise FailedPrecondition(f"order {self.order_id} payment is already {self.payment.value}")
        return PaymentDebited(self.order_id, self.customer_id, self.amount)

    def fail_payment(self, reason: str) -> PaymentFailed:
        """Record that the payment of a Pending, unpaid order failed (which rejects it)."""
        check_reason(reason)
        self._require_pending("charged")
        if self.payment is not PaymentStatus.NONE:
            raise FailedPrecondition(f"order {self.order_id} payment is already {self.payment.value}")
        return PaymentFailed(self.order_id, self.customer_id, self.amount, reason)

    def refund_payment(self, reason: str = "") -> PaymentRefunded:
        """Give back a debited payment once the order was cancelled or rejected."""
        check_reason(reason)
        if self.payment is not PaymentStatus.DEBITED:
            raise FailedPrecondition(f"order {self.order_id} has no debited payment to refund")
        if self.status not in (OrderStatus.CANCELLED, OrderStatus.REJECTED):
            raise FailedPrecondition(f"order {self.order_id} is {self.status.value}; it keeps its payment")
        return PaymentRefunded(self.order_id, self.customer_id, self.amount, reason)

    def approve(self) -> OrderApproved:
        """Approve a Pending order whose payment was debited."""
        self._require_pending("approved")
        if self.payment is not PaymentStatus.DEBITED:
            raise FailedPrecondition(f"order {self.order_id} cannot be approved before it is paid")
        return OrderApproved(self.order_id)

    def reject(self, reason: str) -> OrderRejected:
        """Reject a Pending order."""
        check_reason(reason)
        self._require_pending("rejected")
        return OrderRejected(self.order_id, reason)

    def _require_pending(self, verb: str) -> None:
        if self.status is not OrderStatus.PENDING:
            raise FailedPrecondition(
                f"order {self.order_id} is {self.status.value} and cannot be {verb}")


def create(order_id: str, customer_id: str, restaurant_id: str, items: Sequence[OrderItem],
           created_on: datetime) -> OrderCreated:
    """Decide to create an order: check it, compute its exact amount, return ``ORDERS.created``."""
    check_new_order(customer_id, restaurant_id, items)
    normalised = tuple(replace(item, unit_price=money.quantize(item.unit_price)) for item in items)
    amount = money.total((item.unit_price, item.quantity) for item in normalised)
    return OrderCreated(order_id=order_id, customer_id=customer_id, restaurant_id=restaurant_id,
                        created_on=created_on, amount=amount, items=normalised)


def rebuild(history: Iterable[DomainEvent | None]) -> Order | None:
    """The order an event history describes, oldest event first; None for an empty history."""
    order: Order | None = None
    for event in history:
        if order is None:
            if not isinstance(event, OrderCreated):
                raise InvalidHistory("an order's first event must be ORDERS.created")
            order = Order.created(event)
        else:
            order = order.apply(event)
    return order
