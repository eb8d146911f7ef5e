"""Test helpers that ship with the event store: ready-made valid events."""

from __future__ import annotations

import json
import uuid
from typing import Any

from eventstoresvc.domain import Event, Metadata


def order_event(
    aggregate_id: str = "order-1",
    name: str = "created",
    data: dict[str, Any] | None = None,
    *,
    event_id: str | None = None,
    metadata: Metadata | None = None,
) -> Event:
    """A valid ``ORDERS.<name>`` event for ``aggregate_id`` (a fresh UUID id unless given)."""
    return Event(
        event_id=event_id or str(uuid.uuid4()),
        event_type=f"ORDERS.{name}",
        aggregate_id=aggregate_id,
        aggregate_type="order",
        event_data=json.dumps(data if data is not None else {"order_id": aggregate_id}),
        stream="ORDERS",
        metadata=metadata or Metadata(),
    )
