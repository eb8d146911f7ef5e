"""The SSE wire format and the broadcaster's guarantees, without a server."""

from __future__ import annotations

import pytest

from kit.http import Broadcaster, ServerSentEvent
from kit.http.sse import SubscriberSlots


def test_an_event_is_encoded_with_its_fields_and_one_data_line_per_line() -> None:
    event = ServerSentEvent("one\ntwo\r\nthree", id="42", event="order")
    assert event.encode() == b"event: order\nid: 42\ndata: one\ndata: two\ndata: three\n\n"
    assert ServerSentEvent("{}").encode() == b"data: {}\n\n"


@pytest.mark.parametrize("bad", ["4\n2", "x\r", "a\x00"])
def test_an_id_or_name_that_would_break_the_framing_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        ServerSentEvent("x", id=bad).encode()
    with pytest.raises(ValueError):
        ServerSentEvent("x", event=bad).encode()


def test_every_subscriber_gets_every_item_in_publish_order() -> None:
    hub: Broadcaster[int] = Broadcaster()
    a, b = hub.subscribe(), hub.subscribe()
    for n in range(5):
        hub.publish(n)
    hub.close()
    assert list(a.items(0.01)) == list(range(5)) == list(b.items(0.01))


def test_a_full_subscriber_is_cut_off_with_a_prefix_and_the_others_get_everything() -> None:
    hub: Broadcaster[int] = Broadcaster(queue_size=3)
    slow, fast = hub.subscribe(), hub.subscribe()
    fast_seen = []
    for n in range(10):
        hub.publish(n)  # never waits, though ``slow`` reads nothing
        fast_seen += [item for item in [next(fast.items(0.01))] if item is not None]
    assert slow.overflowed and hub.dropped == 1 and hub.subscribers == 1
    assert list(slow.items(0.01)) == [0, 1, 2]  # what it had, then the end: no gap to resume after
    assert fast_seen == list(range(10))


def test_an_idle_subscription_yields_none_and_closing_ends_it() -> None:
    hub: Broadcaster[int] = Broadcaster()
    subscription = hub.subscribe()
    items = subscription.items(0.01)
    assert next(items) is None
    subscription.close()
    assert list(items) == [] and hub.subscribers == 0


def test_slots_are_bounded_and_given_back() -> None:
    slots = SubscriberSlots(2)
    assert slots.acquire() and slots.acquire() and not slots.acquire()
    slots.release()
    assert slots.active == 1 and slots.acquire()
