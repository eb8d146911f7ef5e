"""Failures on real servers: a worker killed before its ack, poison messages, a NATS restart."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from workers_harness import System, poison

from kit.nats import dead_letters
from kit.testing.wait import eventually
from orders.domain import OrderStatus
from orders.schema import orders
from workers.cli import dlq
from workers.gateway import ChargeStatus

HERE = Path(__file__).parent


def test_a_payment_worker_killed_after_its_commit_and_before_its_ack_has_one_effect(system: System) -> None:
    for name in ("projection", "review", "saga"):
        system.start_worker(name)
    raw = dataclasses.asdict(system.settings)
    raw["credit_limit"] = str(raw["credit_limit"])
    crashing = subprocess.Popen([sys.executable, str(HERE / "crashing_worker.py"), json.dumps(raw)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        order_id = system.place()
        assert crashing.wait(timeout=30) == -9, crashing.stdout.read() if crashing.stdout else ""
    finally:
        if crashing.poll() is None:
            crashing.kill()
            crashing.wait()
    assert system.types(order_id)[:2] == ["ORDERS.created", "ORDERS.paymentdebited"]

    payment = system.start_worker("payment")  # the unacked message comes back after ack_wait
    final = system.wait_final([order_id])
    eventually(lambda: payment.processed >= 1, timeout=30)
    assert final[order_id].status is OrderStatus.APPROVED
    assert system.types(order_id).count("ORDERS.paymentdebited") == 1
    assert [(c.charge.order_id, c.status) for c in system.charges()] == [(order_id, ChargeStatus.DEBITED)]


def test_a_poison_message_is_dead_lettered_while_other_orders_complete(system: System) -> None:
    system.start_all()
    before = [system.place() for _ in range(2)]
    poison(system)
    after = [system.place() for _ in range(2)]
    system.wait_final([*before, *after])

    def consumers() -> dict[str, int]:
        return {letter.consumer: letter.deliveries for letter in dead_letters(system.nats.url)}

    eventually(lambda: set(consumers()) == {"payment", "projection", "saga"}, timeout=30,
               describe=lambda: str(consumers()))
    # The store has no such order: payment and saga retry it max_deliver times; its data is unreadable,
    # which the projection knows at once.
    assert consumers() == {"payment": 3, "saga": 3, "projection": 1}
    assert system.projected("ghost") is None
    assert all(c.charge.order_id != "ghost" for c in system.charges())

    cli = CliRunner()
    listed = cli.invoke(dlq, ["list", "--nats-url", system.nats.url])
    assert listed.exit_code == 0, listed.output
    assert "3 dead letters in DLQ" in listed.output and "payment" in listed.output
    [payment_letter] = [d for d in dead_letters(system.nats.url) if d.consumer == "payment"]
    replayed = cli.invoke(dlq, ["replay", "--id", str(payment_letter.id), "--nats-url", system.nats.url])
    assert replayed.exit_code == 0 and "replayed 1 dead letter" in replayed.output
    # Only the payment consumer takes the replay; it fails as before and is dead-lettered again.
    eventually(lambda: any(d.consumer == "payment" and d.id != payment_letter.id
                           for d in dead_letters(system.nats.url)), timeout=30)
    assert sorted(d.consumer for d in dead_letters(system.nats.url)) == ["payment", "projection", "saga"]
    refused = cli.invoke(dlq, ["replay", "--nats-url", system.nats.url])
    assert refused.exit_code != 0 and "--id" in refused.output


def test_workers_resume_after_a_nats_restart_and_every_order_completes(system: System) -> None:
    system.start_all()
    first = [system.place() for _ in range(5)]
    system.nats.restart()
    second = [system.place() for _ in range(5)]
    closed = system.place(restaurant="closed-1")
    system.nats.kill()
    system.nats.start()
    third = [system.place() for _ in range(5)]
    final = system.wait_final([*first, *second, *third, closed], timeout=60)
    assert {final[o].status for o in [*first, *second, *third]} == {OrderStatus.APPROVED}
    assert final[closed].status is OrderStatus.REJECTED
    for order_id in final:
        assert len(system.types(order_id)) == len(set(system.types(order_id)))
    assert len(system.charges()) == 16


def test_a_projection_killed_after_its_batch_commit_and_before_its_acks_redoes_nothing_visible(
        system: System) -> None:
    for name in ("payment", "review", "saga"):
        system.start_worker(name)
    order_ids = [system.place() for _ in range(6)]

    def sagas_final() -> bool:
        return all((record := system.sagas.get(o)) is not None and record.state.final for o in order_ids)

    eventually(sagas_final, timeout=30)  # every event of the orders is stored and published
    raw = dataclasses.asdict(system.settings)
    raw["credit_limit"] = str(raw["credit_limit"])
    raw["batch_concurrency"] = 1  # the whole backlog in its first batch
    crashing = subprocess.Popen([sys.executable, str(HERE / "crashing_worker.py"), json.dumps(raw),
                                 "projection"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert crashing.wait(timeout=30) == -9, crashing.stdout.read() if crashing.stdout else ""
    finally:
        if crashing.poll() is None:
            crashing.kill()
            crashing.wait()
    rows_after_crash, _ = system.snapshot()
    version = list(orders.c.keys()).index("version")
    complete = {row[0]: row for row in rows_after_crash
                if row[0] in order_ids and row[version] == len(system.events(row[0]))}
    assert complete, "the killed batch committed no order completely"

    system.start_worker("projection")  # the unacked batch comes back after ack_wait
    system.wait_caught_up(order_ids)
    rows, items = system.snapshot()
    assert {row[0]: row for row in rows if row[0] in complete} == complete  # not applied again
    assert sorted(item[0] for item in items if item[0] in order_ids) == sorted(order_ids)  # one item each
