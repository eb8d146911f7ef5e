"""The payment gateway port and the simulated gateway the system ships with.

A gateway charges an amount under a caller-chosen charge id and is idempotent by that id: charging
the same id again returns the first outcome without taking money twice, and refunding an id gives
back a debit at most once (refunding an id that was never debited is a no-op). The payment worker
charges with the id of its decision (``orders.decisions.decision_id(order, "payment")``), so a redelivered
``ORDERS.created`` cannot charge twice; the saga refunds with the same id.

``SimulatedGateway`` declines amounts above a credit limit and can fail transiently at a given rate
(``Unavailable``: the message is redelivered and the charge retried). It keeps its charges in a
``ChargeLedger``: in memory, or in SQL (``ledger.SqlChargeLedger``) so that every process of the
system (payment workers, saga coordinators) sees the same charges, and tests can check that no
debit is left standing.
"""

from __future__ import annotations

import enum
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Protocol

from kit.errors import Unavailable

DEFAULT_CREDIT_LIMIT = Decimal("1000.00")


class ChargeStatus(enum.Enum):
    """Where a charge stands."""

    DEBITED = "debited"
    DECLINED = "declined"
    REFUNDED = "refunded"


@dataclass(frozen=True)
class Charge:
    """A request to take ``amount`` from a customer, identified by ``charge_id``."""

    charge_id: str
    order_id: str
    customer_id: str
    amount: Decimal


@dataclass(frozen=True)
class ChargeRecord:
    """A charge as the gateway recorded it; ``reason`` says why one was declined."""

    charge: Charge
    status: ChargeStatus
    reason: str = ""

    @property
    def approved(self) -> bool:
        """Whether the money was taken (possibly given back later)."""
        return self.status is not ChargeStatus.DECLINED


class PaymentGateway(Protocol):
    """Takes and gives back money, idempotently by charge id."""

    def charge(self, charge: Charge) -> ChargeRecord:
        """Charge once per id; a repeated id returns the recorded outcome. ``Unavailable`` if down."""
        ...

    def refund(self, charge_id: str) -> bool:
        """Give back the debit of ``charge_id`` once; False if there is no debit to give back."""
        ...


class ChargeLedger(Protocol):
    """Where a gateway keeps its charges: first record of an id wins."""

    def record(self, record: ChargeRecord) -> ChargeRecord:
        """Store ``record`` unless its charge id is known; return what is stored for the id."""
        ...

    def refund(self, charge_id: str) -> bool:
        """Mark a debited charge refunded; False if it is not debited (unknown, declined, refunded)."""
        ...

    def get(self, charge_id: str) -> ChargeRecord | None:
        """The charge recorded under ``charge_id``, or None."""
        ...


class InMemoryChargeLedger:
    """``ChargeLedger`` in a dict (one process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._charges: dict[str, ChargeRecord] = {}

    def record(self, record: ChargeRecord) -> ChargeRecord:
        """Store ``record`` unless its id is known; return the stored one."""
        with self._lock:
            return self._charges.setdefault(record.charge.charge_id, record)

    def refund(self, charge_id: str) -> bool:
        """Mark a debited charge refunded."""
        with self._lock:
            found = self._charges.get(charge_id)
            if found is None or found.status is not ChargeStatus.DEBITED:
                return False
            self._charges[charge_id] = replace(found, status=ChargeStatus.REFUNDED)
            return True

    def get(self, charge_id: str) -> ChargeRecord | None:
        """The charge recorded under ``charge_id``."""
        with self._lock:
            return self._charges.get(charge_id)

    def all(self) -> list[ChargeRecord]:
        """Every recorded charge."""
        with self._lock:
            return list(self._charges.values())


class SimulatedGateway:
    """A ``PaymentGateway`` that declines above ``credit_limit`` and fails at ``failure_rate``."""

    def __init__(self, ledger: ChargeLedger, *, credit_limit: Decimal = DEFAULT_CREDIT_LIMIT,
                 failure_rate: float = 0.0, chance: Callable[[], float] = random.random) -> None:
        if not 0.0 <= failure_rate <= 1.0:
            raise ValueError("failure_rate must be between 0.0 and 1.0")
        self._ledger = ledger
        self.credit_limit = credit_limit
        self.failure_rate = failure_rate
        self._chance = chance

    def _maybe_fail(self) -> None:
        if self.failure_rate and self._chance() < self.failure_rate:
            raise Unavailable("the payment gateway did not answer (simulated)", retry_after=0.5)

    def charge(self, charge: Charge) -> ChargeRecord:
        """Debit ``charge.amount`` unless it exceeds the credit limit; once per charge id."""
        self._maybe_fail()
        known = self._ledger.get(charge.charge_id)
        if known is not None:
            return known
        if charge.amount > self.credit_limit:
            record = ChargeRecord(charge, ChargeStatus.DECLINED,
                                  f"amount {charge.amount} exceeds the credit limit {self.credit_limit}")
        else:
            record = ChargeRecord(charge, ChargeStatus.DEBITED)
        return self._ledger.record(record)

    def refund(self, charge_id: str) -> bool:
        """Give back the debit of ``charge_id``, once."""
        self._maybe_fail()
        return self._ledger.refund(charge_id)
