"""The payment worker's service: charge a new order once and record the outcome in its history.

On ``ORDERS.created`` the service reads the order from the event store and, if it is Pending and
unpaid, charges it through the ``PaymentGateway`` under the charge id of its decision (so a retry
charges once) and appends ``ORDERS.paymentdebited`` or ``ORDERS.paymentfailed`` (with the
gateway's reason) with that same deterministic id at the order's version.

Redelivery and races:

- the decision is already recorded (a redelivery, or another instance was faster): nothing to do;
- the order is no longer Pending when read (the customer cancelled it first): any charge of an
  earlier attempt is voided through ``refund`` and nothing is recorded, so no money stays taken
  for an order that shows none;
- the append loses a race (``Conflict``: the order was cancelled between the read and the append):
  the order is read again and the same rules apply, which voids the charge just made.

A transient gateway failure (``Unavailable``) leaves the message to be redelivered with backoff.
"""

from __future__ import annotations

import enum
import logging

from orders.decisions import Decision, decide_or_retry_later, decision_id
from orders.domain import OrderStatus, PaymentStatus
from orders.events import OrderCreated
from orders.history import OrderHistory, OrderLog
from orders.ports import RecordedEvent
from workers.gateway import Charge, PaymentGateway

log = logging.getLogger(__name__)

STEP = "payment"


class PaymentOutcome(enum.Enum):
    """What handling one event did."""

    DEBITED = "debited"
    FAILED = "failed"
    ALREADY_DECIDED = "already-decided"
    NOT_PENDING = "not-pending"
    IGNORED = "ignored"


def charge_id(order_id: str) -> str:
    """The gateway charge id of an order's payment: the id of the payment decision's event."""
    return decision_id(order_id, STEP)


class PaymentService:
    """Charges orders and records the outcome, at most once per order."""

    def __init__(self, orders: OrderLog, gateway: PaymentGateway) -> None:
        self._orders = orders
        self._gateway = gateway

    def handle(self, event: RecordedEvent) -> PaymentOutcome:
        """Charge the order ``event`` created, unless that was decided already."""
        if event.event_type != OrderCreated.TYPE:
            return PaymentOutcome.IGNORED
        order_id = event.aggregate_id
        return decide_or_retry_later(self._orders, order_id, self._decide, what="the payment").result

    def _decide(self, history: OrderHistory) -> Decision[PaymentOutcome]:
        order = history.order
        order_id = order.order_id
        if order.payment is not PaymentStatus.NONE:
            return Decision(PaymentOutcome.ALREADY_DECIDED)
        if order.status is not OrderStatus.PENDING:
            if self._gateway.refund(charge_id(order_id)):
                log.info("voided the charge of order %s, which is %s", order_id, order.status.value)
            return Decision(PaymentOutcome.NOT_PENDING)
        record = self._gateway.charge(Charge(charge_id(order_id), order_id, order.customer_id,
                                             order.amount))
        if record.approved:
            return Decision(PaymentOutcome.DEBITED, order.debit_payment(), charge_id(order_id))
        return Decision(PaymentOutcome.FAILED, order.fail_payment(record.reason), charge_id(order_id))
