"""The projection worker's service over fakes: every delivery order converges, poison is refused."""

from __future__ import annotations

import dataclasses
import itertools
from decimal import Decimal

import pytest
from workers_fakes import World, append, place

from kit.errors import InvalidArgument
from orders import events
from orders.memory import InMemoryEventStore, InMemoryReadModel
from orders.ports import ApplyOutcome, RecordedEvent
from workers.projection import ProjectionService, rebuild


def history(world: World) -> list[RecordedEvent]:
    place(world.store)
    world.payment.handle(world.store.load("o-1")[0])
    world.review.handle(world.store.load("o-1")[-1])
    return world.store.load("o-1")


def test_events_in_order_are_applied_once(world: World) -> None:
    read_model = InMemoryReadModel()
    projection = ProjectionService(read_model, world.store)
    stored = history(world)
    assert [projection.handle(e) for e in stored] == [ApplyOutcome.APPLIED] * 3
    assert [projection.handle(e) for e in stored] == [ApplyOutcome.DUPLICATE] * 3
    order = read_model.get("o-1")
    assert order is not None and (order.status.value, order.payment.value, order.version) == (
        "Approved", "debited", 3)


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_any_delivery_order_converges_to_the_same_state(order: tuple[int, ...]) -> None:
    world = World()
    stored = history(world)
    expected = InMemoryReadModel()
    rebuild(expected, stored)
    read_model = InMemoryReadModel()
    projection = ProjectionService(read_model, world.store)
    for index in order:
        projection.handle(stored[index])
    assert read_model.get("o-1") == expected.get("o-1")


def test_a_gap_is_filled_from_the_event_store(world: World) -> None:
    stored = history(world)
    read_model = InMemoryReadModel()
    assert ProjectionService(read_model, world.store).handle(stored[-1]) is ApplyOutcome.APPLIED
    order = read_model.get("o-1")
    assert order is not None and order.version == 3


def test_unreadable_event_data_is_a_poison_message() -> None:
    store = InMemoryEventStore()
    place(store)
    broken = append(store, events.PaymentDebited("o-1", "cust-1", Decimal("1")), "d-1")
    broken = dataclasses.replace(broken, event_data='{"amount": "lots"}')
    projection = ProjectionService(InMemoryReadModel(), store)
    projection.handle(store.load("o-1")[0])
    with pytest.raises(InvalidArgument) as raised:
        projection.handle(broken)
    assert raised.value.fields[0].field == "event_data"


def test_rebuild_counts_outcomes(world: World) -> None:
    stored = history(world)
    counts = rebuild(InMemoryReadModel(), [*stored, stored[0]])
    assert counts[ApplyOutcome.APPLIED] == 3 and counts[ApplyOutcome.DUPLICATE] == 1
