"""Idempotent set-up of everything the system stores data in: SQL schemas and the JetStream stream.

Safe to run twice, and on every start: tables are created only if missing, the position counter
row only if absent, and the ``ORDERS`` stream is created or brought in line (``jetstream``).

The orders database (``--orders-db-url``) belongs to the order service and the workers: its tables
are created by the functions named in ``ORDERS_DB_SCHEMAS`` (``"module:function"``, each called
with an SQLAlchemy engine), imported only when an orders database URL is given. A hook whose module
is not installed reports "skipped" instead of failing.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Callable
from typing import cast

import nats
from sqlalchemy import Engine

from eventstoresvc import jetstream
from eventstoresvc.engine import make_engine
from eventstoresvc.schema import create_schema
from kit.nats.servers import log_connection_error, server_list

log = logging.getLogger(__name__)

READ_MODEL_SCHEMA = "ordersvc.schema:create_schema"
"""The hook creating the orders read-model tables: ``create_schema(engine) -> None``, idempotent."""

ORDERS_DB_SCHEMAS = {
    "read model schema": READ_MODEL_SCHEMA,
    "workers schema": "workers.schema:create_schema",  # saga state and the payment ledger
}
"""Every hook creating tables in the orders database, by the name of its bootstrap step."""


def bootstrap_event_store(db_url: str) -> str:
    """Create the event store's tables in ``db_url`` if missing."""
    engine = make_engine(db_url, pool_size=1)
    try:
        create_schema(engine)
    finally:
        engine.dispose()
    return "ready"


def read_model_schema(target: str = READ_MODEL_SCHEMA) -> Callable[[Engine], None] | None:
    """The read-model schema function, or None while the order service does not provide one."""
    module_name, _, attribute = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):
            return None
        raise
    return cast("Callable[[Engine], None] | None", getattr(module, attribute, None))


def bootstrap_read_model(orders_db_url: str, target: str = READ_MODEL_SCHEMA) -> str:
    """Create the orders read-model tables through the order service's hook."""
    create = read_model_schema(target)
    if create is None:
        log.warning("no read-model schema hook at %s; skipped", target)
        return "skipped"
    engine = make_engine(orders_db_url, pool_size=1)
    try:
        create(engine)
    finally:
        engine.dispose()
    return "ready"


async def _ensure_stream(nats_url: str, replicas: int, timeout: float) -> str:
    client = await nats.connect(server_list(nats_url), error_cb=log_connection_error,
                                connect_timeout=timeout, max_reconnect_attempts=1)
    try:
        return await jetstream.ensure_stream(client.jetstream(timeout=timeout), replicas=replicas)
    finally:
        await client.close()


def bootstrap_stream(nats_url: str, *, replicas: int = 1, timeout: float = 5.0) -> str:
    """Create or update the ``ORDERS`` stream; returns "created", "updated" or "unchanged"."""
    return asyncio.run(_ensure_stream(nats_url, replicas, timeout))


def bootstrap(
    *, db_url: str | None, orders_db_url: str | None, nats_url: str | None, replicas: int = 1
) -> dict[str, str]:
    """Run every step whose target is given; return what each step did."""
    done: dict[str, str] = {}
    if db_url:
        done["event store schema"] = bootstrap_event_store(db_url)
    if orders_db_url:
        for step, hook in ORDERS_DB_SCHEMAS.items():
            done[step] = bootstrap_read_model(orders_db_url, hook)
    if nats_url:
        done[f"stream {jetstream.STREAM_NAME}"] = bootstrap_stream(nats_url, replicas=replicas)
    return done
