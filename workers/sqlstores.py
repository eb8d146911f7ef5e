"""SQL adapters of the workers' ports, in the orders database: the saga store and the charge ledger.

Both speak SQLAlchemy Core over ``orders.engine`` engines (SQLite, PostgreSQL, CockroachDB).
Writing transactions ask for the write lock up front on SQLite (``WRITE``); uniqueness races
between instances surface as ``IntegrityError`` and are resolved by reading what won. Database
failures are ``Unavailable``, so the message being handled is redelivered later.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Row, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from kit.errors import Unavailable
from kit.sql import autocommit
from orders import money
from orders.engine import as_utc, reads, transaction
from workers.gateway import Charge, ChargeRecord, ChargeStatus
from workers.saga import SagaState
from workers.sagastore import SagaRecord, Transition
from workers.schema import payment_charges, saga_instances, saga_transitions

T = TypeVar("T")


class _Database:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _connect(self, *, write: bool = False) -> AbstractContextManager[Connection]:
        return transaction(self._engine, write=write)

    def _write(self, work: Callable[[Connection], T], attempts: int = 3) -> T:
        """Run ``work`` in a write transaction, again after losing a uniqueness race."""
        for attempt in range(attempts):
            try:
                with self._connect(write=True) as conn:
                    return work(conn)
            except IntegrityError:
                if attempt == attempts - 1:
                    raise Unavailable("concurrent writers kept colliding") from None
        raise AssertionError("unreachable")


def _transition(row: Row[Any], started_at: datetime) -> Transition:
    return Transition(order_id=row.order_id, handled_event_id=row.handled_event_id,
                      handled_event_type=row.handled_event_type, state=SagaState(row.state),
                      actions=tuple(a for a in row.actions.split(",") if a),
                      order_version=row.order_version, started_at=started_at,
                      recorded_at=as_utc(row.recorded_at))


class SqlSagaStore(_Database):
    """``SagaStore`` in ``saga_instances`` and ``saga_transitions``."""

    def record(self, transition: Transition) -> bool:
        """Record ``transition`` and move the saga's state forward, in one transaction."""
        return self._write(lambda conn: self._record(conn, transition))

    def record_many(self, transitions: Sequence[Transition]) -> list[bool]:
        """Record ``transitions`` in their order, in one transaction."""
        return self._write(lambda conn: [self._record(conn, t) for t in transitions])

    @staticmethod
    def _record(conn: Connection, t: Transition) -> bool:
        known = conn.execute(select(saga_transitions.c.id).where(
            saga_transitions.c.order_id == t.order_id,
            saga_transitions.c.handled_event_id == t.handled_event_id)).first()
        if known is None:
            conn.execute(insert(saga_transitions).values(
                order_id=t.order_id, handled_event_id=t.handled_event_id,
                handled_event_type=t.handled_event_type, state=t.state.value,
                actions=",".join(t.actions), order_version=t.order_version, recorded_at=t.recorded_at))
        current = conn.execute(select(saga_instances.c.order_version).where(
            saga_instances.c.order_id == t.order_id)).first()
        if current is None:
            conn.execute(insert(saga_instances).values(
                order_id=t.order_id, state=t.state.value, order_version=t.order_version,
                started_at=t.started_at, updated_at=t.recorded_at))
        elif t.order_version >= current.order_version:
            conn.execute(update(saga_instances).where(
                saga_instances.c.order_id == t.order_id,
                saga_instances.c.order_version <= t.order_version,
            ).values(state=t.state.value, order_version=t.order_version, updated_at=t.recorded_at))
        return known is None

    def get(self, order_id: str) -> SagaRecord | None:
        """The saga of ``order_id`` with its history."""
        with self._connect() as conn:
            row = conn.execute(select(saga_instances).where(saga_instances.c.order_id == order_id)).first()
            if row is None:
                return None
            rows = conn.execute(select(saga_transitions).where(saga_transitions.c.order_id == order_id)
                                .order_by(saga_transitions.c.id)).all()
        started = as_utc(row.started_at)
        return SagaRecord(order_id=row.order_id, state=SagaState(row.state), order_version=row.order_version,
                          started_at=started, updated_at=as_utc(row.updated_at),
                          history=tuple(_transition(r, started) for r in rows))

    def due(self, started_before: datetime, limit: int = 100) -> list[str]:
        """Non-final sagas started before ``started_before``, oldest first."""
        waiting = [s.value for s in SagaState if not s.final]
        with self._connect() as conn:
            rows = conn.execute(select(saga_instances.c.order_id).where(
                saga_instances.c.state.in_(waiting), saga_instances.c.started_at < started_before,
            ).order_by(saga_instances.c.started_at).limit(limit)).all()
        return [r.order_id for r in rows]


def _charge(row: Row[Any]) -> ChargeRecord:
    charge = Charge(row.charge_id, row.order_id, row.customer_id, money.from_cents(row.amount_cents))
    return ChargeRecord(charge, ChargeStatus(row.status), row.reason)


_CHARGE = select(payment_charges).where(payment_charges.c.charge_id == bindparam("charge_id"))
_RECORD_CHARGE = insert(payment_charges)


class SqlChargeLedger(_Database):
    """``ChargeLedger`` in ``payment_charges``: every process of the system shares the charges."""

    def record(self, record: ChargeRecord) -> ChargeRecord:
        """Store ``record`` unless its charge id is known; return what is stored."""
        charge = record.charge
        try:
            with autocommit(self._engine, write=True) as conn:  # one INSERT: atomic alone
                conn.execute(_RECORD_CHARGE, {
                    "charge_id": charge.charge_id, "order_id": charge.order_id,
                    "customer_id": charge.customer_id, "amount_cents": money.to_cents(charge.amount),
                    "status": record.status.value, "reason": record.reason[:500]})
            return record
        except IntegrityError:
            pass  # recorded before (a retry) or by another instance: what is stored wins
        except SQLAlchemyError as exc:
            raise Unavailable("the orders database is unavailable") from exc
        known = self.get(charge.charge_id)
        if known is None:
            raise Unavailable(f"charge {charge.charge_id} vanished while being recorded")
        return known

    def refund(self, charge_id: str) -> bool:
        """Mark a debited charge refunded (a compare-and-set: once)."""
        with self._connect(write=True) as conn:
            changed = conn.execute(update(payment_charges).where(
                payment_charges.c.charge_id == charge_id,
                payment_charges.c.status == ChargeStatus.DEBITED.value,
            ).values(status=ChargeStatus.REFUNDED.value))
            return changed.rowcount == 1

    def get(self, charge_id: str) -> ChargeRecord | None:
        """The charge recorded under ``charge_id``."""
        with reads(self._engine) as conn:
            row = conn.execute(_CHARGE, {"charge_id": charge_id}).first()
        return None if row is None else _charge(row)

    def all(self) -> list[ChargeRecord]:
        """Every recorded charge (tests and operators)."""
        with self._connect() as conn:
            return [_charge(r) for r in conn.execute(select(payment_charges)).all()]
