"""The relay lease on every SQL backend: one holder at a time, expiry, fencing of the checkpoint."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from eventstoresvc.domain import ExpectedVersion
from eventstoresvc.lease import LeaseLost, RelayLease
from eventstoresvc.sqlstore import SqlEventRepository
from eventstoresvc.testing import order_event
from kit.testing.wait import eventually

pytestmark = pytest.mark.integration

TTL = 1.5  # long enough that a loaded machine does not expire a lease between two statements


def test_one_holder_at_a_time_and_a_new_token_for_each_new_holder(engine: Engine) -> None:
    first, second = RelayLease(engine, "a", TTL), RelayLease(engine, "b", TTL)
    fence = first.acquire()
    assert fence is not None and fence.holds()
    assert second.acquire() is None  # unexpired and not b's
    assert first.renew(fence)
    assert first.current() == ("a", fence.token, True)
    taken = eventually(second.acquire, timeout=10)  # a stopped renewing: its lease expires
    assert taken.token == fence.token + 1
    assert not first.renew(fence)
    assert not fence.holds()  # a renewal that fails ends the holder's right to publish at once
    assert first.acquire() is None


def test_a_released_lease_is_taken_at_once(engine: Engine) -> None:
    first, second = RelayLease(engine, "a", 60.0), RelayLease(engine, "b", 60.0)
    fence = first.acquire()
    assert fence is not None
    assert second.acquire() is None
    first.release(fence)
    assert not fence.holds()
    assert second.acquire() is not None  # no minute-long wait


def test_the_checkpoint_moves_only_for_the_current_holder(
        engine: Engine, sql_repository: SqlEventRepository) -> None:
    for i in range(4):
        sql_repository.append(order_event(f"o{i}"), ExpectedVersion.any())
    first, second = RelayLease(engine, "a", TTL), RelayLease(engine, "b", TTL)
    old = first.acquire()
    assert old is not None
    sql_repository.mark_published([1], guard=old.clause())
    assert sql_repository.published_through() == 1
    new = eventually(second.acquire, timeout=10)
    with pytest.raises(LeaseLost):  # a paused leader waking up after the hand-over
        sql_repository.mark_published([2, 3], guard=old.clause())
    assert sql_repository.published_through() == 1
    sql_repository.mark_published([2, 3], guard=new.clause())
    assert sql_repository.published_through() == 3


def test_an_expired_lease_fences_even_when_nobody_took_over(
        engine: Engine, sql_repository: SqlEventRepository) -> None:
    sql_repository.append(order_event("o1"), ExpectedVersion.any())
    lease = RelayLease(engine, "a", TTL)
    fence = lease.acquire()
    assert fence is not None
    eventually(lambda: not lease.current()[2], timeout=10)
    with pytest.raises(LeaseLost):
        sql_repository.mark_published([1], guard=fence.clause())
    assert sql_repository.published_through() == 0


def test_the_local_deadline_runs_out_before_the_database_lease(engine: Engine) -> None:
    lease = RelayLease(engine, "a", 3.0)  # a margin of 0.6 s: far more than one poll
    fence = lease.acquire()
    assert fence is not None
    eventually(lambda: not fence.holds(), timeout=10)
    assert lease.current()[2]  # the database still says a's: nobody else can have started yet
