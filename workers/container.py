"""The workers' composition root: builds each worker's onion inside out, once, at start-up.

orders database engine -> read model, saga store, charge ledger -> simulated gateway; gRPC channel
-> event store client -> order log; -> the four services -> their endpoints (logging outermost,
then metrics). Only what a worker uses is built (providers are lazy); nothing runs at import time.
``close`` releases what was built.
"""

from __future__ import annotations

from dependency_injector import containers, providers

from eventstoresvc.client import EventStoreClient, event_store_channel
from kit.tracing import Tracer
from kit.zipkin.config import tracer_from_env
from orders.engine import make_engine
from orders.eventstore import ClientEventStore
from orders.history import OrderLog
from orders.readmodel import SqlReadModel
from workers.coordinator import SagaCoordinator
from workers.endpoints import instrumented, make_endpoint
from workers.gateway import SimulatedGateway
from workers.payment import PaymentService
from workers.projection import ProjectionService
from workers.review import ReviewService, closed_restaurants
from workers.settings import WorkerSettings
from workers.sqlstores import SqlChargeLedger, SqlSagaStore


class Container(containers.DeclarativeContainer):
    """Everything a worker process may run, wired from ``config`` (the fields of ``WorkerSettings``)."""

    config = providers.Configuration()

    # No ping per checkout: a failure on a connection the server dropped is redelivered and retried.
    engine = providers.Singleton(make_engine, config.orders_db_url, pre_ping=False)
    channel = providers.Singleton(event_store_channel, config.eventstore_addr, config.service_token,
                                  config.client_tls)
    tracer: providers.Provider[Tracer] = providers.Singleton(
        tracer_from_env, config.service_name, config.zipkin_url, port=config.metrics_port)
    eventstore_client = providers.Singleton(EventStoreClient, channel, timeout=config.eventstore_timeout,
                                            tracer=tracer)
    event_store = providers.Singleton(ClientEventStore, eventstore_client)
    orders = providers.Singleton(OrderLog, event_store)
    ledger = providers.Singleton(SqlChargeLedger, engine)
    gateway = providers.Singleton(SimulatedGateway, ledger, credit_limit=config.credit_limit,
                                  failure_rate=config.failure_rate)
    read_model = providers.Singleton(SqlReadModel, engine)
    saga_store = providers.Singleton(SqlSagaStore, engine)

    payment = providers.Singleton(PaymentService, orders, gateway)
    projection = providers.Singleton(ProjectionService, read_model, event_store)
    review = providers.Singleton(ReviewService, orders,
                                 providers.List(providers.Factory(closed_restaurants,
                                                                  config.closed_restaurants)))
    coordinator = providers.Singleton(SagaCoordinator, orders, gateway, saga_store,
                                      timeout=config.saga_timeout)

    payment_endpoint = providers.Singleton(
        instrumented, "payment", providers.Factory(make_endpoint, payment.provided.handle))
    projection_endpoint = providers.Singleton(
        instrumented, "projection", providers.Factory(make_endpoint, projection.provided.handle))
    projection_batch_endpoint = providers.Singleton(
        instrumented, "projection", providers.Factory(make_endpoint, projection.provided.handle_batch),
        "handle_batch")
    review_endpoint = providers.Singleton(
        instrumented, "review", providers.Factory(make_endpoint, review.provided.handle))
    saga_batch_endpoint = providers.Singleton(
        instrumented, "saga", providers.Factory(make_endpoint, coordinator.provided.handle_batch),
        "handle_batch")
    saga_endpoint = providers.Singleton(
        instrumented, "saga", providers.Factory(make_endpoint, coordinator.provided.handle))


def build(settings: WorkerSettings, service_name: str = "workers") -> Container:
    """A container configured from ``settings``; ``service_name`` names the process in traces."""
    container = Container()
    container.config.from_dict({
        "orders_db_url": settings.orders_db_url, "eventstore_addr": settings.eventstore_addr,
        "service_name": service_name, "zipkin_url": settings.zipkin_url,
        "metrics_port": settings.metrics_port or None, "eventstore_timeout": settings.eventstore_timeout,
        "credit_limit": settings.credit_limit, "failure_rate": settings.failure_rate,
        "closed_restaurants": list(settings.closed_restaurants), "saga_timeout": settings.saga_timeout,
        "service_token": settings.auth.service_token(service_name), "client_tls": settings.client_tls,
    })
    return container


def close(container: Container) -> None:
    """Release the channel, the database pool and the span reporter."""
    container.channel().close()
    container.engine().dispose()
    reporter = getattr(container.tracer(), "reporter", None)
    if reporter is not None:
        reporter.close()
