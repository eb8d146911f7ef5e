"""``eventstream bootstrap``: the set-up steps of every service, composed in one idempotent command.

Each service owns the set-up of what it stores: the event store its tables and the ``ORDERS``
stream (``eventstoresvc.bootstrap``), the order service the read model and its idempotency keys
(``ordersvc.schema``), the workers their saga state and payment ledger (``workers.schema``). This
module lists those steps in order and runs the ones whose target is configured; every step is safe
to run again (tables only if missing, the stream created or brought in line).
"""

from __future__ import annotations

from collections.abc import Callable

import click
from sqlalchemy import Engine

from kit.options import option

DEFAULT_DB_URL = "sqlite:///eventstore.db"
DEFAULT_NATS_URL = "nats://127.0.0.1:4222"


def _orders_db_steps() -> dict[str, Callable[[Engine], None]]:
    """The steps creating tables in the orders database, by name (imported only when needed)."""
    from ordersvc.schema import create_schema as create_orders_schema
    from workers.schema import create_schema as create_workers_schema

    return {"read model schema": create_orders_schema, "workers schema": create_workers_schema}


def _on_orders_db(orders_db_url: str, create: Callable[[Engine], None]) -> str:
    from kit.sql import with_engine

    with_engine(orders_db_url, create)
    return "ready"


def bootstrap(
    *, db_url: str | None, orders_db_url: str | None, nats_url: str | None, replicas: int = 1
) -> dict[str, str]:
    """Run every step whose target is given, in order; return what each step did."""
    from eventstoresvc.bootstrap import bootstrap_event_store, bootstrap_stream
    from eventstoresvc.jetstream import STREAM_NAME

    done: dict[str, str] = {}
    if db_url:
        done["event store schema"] = bootstrap_event_store(db_url)
    if orders_db_url:
        for step, create in _orders_db_steps().items():
            done[step] = _on_orders_db(orders_db_url, create)
    if nats_url:
        done[f"stream {STREAM_NAME}"] = bootstrap_stream(nats_url, replicas=replicas)
    return done


@click.command("bootstrap")
@option("--db-url", default=DEFAULT_DB_URL, help="Event store database (SQLAlchemy URL).")
@option("--orders-db-url", default="", help="Orders read-model database; empty to skip.")
@option("--nats-url", default=DEFAULT_NATS_URL, help="NATS server for the ORDERS stream; empty to skip.")
@option("--stream-replicas", default=1, type=click.IntRange(1, 5), help="Replicas of a new ORDERS stream.")
def bootstrap_command(db_url: str, orders_db_url: str, nats_url: str, stream_replicas: int) -> None:
    """Create the SQL schemas and the JetStream stream ORDERS if missing (safe to run again)."""
    from kit.errors import KitError

    try:
        done = bootstrap(db_url=db_url, orders_db_url=orders_db_url or None, nats_url=nats_url or None,
                         replicas=stream_replicas)
    except (KitError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    for step, outcome in done.items():
        click.echo(f"{step}: {outcome}")
