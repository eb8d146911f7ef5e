"""Several instances per worker, and rebuilding the read model from the event store."""

from __future__ import annotations

from collections import Counter

from click.testing import CliRunner
from workers_harness import System

from kit.testing.wait import eventually
from orders.domain import OrderStatus
from workers.cli import replay, saga
from workers.gateway import ChargeStatus


def mixed_orders(system: System, count: int) -> list[str]:
    """Orders that end approved, declined (every 5th) or rejected by the review (every 7th)."""
    placed = []
    for n in range(count):
        if n % 5 == 4:
            placed.append(system.place(price="99.00", quantity=2))
        elif n % 7 == 6:
            placed.append(system.place(restaurant="closed-1"))
        else:
            placed.append(system.place())
    return placed


def test_two_instances_of_each_worker_share_the_work_without_double_effects(system: System) -> None:
    system.start_all(instances=2)
    placed = mixed_orders(system, 24)
    final = system.wait_final(placed, timeout=60)

    for order_id in placed:
        kinds = system.types(order_id)
        assert len(kinds) == len(set(kinds)), kinds
    statuses = Counter(order.status for order in final.values())
    assert statuses == {OrderStatus.APPROVED: 17, OrderStatus.REJECTED: 7}
    charges = system.charges()
    assert sorted(c.charge.order_id for c in charges) == sorted(placed)  # one charge per order
    assert Counter(c.status for c in charges) == {ChargeStatus.DEBITED: 17, ChargeStatus.DECLINED: 4,
                                                  ChargeStatus.REFUNDED: 3}
    # Every instance pair acknowledged each message once between them (the saga and the projection
    # take every event, payment each creation, review each debit). A handler's effect is visible
    # just before its ack, so the counts may trail the read model for a moment.
    total_events = sum(len(system.events(o)) for o in placed)
    expected = {"payment": 24, "review": 20, "projection": total_events, "saga": total_events}

    def processed() -> dict[str, int]:
        counts: Counter[str] = Counter()
        for running in system.workers:
            counts[running.name] += running.processed
        return dict(counts)

    eventually(lambda: processed() == expected, timeout=10, interval=0.1,
               describe=lambda: f"{processed()} != {expected}")
    # ... and the work was shared.
    assert all(running.processed > 0 for running in system.workers if running.name == "projection")


def test_a_replayed_projection_equals_the_live_read_model(system: System) -> None:
    cancelled = system.place()
    system.orders.cancel_order(cancelled, "changed my mind")  # before any worker could pay it
    system.start_all()
    placed = mixed_orders(system, 12)
    system.wait_final([*placed, cancelled])
    system.wait_caught_up([*placed, cancelled])
    live = system.snapshot()
    assert len(live[0]) == 13

    result = CliRunner().invoke(replay, ["projection", "--eventstore-addr", system.settings.eventstore_addr,
                                         "--orders-db-url", system.orders_db_url, "--page-size", "7"])
    assert result.exit_code == 0, result.output
    assert "applied: " in result.output
    assert system.snapshot() == live


def test_saga_show_prints_the_state_and_history_of_an_order(system: System) -> None:
    system.start_all()
    order_id = system.place(restaurant="closed-1")
    system.wait_final([order_id])
    shown = CliRunner().invoke(saga, ["show", order_id, "--orders-db-url", system.orders_db_url],
                               env={"COLUMNS": "240"})
    assert shown.exit_code == 0, shown.output
    assert f"order {order_id}  state rejected (final)" in shown.output
    for handled in ("ORDERS.created", "ORDERS.paymentdebited", "ORDERS.reviewrejected", "ORDERS.rejected"):
        assert handled in shown.output
    missing = CliRunner().invoke(saga, ["show", "nope", "--orders-db-url", system.orders_db_url])
    assert missing.exit_code == 1 and "no saga recorded for order nope" in missing.output
