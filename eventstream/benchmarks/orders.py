"""Benchmark: ``POST /api/orders`` under waitress, the full order service vs a bare Flask endpoint.

Both servers run in their own process under waitress with the same number of threads, driven by
the same closed loop of keep-alive clients (``eventstream.benchmarks.load``), in alternating rounds;
the best round of each counts. Servers under test:

- ``bare``: a Flask view that answers 201 with a fixed body and does no work (the floor);
- ``full``: the order service's app with the whole chain (Flask + ``kit.http`` adapter, body
  decoding and validation, logging and metrics middleware, the service, exact JSON), over the
  in-memory event store and read model, so the figure is the service's own cost;
- ``system`` (not in ``--quick``): the same app over a real event store service (in the same
  process, over gRPC) and SQLite for both databases: what one machine sustains end to end.

``benchmark()`` returns plain dicts ``{name, value, unit, baseline, baseline_value, ratio}``;
``run(quick=, console=)`` is the ``eventstream bench`` suite entry point.
Run one server by hand with ``python -m eventstream.benchmarks.orders KIND PORT``.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import logging
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console

from eventstream.benchmarks.load import LoadResult, compare_loads, drive
from eventstream.benchmarks.report import Result
from kit.testing.net import free_port, wait_for_port

CONCURRENCY = 8
THREADS = 8
BARE = "bare Flask POST (no work)"
BODY = json.dumps({
    "customer_id": "cust-1", "restaurant_id": "rest-1",
    "order_items": [{"code": "p-1", "name": "Pizza", "unit_price": 12.5, "quantity": 2},
                    {"code": "c-1", "name": "Cola", "unit_price": 1.99, "quantity": 3}],
}).encode()


def bare_app() -> Any:
    """A Flask app whose POST /api/orders does no work."""
    import flask

    app = flask.Flask("bare")
    reply = b'{"order_id":"x","status":"Pending"}'

    @app.post("/api/orders")
    def create() -> flask.Response:
        return flask.Response(reply, 201, content_type="application/json")

    return app


def full_app() -> Any:
    """The order service's app over in-memory ports, with its full middleware chain."""
    from orders.memory import InMemoryEventStore, InMemoryReadModel
    from ordersvc.endpoints import instrumented, make_endpoints
    from ordersvc.http import build_app
    from ordersvc.memory import InMemoryIdempotencyStore
    from ordersvc.service import EventSourcedOrderService

    service = EventSourcedOrderService(InMemoryEventStore(), InMemoryReadModel(), InMemoryIdempotencyStore())
    return build_app(instrumented(make_endpoints(service)), readiness=dict)


def system_app(workdir: Path) -> Any:
    """The order service's app over a real event store service and SQLite databases."""
    from eventstoresvc.container import build as build_eventstore
    from eventstoresvc.server import EventStoreServer
    from ordersvc.container import Settings, build
    from ordersvc.schema import create_schema

    port = free_port()
    # No NATS: the relay keeps the events in its outbox, which does not slow appends down.
    store = EventStoreServer(build_eventstore(db_url=f"sqlite:///{workdir / 'events.db'}",
                                              nats_url=f"nats://127.0.0.1:{free_port()}", port=port),
                             host="127.0.0.1", port=port)
    store.start()
    container = build(Settings(eventstore_addr=f"127.0.0.1:{port}",
                               orders_db_url=f"sqlite:///{workdir / 'orders.db'}"))
    create_schema(container.engine())
    app = container.app()
    app.extensions["eventstore"] = store  # the server stops when its object is collected
    return app


def serve(kind: str, port: int) -> None:
    """Serve the ``kind`` app on 127.0.0.1:``port`` under waitress until killed."""
    import waitress

    logging.getLogger("ordersvc").setLevel(logging.WARNING)
    workdir = Path(tempfile.mkdtemp(prefix="orders-bench-"))
    apps: dict[str, Callable[[], Any]] = {"bare": bare_app, "full": full_app,
                                          "system": lambda: system_app(workdir)}
    waitress.serve(apps[kind](), host="127.0.0.1", port=port, threads=THREADS, _quiet=True)


@contextmanager
def server_process(kind: str) -> Iterator[tuple[int, int]]:
    """Start a benchmark server process; yield (its pid, its port); stop it afterwards."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "eventstream.benchmarks.orders", kind, str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, timeout=30)
        yield process.pid, port
    finally:
        process.terminate()
        process.wait(timeout=10)


def poster(port: int) -> Callable[[], Callable[[], None]]:
    """One keep-alive connection per load thread, each call a POST /api/orders."""
    headers = {"Content-Type": "application/json"}

    def make() -> Callable[[], None]:
        conn = http.client.HTTPConnection("127.0.0.1", port)

        def call() -> None:
            conn.request("POST", "/api/orders", body=BODY, headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status != 201:
                raise RuntimeError(f"status {response.status}")

        return call

    return make


def measure(kind: str, duration: float) -> LoadResult:
    """One load run against a fresh server of ``kind``."""
    with server_process(kind) as (pid, port):
        result = drive(poster(port), concurrency=CONCURRENCY, duration=duration, warmup=1.0,
                       server_pid=pid)
    if result.errors:
        raise RuntimeError(f"{kind}: {result.errors} of {result.errors + result.requests} calls failed")
    return result


def run(*, quick: bool, console: Console) -> list[Result]:
    """The suite: alternate bare and full servers for a few rounds; best round of each counts."""
    rounds, duration = (1, 1.0) if quick else (3, 5.0)
    kinds = ["bare", "full"] if quick else ["bare", "full", "system"]
    best: dict[str, LoadResult] = {}
    for round_number in range(1, rounds + 1):
        for kind in kinds:
            console.print(f"  ordersvc POST /api/orders: {kind}, round {round_number}/{rounds}")
            result = measure(kind, duration)
            if kind not in best or result.per_second > best[kind].per_second:
                best[kind] = result
    results = compare_loads("ordersvc.post_order", best["full"], BARE, best["bare"])
    if "system" in best:
        results += compare_loads("ordersvc.post_order.system", best["system"], BARE, best["bare"])
    return results


def benchmark(*, quick: bool = False, console: Console | None = None) -> list[dict[str, Any]]:
    """Run the suite and return its figures as dicts ``{name, value, unit, baseline,
    baseline_value, ratio}`` (ratio > 1 is better than the baseline)."""
    results = run(quick=quick, console=console or Console(stderr=True))
    return [dataclasses.asdict(r) for r in results]


if __name__ == "__main__":
    threading.current_thread().name = "bench-server"
    serve(sys.argv[1], int(sys.argv[2]))
