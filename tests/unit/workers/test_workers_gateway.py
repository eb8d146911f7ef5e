"""The simulated payment gateway: credit limit, transient failures, idempotency by charge id."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kit.errors import Unavailable
from workers.gateway import Charge, ChargeStatus, InMemoryChargeLedger, SimulatedGateway


def charge(amount: str, charge_id: str = "ch-1") -> Charge:
    return Charge(charge_id, "o-1", "cust-1", Decimal(amount))


def test_the_credit_limit_is_inclusive_and_exact() -> None:
    gateway = SimulatedGateway(InMemoryChargeLedger())
    assert gateway.charge(charge("1000.00", "a")).status is ChargeStatus.DEBITED
    declined = gateway.charge(charge("1000.01", "b"))
    assert declined.status is ChargeStatus.DECLINED and not declined.approved
    assert declined.reason == "amount 1000.01 exceeds the credit limit 1000.00"


def test_a_charge_id_is_charged_once_and_refunded_once() -> None:
    ledger = InMemoryChargeLedger()
    gateway = SimulatedGateway(ledger)
    first = gateway.charge(charge("10.00"))
    assert gateway.charge(charge("10.00")) == first
    assert len(ledger.all()) == 1
    assert gateway.refund("ch-1") is True
    assert gateway.refund("ch-1") is False
    assert gateway.refund("never-charged") is False
    assert gateway.charge(charge("10.00")).status is ChargeStatus.REFUNDED


def test_transient_failures_happen_at_the_configured_rate() -> None:
    rolls = iter([0.05, 0.5])
    gateway = SimulatedGateway(InMemoryChargeLedger(), failure_rate=0.1, chance=lambda: next(rolls))
    with pytest.raises(Unavailable):
        gateway.charge(charge("1.00"))
    assert gateway.charge(charge("1.00")).status is ChargeStatus.DEBITED


def test_a_failure_rate_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(ValueError):
        SimulatedGateway(InMemoryChargeLedger(), failure_rate=1.5)
