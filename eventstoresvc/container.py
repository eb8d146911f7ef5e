"""The event store's composition root: builds the onion inside out, once, at start-up.

repository (SQL) -> service -> endpoints -> middleware -> gRPC servicer, plus the outbox relay
over the same repository. Middleware order, outermost first: logging, then metrics, so the log
line's duration includes everything the metrics see. Nothing here runs at import time.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Iterable
from typing import TypeVar

from dependency_injector import containers, providers

from eventstoresvc.endpoints import Endpoints, make_endpoints
from eventstoresvc.engine import make_engine
from eventstoresvc.grpc import EventStoreServicer
from eventstoresvc.leader import RelayLeadership
from eventstoresvc.lease import RelayLease
from eventstoresvc.relay import OutboxRelay
from eventstoresvc.service import EventStoreService
from eventstoresvc.sqlstore import SqlEventRepository
from eventstoresvc.validation import DEFAULT_MAX_BATCH_EVENTS, Limits
from kit.endpoint import Endpoint, Middleware
from kit.middleware.observed import observed
from kit.tracing import Tracer
from kit.zipkin.config import tracer_from_env

Req = TypeVar("Req")
Resp = TypeVar("Resp")
SERVICE = "eventstore"
LOG = logging.getLogger("eventstoresvc")


def _wrap(method: str, endpoint: Endpoint[Req, Resp]) -> Endpoint[Req, Resp]:
    middleware: Middleware[Req, Resp] = observed(LOG, SERVICE, method)
    return middleware(endpoint)


def instrumented_endpoints(service: EventStoreService) -> Endpoints:
    """The service's endpoints, each wrapped in logging and metrics middleware."""
    plain = make_endpoints(service)
    return Endpoints(
        create_event=_wrap("CreateEvent", plain.create_event),
        append_events=_wrap("AppendEvents", plain.append_events),
        get_events=_wrap("GetEvents", plain.get_events),
        stream_events=_wrap("GetEventsStream", plain.stream_events),
    )


def replica_name() -> str:
    """This replica's name in the relay lease: host, process id and a random part (pids repeat)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def limits(streams: Iterable[str], max_data_bytes: int, max_batch_events: int) -> Limits:
    """The validation limits from configuration."""
    return Limits(streams=frozenset(streams), max_data_bytes=max_data_bytes,
                  max_batch_events=max_batch_events)


class Container(containers.DeclarativeContainer):
    """Everything the ``eventstoresvc`` process runs, wired from ``config``.

    ``config``: ``db_url``, ``nats_url``, ``port``, ``zipkin_url`` (optional), ``max_data_bytes``,
    ``max_batch_events`` (most items of one AppendEvents call), ``streams`` (known stream names),
    ``relay_lease`` (seconds a relay leader's lease lasts), ``relay_poll`` (seconds between the
    relay's reads for other replicas' commits).
    """

    config = providers.Configuration()

    engine = providers.Singleton(make_engine, config.db_url)
    repository = providers.Singleton(SqlEventRepository, engine)
    service = providers.Singleton(
        EventStoreService, repository,
        limits=providers.Factory(limits, config.streams, config.max_data_bytes, config.max_batch_events),
    )
    tracer: providers.Provider[Tracer] = providers.Singleton(
        tracer_from_env, "eventstoresvc", config.zipkin_url, port=config.port)
    endpoints = providers.Singleton(instrumented_endpoints, service)
    servicer = providers.Singleton(EventStoreServicer, endpoints, tracer=tracer)
    lease = providers.Singleton(RelayLease, engine, providers.Callable(replica_name), config.relay_lease)
    relay_factory = providers.Factory(OutboxRelay, repository, config.nats_url, tracer=tracer,
                                      idle_poll=config.relay_poll)
    relay = providers.Singleton(RelayLeadership, lease, relay_factory.provider)


def build(
    *, db_url: str, nats_url: str, port: int = 50051, zipkin_url: str | None = None,
    max_data_bytes: int = 64 * 1024, max_batch_events: int = DEFAULT_MAX_BATCH_EVENTS,
    streams: Iterable[str] = ("ORDERS",), relay_lease: float = 3.0, relay_poll: float = 0.1,
) -> Container:
    """A container configured from plain values (the command line's flags)."""
    container = Container()
    container.config.from_dict({
        "db_url": db_url, "nats_url": nats_url, "port": port, "zipkin_url": zipkin_url,
        "max_data_bytes": max_data_bytes, "max_batch_events": max_batch_events, "streams": list(streams),
        "relay_lease": relay_lease, "relay_poll": relay_poll,
    })
    return container
