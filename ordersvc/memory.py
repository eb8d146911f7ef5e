"""In-process adapter of the order service's idempotency-key port, for tests and benchmarks.

It keeps the contract of ``idempotency.SqlIdempotencyStore`` (the first reservation of a key wins)
without IO; the fakes of the order domain's ports are in ``orders.memory``.
"""

from __future__ import annotations

import threading

from ordersvc.ports import Reservation


class InMemoryIdempotencyStore:
    """``IdempotencyStore`` in a dict: the first reservation of a key wins."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[str, Reservation] = {}

    def reserve(self, proposal: Reservation) -> Reservation:
        """Bind the key to ``proposal`` unless it is bound; return the binding."""
        with self._lock:
            return self._keys.setdefault(proposal.key, proposal)
