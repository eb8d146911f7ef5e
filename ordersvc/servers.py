"""The order service's two listeners, HTTP (waitress) and gRPC, started and stopped together."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

import grpc
import waitress.server

from kit import grpc as kit_grpc
from kit.grpc.tls import ServerTLS
from ordersvc.container import close
from ordersvc.grpc import register

if TYPE_CHECKING:
    from ordersvc.container import Container

_LOG = logging.getLogger("ordersvc")


class OrderServers:
    """Serve ``container``'s Flask app and gRPC servicer; ``stop`` drains both, then frees the container."""

    def __init__(self, container: Container, *, host: str, port: int, grpc_port: int,
                 threads: int, grace: float, tls: ServerTLS | None = None,
                 grpc_host: str | None = None) -> None:
        """HTTP listens on ``host:port``, gRPC on ``grpc_host`` (default ``host``) ``:grpc_port``."""
        self._container = container
        self._tls = tls
        self._host, self._port, self._grpc_port = host, port, grpc_port
        self._grpc_host = grpc_host or host
        self._threads = threads
        self._grace = grace
        self._grpc: grpc.Server | None = None
        self._http: waitress.server.MultiSocketServer | waitress.server.BaseWSGIServer | None = None
        self._http_thread: threading.Thread | None = None

    def start(self) -> None:
        """Bind and serve both ports (raises if either cannot be bound)."""
        self._grpc = kit_grpc.serve(register(self._container.servicer()), host=self._grpc_host,
                                    port=self._grpc_port, tls=self._tls)
        self._http = http = waitress.server.create_server(self._container.app(), host=self._host,
                                                          port=self._port, threads=self._threads,
                                                          ident="ordersvc")
        self._http_thread = threading.Thread(target=http.run, name="waitress", daemon=True)
        self._http_thread.start()
        _LOG.info("ordersvc serving HTTP on %s:%d and gRPC on %s:%d", self._host, self._port,
                  self._grpc_host, self._grpc_port)

    def stop(self) -> None:
        """Refuse new calls, give those in flight ``grace`` seconds, close the listeners and the pools."""
        if self._grpc is not None:
            kit_grpc.shutdown(self._grpc, self._grace)
        if self._http is not None:
            self._http.close()
        if self._http_thread is not None:
            self._http_thread.join(timeout=self._grace)
        close(self._container)
