"""What a worker process is told: addresses, concurrency, consumer tuning and the business knobs.

Every field has a command-line flag with an ``EVENTSTREAM_`` environment twin (``workers.cli``):
``--payment-credit-limit`` / ``EVENTSTREAM_PAYMENT_CREDIT_LIMIT`` (default 1000.00),
``--payment-failure-rate`` / ``EVENTSTREAM_PAYMENT_FAILURE_RATE`` (0),
``--review-closed-restaurants`` / ``EVENTSTREAM_REVIEW_CLOSED_RESTAURANTS`` (comma-separated, empty),
``--saga-timeout`` / ``EVENTSTREAM_SAGA_TIMEOUT`` (seconds, 300), ...
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from kit.auth.settings import AuthSettings
from kit.grpc.tls import ClientTLS
from workers.gateway import DEFAULT_CREDIT_LIMIT

DEFAULT_NATS_URL = "nats://127.0.0.1:4222"
DEFAULT_EVENTSTORE_ADDR = "127.0.0.1:50051"
DEFAULT_ORDERS_DB_URL = "sqlite:///.eventstream/orders.db"


@dataclass(frozen=True)
class WorkerSettings:
    """The configuration of one worker process (and of the test harness that runs workers)."""

    nats_url: str = DEFAULT_NATS_URL
    eventstore_addr: str = DEFAULT_EVENTSTORE_ADDR
    orders_db_url: str = DEFAULT_ORDERS_DB_URL
    zipkin_url: str = ""
    concurrency: int = 16
    batch: int = 64
    """Messages fetched ahead of the handlers (delivered and not yet settled) per instance."""
    max_batch: int = 64
    """Events per call of a worker with a batch endpoint (the projection); 1: one at a time."""
    batch_concurrency: int = 2
    """Batch calls at once, for a worker with a batch endpoint (each is one transaction)."""
    metrics_port: int = 0
    """0: no ``/metrics`` listener."""
    credit_limit: Decimal = DEFAULT_CREDIT_LIMIT
    failure_rate: float = 0.0
    closed_restaurants: tuple[str, ...] = ()
    saga_timeout: float = 300.0
    sweep_interval: float = 5.0
    max_deliver: int = 5
    ack_wait: float = 30.0
    backoff: tuple[float, ...] = (0.5, 1.0, 2.0, 5.0, 10.0)
    heartbeat: float = 10.0
    dead_letter_stream: str = "DLQ"
    eventstore_timeout: float = 5.0
    dead_letter_poll: float = 30.0
    """Seconds between refreshes of the dead-letter gauge (0: off)."""
    auth: AuthSettings = field(default_factory=AuthSettings)
    """With auth on, the worker sends its own ``service`` token to the event store."""
    client_tls: ClientTLS | None = None
    """TLS to the event store (``kit.grpc.tls``); None: plaintext."""
