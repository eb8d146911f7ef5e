"""Idempotent set-up of what the event store keeps: its SQL schema and the JetStream stream.

Safe to run twice, and on every start: tables are created only if missing, the position counter
row only if absent, and the ``ORDERS`` stream is created or brought in line (``jetstream``). The
other services' set-up steps are theirs; ``eventstream bootstrap`` composes them all.
"""

from __future__ import annotations

import asyncio

from eventstoresvc import jetstream
from eventstoresvc.schema import create_schema
from kit.nats.security import NatsSecurity
from kit.nats.streams import connection
from kit.sql import with_engine


def bootstrap_event_store(db_url: str) -> str:
    """Create the event store's tables in ``db_url`` if missing."""
    with_engine(db_url, create_schema)
    return "ready"


async def _ensure_stream(nats_url: str, replicas: int, timeout: float,
                         security: NatsSecurity | None) -> str:
    async with connection(nats_url, name="eventstream-bootstrap", timeout=timeout,
                          security=security) as client:
        return await jetstream.ensure_stream(client.jetstream(timeout=timeout), replicas=replicas)


def bootstrap_stream(nats_url: str, *, replicas: int = 1, timeout: float = 5.0,
                     security: NatsSecurity | None = None) -> str:
    """Create or update the ``ORDERS`` stream; returns "created", "updated" or "unchanged".

    ``security``: the connection's credentials (default: from the environment)."""
    return asyncio.run(_ensure_stream(nats_url, replicas, timeout, security))

