"""Settlement policies: what a handler's outcome becomes, by delivery count."""

from __future__ import annotations

import pytest

from kit.nats import Action, DeadLetterAfter, Message, Settlement, discard_after
from kit.nats.handler import ACKED, RELEASED, SKIPPED, Outcome, Verdict
from kit.nats.settlement import settled_unhandled

POLICY = DeadLetterAfter(max_deliver=3, backoff=(0.5, 2.0))


def delivery(number: int, headers: dict[str, str] | None = None) -> Message:
    return Message("ORDERS.created", b"{}", headers or {}, stream_sequence=7, num_delivered=number)


@pytest.mark.parametrize(("outcome", "settlement"), [
    (ACKED, Settlement(Action.ACK)),
    (SKIPPED, Settlement(Action.ACK)),
    (RELEASED, Settlement(Action.NAK)),
])
def test_success_skip_and_release_are_settled_whatever_the_delivery(outcome: Outcome,
                                                                      settlement: Settlement) -> None:
    assert POLICY.settle(delivery(3), outcome) == settlement


def test_a_retry_backs_off_by_delivery_then_the_error_may_ask_for_longer() -> None:
    retry = Outcome(Verdict.RETRY, "UNAVAILABLE: db down")
    assert POLICY.settle(delivery(1), retry) == Settlement(Action.NAK, 0.5)
    assert POLICY.settle(delivery(2), retry) == Settlement(Action.NAK, 2.0)
    patient = Outcome(Verdict.RETRY, "RESOURCE_EXHAUSTED", retry_after=9.0)
    assert POLICY.settle(delivery(1), patient) == Settlement(Action.NAK, 9.0)


def test_the_last_allowed_retry_is_dead_lettered_with_its_history() -> None:
    settlement = POLICY.settle(delivery(3), Outcome(Verdict.RETRY, "UNAVAILABLE: db down"))
    assert settlement == Settlement(Action.DEAD_LETTER,
                                    reason="failed 3 deliveries, last: UNAVAILABLE: db down")


def test_a_poison_message_is_dead_lettered_at_once() -> None:
    poison = Outcome(Verdict.DEAD_LETTER, "INVALID_ARGUMENT: bad amount")
    assert POLICY.settle(delivery(1), poison) == Settlement(Action.DEAD_LETTER, reason=poison.reason)


def test_discard_after_terminates_where_the_default_dead_letters() -> None:
    policy = discard_after(3, (0.5,))
    assert policy.settle(delivery(1), Outcome(Verdict.RETRY, "x")) == Settlement(Action.NAK, 0.5)
    assert policy.settle(delivery(3), Outcome(Verdict.RETRY, "x")).action is Action.DISCARD
    assert policy.settle(delivery(1), Outcome(Verdict.DEAD_LETTER, "bad")) == Settlement(Action.DISCARD,
                                                                                          reason="bad")


def test_a_replay_for_another_consumer_and_a_crash_looping_message_never_reach_the_handler() -> None:
    assert settled_unhandled(delivery(1, {"kit-replay-for": "review"}), durable="payment",
                             max_deliver=3) is SKIPPED
    assert settled_unhandled(delivery(1, {"kit-replay-for": "payment"}), durable="payment",
                             max_deliver=3) is None
    crashed = settled_unhandled(delivery(4), durable="payment", max_deliver=3)
    assert crashed is not None and crashed.verdict is Verdict.DEAD_LETTER
    assert settled_unhandled(delivery(3), durable="payment", max_deliver=3) is None
