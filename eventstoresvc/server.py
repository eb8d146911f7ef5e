"""The ``eventstoresvc`` process: the gRPC server (with health checking and reflection) and the relay.

Start-up: the schema is created if missing (``bootstrap``), the server starts serving, the relay
starts publishing, and health turns SERVING. Shutdown, in the order that loses nothing: health
turns NOT_SERVING (load balancers stop sending), open streams are told to end, the server refuses
new calls and lets those in flight finish for ``grace`` seconds, queued appends are committed, the
relay publishes what is left for up to ``flush_timeout`` seconds, and the database is released.
"""

from __future__ import annotations

import logging
import threading

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from contracts import eventstore_pb2
from eventstoresvc.bootstrap import bootstrap_event_store
from eventstoresvc.container import Container
from eventstoresvc.grpc import SERVICE_NAME, register
from kit import grpc as kit_grpc
from kit.auth.bearer import Authenticator
from kit.auth.settings import SERVICE_SCOPE
from kit.grpc.auth import RequireToken
from kit.grpc.tls import ServerTLS

log = logging.getLogger(__name__)


class EventStoreServer:
    """Runs an event store from a configured ``Container``: ``start``, ``wait``, ``stop``."""

    def __init__(self, container: Container, *, host: str = "127.0.0.1", port: int = 50051,
                 max_workers: int = 32, auth: Authenticator | None = None,
                 tls: ServerTLS | None = None) -> None:
        self._container = container
        self._auth = auth
        self._tls = tls
        self._host = host
        self._port = port
        self._max_workers = max_workers
        self._health = health.HealthServicer()
        self._server: grpc.Server | None = None
        self._stopped = threading.Event()

    def _register_extras(self, server: grpc.Server) -> None:
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        names = (
            eventstore_pb2.DESCRIPTOR.services_by_name["EventStore"].full_name,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        )
        reflection.enable_server_reflection(names, server)

    def start(self) -> None:
        """Create the schema if needed, serve, start the relay, report SERVING.

        With ``auth``, every call but health checks and reflection needs a token with scope
        ``service`` (UNAUTHENTICATED without a valid one, PERMISSION_DENIED without the scope).
        With ``tls`` it serves TLS (mutual TLS when it names a client CA).
        """
        bootstrap_event_store(self._container.config.db_url())
        interceptors = [] if self._auth is None else [RequireToken(self._auth, (SERVICE_SCOPE,))]
        self._server = kit_grpc.serve(
            register(self._container.servicer()), self._register_extras,
            host=self._host, port=self._port, max_workers=self._max_workers,
            interceptors=interceptors, tls=self._tls,
        )
        self._container.relay().start()
        for name in ("", SERVICE_NAME):
            self._health.set(name, health_pb2.HealthCheckResponse.SERVING)
        log.info("eventstoresvc serving on %s:%d", self._host, self._port)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until ``stop`` has finished (or ``timeout``); True if stopped."""
        return self._stopped.wait(timeout)

    def stop(self, grace: float = 10.0, flush_timeout: float = 10.0) -> None:
        """Shut down gracefully (see the module docstring for the order)."""
        if self._server is None:
            return
        self._health.enter_graceful_shutdown()
        self._container.service().close()
        kit_grpc.shutdown(self._server, grace)
        self._server = None
        self._container.repository().close()
        self._container.relay().stop(flush_timeout=flush_timeout)
        self._container.engine().dispose()
        tracer = self._container.tracer()
        reporter = getattr(tracer, "reporter", None)
        if reporter is not None:
            reporter.close()
        self._stopped.set()
        log.info("eventstoresvc stopped")
