"""The order service's composition root: builds the onion inside out, once, at start-up.

orders database engine -> read model, idempotency keys; gRPC channel -> event store client;
-> service -> endpoints -> middleware (logging outermost, then metrics) -> HTTP app and gRPC
servicer; the live board (its own event-store client and feed) joins the HTTP app. Nothing is
built at import time; ``close`` releases what was built.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from dependency_injector import containers, providers

from eventstoresvc.client import EventStoreClient, event_store_channel
from kit.auth import settings as auth_settings
from kit.auth.settings import AuthSettings
from kit.grpc.tls import ClientTLS
from kit.tracing import Tracer
from kit.zipkin.config import tracer_from_env
from orders.engine import make_engine
from orders.eventstore import GRPCEventStore
from orders.readmodel import SqlReadModel
from ordersvc.board import Board
from ordersvc.endpoints import Endpoints, instrumented, make_endpoints
from ordersvc.grpc import OrderServiceServicer
from ordersvc.health import Readiness, database_probe, grpc_health_probe
from ordersvc.http import build_app
from ordersvc.idempotency import SqlIdempotencyStore
from ordersvc.ownership import owned
from ordersvc.service import EventSourcedOrderService, OrderService

DEFAULT_EVENTSTORE_ADDR = "127.0.0.1:50051"
DEFAULT_ORDERS_DB_URL = "sqlite:///.eventstream/orders.db"
EVENTSTORE_SERVICE = "eventstore.EventStore"


@dataclass(frozen=True)
class Settings:
    """What the service needs to be told; every field has an ``EVENTSTREAM_`` environment twin."""

    eventstore_addr: str = DEFAULT_EVENTSTORE_ADDR
    orders_db_url: str = DEFAULT_ORDERS_DB_URL
    zipkin_url: str | None = None
    nats_url: str | None = None
    port: int = 3000
    eventstore_timeout: float = 5.0
    auth: AuthSettings = field(default_factory=AuthSettings)
    client_tls: ClientTLS | None = None
    """TLS to the event store (``kit.grpc.tls``); None: plaintext."""

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Settings from ``EVENTSTREAM_EVENTSTORE_ADDR``, ``EVENTSTREAM_ORDERS_DB_URL``,
        ``EVENTSTREAM_ZIPKIN_URL``, ``EVENTSTREAM_NATS_URL`` (the board's JetStream figures) and
        ``EVENTSTREAM_PORT`` and the ``EVENTSTREAM_AUTH_*`` options (defaults where unset)."""
        env = dict(os.environ if environ is None else environ)
        return cls(
            eventstore_addr=env.get("EVENTSTREAM_EVENTSTORE_ADDR") or DEFAULT_EVENTSTORE_ADDR,
            orders_db_url=env.get("EVENTSTREAM_ORDERS_DB_URL") or DEFAULT_ORDERS_DB_URL,
            zipkin_url=env.get("EVENTSTREAM_ZIPKIN_URL") or None,
            nats_url=env.get("EVENTSTREAM_NATS_URL") or None,
            port=int(env.get("EVENTSTREAM_PORT") or 3000),
            auth=auth_settings.from_env(env),
            client_tls=ClientTLS.from_env(env),
        )


def instrumented_endpoints(service: OrderService, auth: AuthSettings) -> Endpoints:
    """The service's endpoints wrapped in logging and metrics; with auth on, each caller sees only
    its own orders inside those (``ownership``), so refusals are logged and counted too."""
    endpoints = make_endpoints(service)
    return instrumented(owned(endpoints, service) if auth.enabled else endpoints)


def make_readiness(channel: object, engine: object) -> Readiness:
    """Readiness: the event store answers SERVING and the orders database answers a query."""
    return Readiness({
        "eventstore": grpc_health_probe(channel, EVENTSTORE_SERVICE),  # type: ignore[arg-type]
        "orders_db": database_probe(engine),  # type: ignore[arg-type]
    })


class Container(containers.DeclarativeContainer):
    """Everything the ``ordersvc`` process runs, wired from ``config`` (see ``Settings``)."""

    config = providers.Configuration()
    auth: providers.Provider[AuthSettings] = providers.Object(AuthSettings())
    client_tls: providers.Provider[ClientTLS | None] = providers.Object(None)
    authenticator = providers.Singleton(lambda auth: auth.authenticator(), auth)  # one token cache

    # No ping per checkout: after the database dropped its connections one request answers 503
    # (Retry-After) while SQLAlchemy replaces them, and a read falls back to the event store.
    engine = providers.Singleton(make_engine, config.orders_db_url, pre_ping=False)
    channel = providers.Singleton(event_store_channel, config.eventstore_addr,
                                  providers.Callable(lambda auth: auth.service_token("ordersvc"), auth),
                                  client_tls)
    tracer: providers.Provider[Tracer] = providers.Singleton(
        tracer_from_env, "ordersvc", config.zipkin_url, port=config.port)
    event_store = providers.Singleton(GRPCEventStore, channel, timeout=config.eventstore_timeout,
                                      tracer=tracer)
    read_model = providers.Singleton(SqlReadModel, engine)
    idempotency = providers.Singleton(SqlIdempotencyStore, engine)
    service = providers.Singleton(EventSourcedOrderService, event_store, read_model, idempotency)
    endpoints = providers.Singleton(instrumented_endpoints, service, auth)
    readiness = providers.Singleton(make_readiness, channel, engine)
    # The board's long-lived stream is not traced: one span would last as long as the process.
    board = providers.Singleton(Board, providers.Singleton(EventStoreClient, channel), engine,
                                zipkin_url=config.zipkin_url, nats_url=config.nats_url)
    app = providers.Singleton(build_app, endpoints, readiness=readiness.provided.check, tracer=tracer,
                              board=board, auth=authenticator)
    servicer = providers.Singleton(OrderServiceServicer, endpoints, tracer=tracer, auth=authenticator)


def build(settings: Settings) -> Container:
    """A container configured from ``settings``."""
    container = Container()
    container.auth.override(providers.Object(settings.auth))
    container.client_tls.override(providers.Object(settings.client_tls))
    container.config.from_dict({
        "eventstore_addr": settings.eventstore_addr, "orders_db_url": settings.orders_db_url,
        "zipkin_url": settings.zipkin_url or "", "nats_url": settings.nats_url or "",
        "port": settings.port,
        "eventstore_timeout": settings.eventstore_timeout,
    })
    return container


def close(container: Container) -> None:
    """Release the channel, the database pool and the span reporter."""
    # Providers build lazily; building a channel or an engine here costs no connection.
    container.board().close()
    container.channel().close()
    container.engine().dispose()
    reporter = getattr(container.tracer(), "reporter", None)
    if reporter is not None:
        reporter.close()
