"""The append benchmark: the event store through gRPC vs the ``eventsourcing`` library, same PostgreSQL.

Ours: 16 concurrent gRPC clients append single-event aggregates (expected version NO_STREAM) to an
``eventstoresvc`` process on PostgreSQL with its relay publishing to a real nats-server; the clock
stops when JetStream holds every event, so the throughput counts events that are committed *and*
acknowledged by JetStream. Latency is that of the CreateEvent calls (commit, not publish).

Baseline: ``eventsourcing``'s single-event aggregate save (``Application.save`` of a new aggregate,
POSTGRES persistence module) from 16 threads against a database on the same server, in the same run.

PostgreSQL runs with ``fsync`` on, as in production: per-commit durability is what group commit
amortises. ``run(quick=...)`` returns dicts ``{name, value, unit, baseline, baseline_value, ratio}``.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

CLIENTS = 16


def _percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))]


def _drive(count: int, clients: int, call: Callable[[int], None]) -> tuple[float, list[float]]:
    """Run ``call(i)`` for i in range(count) from ``clients`` threads; (seconds, latencies in ms)."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    barrier = threading.Barrier(clients + 1)

    def worker(n: int) -> None:
        barrier.wait()
        for i in range(n, count, clients):
            started = time.perf_counter()
            call(i)
            latencies[n].append((time.perf_counter() - started) * 1000)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, [x for part in latencies for x in part]


@contextmanager
def _eventstore_process(db_url: str, nats_url: str) -> Iterator[str]:
    from kit.testing.net import free_port, wait_for_port

    port = free_port()
    env = {**os.environ, "EVENTSTREAM_PORT": str(port), "EVENTSTREAM_HOST": "127.0.0.1",
           "EVENTSTREAM_DB_URL": db_url, "EVENTSTREAM_NATS_URL": nats_url}
    process = subprocess.Popen(
        [sys.executable, "-c", "from eventstoresvc.cli import eventstoresvc; eventstoresvc()"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, timeout=30)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


async def _stream_messages(nats_url: str) -> int:
    import nats

    from eventstoresvc.jetstream import STREAM_NAME

    client = await nats.connect(nats_url)
    try:
        return int((await client.jetstream().stream_info(STREAM_NAME)).state.messages)
    finally:
        await client.close()


def measure_eventstore(db_url: str, nats_url: str, count: int, clients: int = CLIENTS) -> dict[str, float]:
    """Appends through gRPC until JetStream holds them all: events/s, p50 and p99 in ms."""
    from eventstoresvc.bootstrap import bootstrap
    from eventstoresvc.client import EventStoreClient
    from eventstoresvc.domain import ExpectedVersion
    from eventstoresvc.testing import order_event
    from kit import grpc as kit_grpc

    bootstrap(db_url=db_url, orders_db_url=None, nats_url=nats_url)
    already = asyncio.run(_stream_messages(nats_url))
    with _eventstore_process(db_url, nats_url) as target:
        channels = [kit_grpc.dial(target) for _ in range(clients)]
        stubs = [EventStoreClient(channel) for channel in channels]
        for stub in stubs:  # connect and warm up outside the clock
            stub.create_event(order_event(f"warmup-{uuid.uuid4()}"))
        run_id = uuid.uuid4().hex[:8]

        def append(i: int) -> None:
            stubs[i % clients].create_event(order_event(f"bench-{run_id}-{i}", data={"order_id": i}),
                                            ExpectedVersion.no_stream())

        started = time.perf_counter()
        _, latencies = _drive(count, clients, append)
        while asyncio.run(_stream_messages(nats_url)) < already + clients + count:
            time.sleep(0.01)
        elapsed = time.perf_counter() - started
        for channel in channels:
            channel.close()
    return {"rate": count / elapsed, "p50": _percentile(latencies, 50), "p99": _percentile(latencies, 99)}


def measure_eventsourcing(dsn_parts: dict[str, str], count: int, clients: int = CLIENTS) -> dict[str, float]:
    """``eventsourcing``'s save of new single-event aggregates: saves/s, p50 and p99 in ms."""
    from eventsourcing.application import Application
    from eventsourcing.domain import Aggregate

    class Order(Aggregate):
        def __init__(self, number: int) -> None:
            self.number = number

    env = {"PERSISTENCE_MODULE": "eventsourcing.postgres", "POSTGRES_DBNAME": dsn_parts["dbname"],
           "POSTGRES_HOST": dsn_parts["host"], "POSTGRES_PORT": dsn_parts["port"],
           "POSTGRES_USER": dsn_parts["user"], "POSTGRES_PASSWORD": dsn_parts.get("password", ""),
           "POSTGRES_POOL_SIZE": str(clients), "POSTGRES_MAX_OVERFLOW": "0"}
    app: Any = Application(env=env)
    app.save(Order(-1))  # create the tables and warm the pool outside the clock
    elapsed, latencies = _drive(count, clients, lambda i: app.save(Order(i)))
    app.close()
    return {"rate": count / elapsed, "p50": _percentile(latencies, 50), "p99": _percentile(latencies, 99)}


def _result(name: str, value: float, unit: str, baseline: str, baseline_value: float,
            *, lower_is_better: bool = False) -> dict[str, Any]:
    ratio = 0.0
    if value and baseline_value:
        ratio = baseline_value / value if lower_is_better else value / baseline_value
    return {"name": name, "value": round(value, 3), "unit": unit, "baseline": baseline,
            "baseline_value": round(baseline_value, 3), "ratio": round(ratio, 3)}


def run(quick: bool = False, console: Any = None) -> list[dict[str, Any]]:
    """Measure both on a fresh durable PostgreSQL and nats-server; return the comparison rows."""
    from kit.testing.nats import running_nats
    from kit.testing.postgres import running_postgres

    count = 800 if quick else 6000
    say: Callable[[str], None] = console.print if console is not None else print
    with running_postgres(durable=True) as (server, database), running_nats() as nats_server:
        baseline_db = server.create_database()
        say(f"eventsourcing: {count} single-event saves, {CLIENTS} threads")
        theirs = measure_eventsourcing({"dbname": baseline_db, "host": server.host, "port": str(server.port),
                                        "user": "postgres"}, count)
        say(f"eventstoresvc: {count} appends through gRPC, {CLIENTS} clients, JetStream-acked")
        ours = measure_eventstore(server.url(database), nats_server.url, count)
        server.drop_database(baseline_db)
    label = f"eventsourcing {CLIENTS} threads, PostgreSQL"
    return [
        _result("eventstore append throughput (committed + JetStream-acked)", ours["rate"], "events/s",
                label, theirs["rate"]),
        _result("eventstore append latency p50", ours["p50"], "ms", label, theirs["p50"],
                lower_is_better=True),
        _result("eventstore append latency p99", ours["p99"], "ms", label, theirs["p99"],
                lower_is_better=True),
    ]


def main() -> None:
    """Print the benchmark's rows (``python -m eventstoresvc.bench [--quick]``)."""
    rows = run(quick="--quick" in sys.argv)
    for row in rows:
        print(row)
    print("throughput ratio:", rows[0]["ratio"])


if __name__ == "__main__":
    main()
