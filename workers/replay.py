"""``eventstream replay projection``: rebuild the orders read model from the event store.

The read model forgets its orders (``ReadModel.reset``: the idempotency keys stay, they belong to
the API, not to the projection) and every stored event of the ``ORDERS`` stream is applied again
in global position order, read in pages with ``GetEvents(from_position, limit)``. ``apply`` is the
live projection's own, so the rebuilt read model equals what the projection worker maintains. Stop
the projection workers (and the order service) while replaying: an event applied live between the
reset and the replay of its order's earlier events would be refused as a gap and then skipped by
the live consumer's catch-up, which is harmless, but an API read in between sees missing orders.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from eventstoresvc.client import EventStoreClient
from eventstoresvc.domain import EventQuery
from orders.events import STREAM
from orders.ports import ApplyOutcome, ReadModel, RecordedEvent
from workers.projection import rebuild

PAGE = 500


def stored_events(client: EventStoreClient, *, page: int = PAGE,
                  stream: str = STREAM) -> Iterator[RecordedEvent]:
    """Every stored event of ``stream``, in global position order, ``page`` at a time."""
    position = 0
    while True:
        batch = client.get_events(EventQuery(from_position=position, limit=page))
        if not batch:
            return
        yield from (event for event in batch if event.stream == stream)
        position = batch[-1].position + 1


def replay_projection(client: EventStoreClient, read_model: ReadModel, *,
                      reset: bool = True, page: int = PAGE,
                      progress: Callable[[RecordedEvent, ApplyOutcome], None] | None = None,
                      ) -> dict[ApplyOutcome, int]:
    """Rebuild the read model from the event store; how many events had each outcome."""
    if reset:
        read_model.reset()
    return rebuild(read_model, stored_events(client, page=page), progress)
