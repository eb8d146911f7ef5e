"""The review worker's service over fakes: one decision per paid order, by the review rules."""

from __future__ import annotations

from workers_fakes import World, append, place, types

from orders import events
from orders.decisions import decision_id
from workers.review import ReviewOutcome, closed_restaurants, parse_restaurants


def paid(world: World, order_id: str = "o-1", restaurant: str = "rest-1") -> None:
    place(world.store, order_id, restaurant=restaurant)
    world.payment.handle(world.store.load(order_id)[0])


def test_a_paid_order_of_an_open_restaurant_is_approved(world: World) -> None:
    paid(world)
    debited = world.store.load("o-1")[-1]
    assert world.review.handle(debited) is ReviewOutcome.APPROVED
    assert types(world.store)[-1] == "ORDERS.approved"
    assert world.store.load("o-1")[-1].event_id == decision_id("o-1", "review")


def test_a_closed_restaurant_gets_a_review_rejection_not_a_final_rejection(world: World) -> None:
    paid(world, restaurant="closed-1")
    debited = world.store.load("o-1")[-1]
    assert world.review.handle(debited) is ReviewOutcome.REJECTED
    stored = world.store.load("o-1")[-1]
    assert events.decode(stored.event_type, stored.event_data, "o-1") == events.ReviewRejected(
        "o-1", "restaurant closed-1 is closed")
    history = world.orders.load("o-1")
    assert history is not None and history.order.status.value == "Pending"


def test_a_redelivery_does_not_review_twice(world: World) -> None:
    paid(world)
    debited = world.store.load("o-1")[-1]
    world.review.handle(debited)
    assert world.review.handle(debited) is ReviewOutcome.NOT_REVIEWABLE
    assert types(world.store) == ["ORDERS.created", "ORDERS.paymentdebited", "ORDERS.approved"]


def test_an_order_cancelled_after_its_debit_is_not_reviewed(world: World) -> None:
    paid(world)
    debited = world.store.load("o-1")[-1]
    append(world.store, events.OrderCancelled("o-1"), "c-1")
    assert world.review.handle(debited) is ReviewOutcome.NOT_REVIEWABLE
    assert types(world.store)[-1] == "ORDERS.cancelled"


def test_other_events_are_ignored(world: World) -> None:
    created = place(world.store)
    assert world.review.handle(created) is ReviewOutcome.IGNORED


def test_closed_restaurants_come_from_comma_separated_text() -> None:
    assert parse_restaurants(" a, b ,,c ") == ["a", "b", "c"]
    assert parse_restaurants("") == []
    rule = closed_restaurants(["a", " "])
    place_world = World()
    place(place_world.store, "o-a", restaurant="a")
    place(place_world.store, "o-b", restaurant="b")
    order_a = place_world.orders.load("o-a")
    order_b = place_world.orders.load("o-b")
    assert order_a is not None and rule(order_a.order) == "restaurant a is closed"
    assert order_b is not None and rule(order_b.order) is None
