"""Where each part of a local system runs: ports, URLs and data paths, and the table of them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.table import Table

from kit.zipkin import server as zipkin_server


@dataclass(frozen=True)
class Topology:
    """The addresses ``eventstream up`` gives to each process.

    The event store's gRPC port is ``grpc_port``, the order service's own gRPC API listens on the
    next port, and with ``eventstores`` > 1 the other event store replicas on the ports after
    that; NATS monitoring on the client port + 4000 (8222 for 4222), and worker metrics from
    ``metrics_base_port`` (9100) up, one port per instance, then one per event store replica. With
    ``trace_ui_port`` (``--trace-ui``) a local Zipkin server listens there, and every process
    reports its spans to it.
    """

    http_port: int
    grpc_port: int
    nats_port: int
    nats_url: str
    embedded_nats: bool
    db_url: str
    orders_db_url: str
    zipkin_url: str
    workers: int
    data_dir: Path
    workers_names: Sequence[str]
    metrics_base_port: int = 9100
    trace_ui_port: int = 0  # 0: no local Zipkin server
    eventstores: int = 1

    @classmethod
    def build(cls, *, http_port: int, grpc_port: int, nats_port: int, nats_url: str, db_url: str,
              orders_db_url: str, zipkin_url: str, workers: int, data_dir: Path,
              workers_names: Sequence[str], metrics_base_port: int = 9100,
              trace_ui_port: int = 0, eventstores: int = 1) -> Topology:
        """Fill in the embedded defaults for whatever was not given."""
        data_dir = data_dir.resolve()
        if trace_ui_port:
            zipkin_url = zipkin_server.base_url(trace_ui_port)
        return cls(
            http_port=http_port,
            grpc_port=grpc_port,
            nats_port=nats_port,
            nats_url=nats_url or f"nats://127.0.0.1:{nats_port}",
            embedded_nats=not nats_url,
            db_url=db_url or f"sqlite:///{data_dir / 'eventstore.db'}",
            orders_db_url=orders_db_url or f"sqlite:///{data_dir / 'orders.db'}",
            zipkin_url=zipkin_url,
            workers=workers,
            data_dir=data_dir,
            workers_names=tuple(workers_names),
            metrics_base_port=metrics_base_port,
            trace_ui_port=trace_ui_port,
            eventstores=eventstores,
        )

    @property
    def orders_grpc_port(self) -> int:
        """The order service's gRPC port: the one after the event store's."""
        return self.grpc_port + 1

    @property
    def eventstore_ports(self) -> list[int]:
        """The gRPC port of each event store replica: ``grpc_port``, then after the order service's."""
        return [self.grpc_port] + [self.orders_grpc_port + k for k in range(1, self.eventstores)]

    @property
    def eventstore_addr(self) -> str:
        """What the order service and the workers dial: every event store replica, comma-separated."""
        return ",".join(f"127.0.0.1:{port}" for port in self.eventstore_ports)

    def eventstore_metrics_port(self, replica: int) -> int:
        """The metrics port of one event store replica (1-based): after the workers' ports."""
        return self.metrics_base_port + len(self.workers_names) * self.workers + replica - 1

    @property
    def nats_monitor_port(self) -> int:
        """The embedded NATS server's monitoring port (8222 for the default 4222)."""
        return self.nats_port + 4000

    @property
    def trace_ui(self) -> bool:
        """Whether ``eventstream up`` runs a local Zipkin server and its UI."""
        return bool(self.trace_ui_port)

    @property
    def nats_dir(self) -> Path:
        """The embedded NATS server's JetStream store."""
        return self.data_dir / "nats"

    def worker_metrics_port(self, worker: str, instance: int) -> int:
        """The metrics port of one worker instance (1-based)."""
        index = list(self.workers_names).index(worker)
        return self.metrics_base_port + index * self.workers + instance - 1

    def ports(self) -> dict[str, int]:
        """Every port this topology listens on, by what listens there."""
        ports = {"HTTP": self.http_port, "order service gRPC": self.orders_grpc_port}
        for replica, port in enumerate(self.eventstore_ports, start=1):
            ports[f"event store gRPC #{replica}"] = port
            ports[f"event store metrics #{replica}"] = self.eventstore_metrics_port(replica)
        if self.embedded_nats:
            ports["NATS"] = self.nats_port
            ports["NATS monitoring"] = self.nats_monitor_port
        if self.trace_ui:
            ports["trace UI (Zipkin)"] = self.trace_ui_port
        for worker in self.workers_names:
            for instance in range(1, self.workers + 1):
                ports[f"{worker} metrics #{instance}"] = self.worker_metrics_port(worker, instance)
        return ports

    def table(self) -> Table:
        """What runs where, for the console."""
        table = Table(title="eventstream is up")
        table.add_column("what")
        table.add_column("where")
        table.add_row("order API (HTTP)", f"http://127.0.0.1:{self.http_port}/api/orders")
        table.add_row("API docs", f"http://127.0.0.1:{self.http_port}/docs")
        table.add_row("live board", f"http://127.0.0.1:{self.http_port}/board")
        table.add_row("order service metrics", f"http://127.0.0.1:{self.http_port}/metrics")
        table.add_row("order service gRPC", f"127.0.0.1:{self.orders_grpc_port}")
        table.add_row("event store gRPC", self.eventstore_addr.replace(",", ", "))
        metrics = [self.eventstore_metrics_port(r) for r in range(1, self.eventstores + 1)]
        table.add_row("event store metrics (relay leader)",
                      ", ".join(f"http://127.0.0.1:{port}/metrics" for port in metrics))
        table.add_row("NATS", self.nats_url + ("" if self.embedded_nats else " (external)"))
        if self.embedded_nats:
            table.add_row("NATS monitoring", f"http://127.0.0.1:{self.nats_monitor_port}")
        for worker in self.workers_names:
            ports = [self.worker_metrics_port(worker, i) for i in range(1, self.workers + 1)]
            table.add_row(f"{worker} worker metrics",
                          ", ".join(f"http://127.0.0.1:{p}/metrics" for p in ports))
        table.add_row("event store database", self.db_url)
        table.add_row("orders database", self.orders_db_url)
        table.add_row("Zipkin", self.zipkin_url or "off (--zipkin-url or --trace-ui)")
        if self.trace_ui:
            table.add_row("trace UI (Zipkin)", zipkin_server.ui_url(self.zipkin_url))
        return table
