"""The order service's own port: the idempotency keys of create requests.

The order domain's ports (event store, read model) are in ``orders.ports``; the SQL adapter of this
one is ``idempotency``, its in-process fake ``memory``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class Reservation:
    """What an idempotency key is bound to: the request's fingerprint and the order it creates."""

    key: str
    fingerprint: str
    order_id: str
    event_id: str
    created_on: datetime


class IdempotencyStore(Protocol):
    """Binds idempotency keys to the first request that used them."""

    def reserve(self, proposal: Reservation) -> Reservation:
        """Store ``proposal`` unless its key is taken; return what the key is bound to."""
        ...
