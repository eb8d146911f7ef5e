"""The workers' commands: ``worker``, ``replay projection``, ``saga show``, ``dlq list | replay``.

Registered in ``eventstream.cli`` as ``workers.cli:worker``, ``workers.cli:replay``,
``workers.cli:saga`` and ``workers.cli:dlq``. Every flag has an environment twin
(``--nats-url`` -> ``EVENTSTREAM_NATS_URL``), see ``kit.options``.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

import click

from kit.options import auth_checked, auth_options, option, tls_from_env
from workers.settings import DEFAULT_EVENTSTORE_ADDR, DEFAULT_NATS_URL, DEFAULT_ORDERS_DB_URL

if TYPE_CHECKING:
    from kit.auth.settings import AuthSettings

NAMES = ("payment", "projection", "review", "saga")


def _decimal(value: str) -> Decimal:
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise click.BadParameter(f"{value!r} is not a decimal amount") from None
    if not amount.is_finite() or amount < 0:
        raise click.BadParameter("must be a non-negative amount")
    return amount


@click.command("worker")
@click.argument("name", type=click.Choice(NAMES))
@option("--nats-url", default=DEFAULT_NATS_URL, help="NATS server with the ORDERS stream.")
@option("--eventstore-addr", default=DEFAULT_EVENTSTORE_ADDR,
        help="Event store gRPC address (host:port); replicas comma-separated.")
@option("--orders-db-url", default=DEFAULT_ORDERS_DB_URL,
        help="Orders database (read model, saga state, simulated payments), an SQLAlchemy URL.")
@option("--metrics-port", default=0, type=click.IntRange(0, 65535), help="Serve /metrics here; 0: off.")
@option("--concurrency", default=16, type=click.IntRange(1, 1024), help="Messages handled at once.")
@option("--max-batch", default=64, type=click.IntRange(1, 1024),
        help="Projection and saga: events per batch call (one transaction); 1: one at a time.")
@option("--batch-concurrency", default=2, type=click.IntRange(1, 64),
        help="Projection and saga: batch calls at once.")
@option("--zipkin-url", default="", help="Zipkin base URL; empty disables tracing.")
@option("--max-deliver", default=5, type=click.IntRange(1), help="Deliveries before a dead letter.")
@option("--ack-wait", default=30.0, type=click.FloatRange(1.0), help="Seconds before an unacked redelivery.")
@option("--payment-credit-limit", default="1000.00", help="Simulated gateway: decline amounts above this.")
@option("--payment-failure-rate", default=0.0, type=click.FloatRange(0.0, 1.0),
        help="Simulated gateway: share of charges failing transiently.")
@option("--review-closed-restaurants", default="", help="Review: comma-separated restaurant ids to reject.")
@option("--saga-timeout", default=300.0, type=click.FloatRange(0.1),
        help="Saga: seconds before a Pending order is compensated and cancelled.")
@option("--saga-sweep-interval", default=5.0, type=click.FloatRange(0.1),
        help="Saga: seconds between sweeps.")
@auth_options
def worker(name: str, nats_url: str, eventstore_addr: str, orders_db_url: str, metrics_port: int,
           concurrency: int, max_batch: int, batch_concurrency: int, zipkin_url: str,
           max_deliver: int, ack_wait: float, payment_credit_limit: str,
           payment_failure_rate: float, review_closed_restaurants: str, saga_timeout: float,
           saga_sweep_interval: float, auth: AuthSettings) -> None:
    """Run worker NAME (payment, projection, review or saga) until SIGTERM / SIGINT.

    With auth on, it sends its own ``service`` token to the event store.
    """
    from kit import logs
    from workers.review import parse_restaurants
    from workers.runner import run_worker
    from workers.settings import WorkerSettings

    auth_checked(auth, caller=f"{name}-worker")
    _, client_tls = tls_from_env()
    logs.configure()
    settings = WorkerSettings(
        nats_url=nats_url, eventstore_addr=eventstore_addr, orders_db_url=orders_db_url,
        zipkin_url=zipkin_url, concurrency=concurrency, max_batch=max_batch,
        batch_concurrency=batch_concurrency, metrics_port=metrics_port,
        credit_limit=_decimal(payment_credit_limit), failure_rate=payment_failure_rate,
        closed_restaurants=tuple(parse_restaurants(review_closed_restaurants)),
        saga_timeout=saga_timeout, sweep_interval=saga_sweep_interval, max_deliver=max_deliver,
        ack_wait=ack_wait, heartbeat=min(10.0, ack_wait / 3), auth=auth,
        client_tls=client_tls)
    run_worker(name, settings)


@click.group("replay")
def replay() -> None:
    """Rebuild derived state from the event store."""


@replay.command("projection")
@option("--eventstore-addr", default=DEFAULT_EVENTSTORE_ADDR,
        help="Event store gRPC address (host:port); replicas comma-separated.")
@option("--orders-db-url", default=DEFAULT_ORDERS_DB_URL, help="Orders database to rebuild.")
@option("--page-size", default=500, type=click.IntRange(1, 10_000), help="Events read per request.")
@auth_options
def replay_projection(eventstore_addr: str, orders_db_url: str, page_size: int,
                      auth: AuthSettings) -> None:
    """Delete the projected orders and apply every stored event again, in position order."""
    from workers.console import run_replay

    auth_checked(auth, caller="replay")
    _, client_tls = tls_from_env()
    run_replay(eventstore_addr, orders_db_url, page_size, auth=auth, client_tls=client_tls)


@click.group("saga")
def saga() -> None:
    """Inspect the saga coordinator's state."""


@saga.command("show")
@click.argument("order_id")
@option("--orders-db-url", default=DEFAULT_ORDERS_DB_URL, help="Orders database holding the saga state.")
def saga_show(order_id: str, orders_db_url: str) -> None:
    """Print the saga state of ORDER_ID and its history of transitions."""
    from workers.console import show_saga

    if not show_saga(order_id, orders_db_url):
        raise click.ClickException(f"no saga recorded for order {order_id}")


@click.group("dlq")
def dlq() -> None:
    """List and replay dead letters."""


@dlq.command("list")
@option("--nats-url", default=DEFAULT_NATS_URL, help="NATS server.")
@option("--dead-letter-stream", default="DLQ", help="The dead-letter stream.")
def dlq_list(nats_url: str, dead_letter_stream: str) -> None:
    """Print the dead letters waiting, oldest first."""
    from kit.errors import KitError
    from workers.console import list_dead_letters

    try:
        list_dead_letters(nats_url, dead_letter_stream)
    except KitError as exc:
        raise click.ClickException(exc.message) from exc


@dlq.command("replay")
@click.option("--id", "ids", multiple=True, type=click.IntRange(1), help="A dead letter to replay (repeat).")
@click.option("--all", "replay_all", is_flag=True, help="Replay every dead letter.")
@option("--nats-url", default=DEFAULT_NATS_URL, help="NATS server.")
@option("--dead-letter-stream", default="DLQ", help="The dead-letter stream.")
def dlq_replay(ids: tuple[int, ...], replay_all: bool, nats_url: str, dead_letter_stream: str) -> None:
    """Send dead letters back to the consumer that gave up on them (--id ... or --all)."""
    from kit.errors import KitError
    from kit.nats import replay_dead_letters

    if bool(ids) == replay_all:
        raise click.UsageError("give either --id (one or more) or --all")
    try:
        done = replay_dead_letters(nats_url, None if replay_all else ids, stream=dead_letter_stream)
    except KitError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"replayed {done} dead letter{'s' if done != 1 else ''}")
