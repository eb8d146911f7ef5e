"""The ``append`` suite: the event store through gRPC vs the ``eventsourcing`` library, same PostgreSQL.

Ours: ``CLIENTS`` concurrent gRPC clients (threads of this process sharing one channel) append
single-event aggregates (expected version NO_STREAM) to an ``eventstoresvc`` process on PostgreSQL
whose relay publishes to a real nats-server. The clock stops when JetStream holds every event, so
the throughput counts events that are committed *and* acknowledged by JetStream. Latency is that of
the CreateEvent calls (durable commit; publishing happens after).

``append.batch``: the same events in ``AppendEvents`` calls of ``BATCH`` (100) events from
``BATCH_CLIENTS`` (4) threads, against the same process after the single appends, same clock.

Baseline: ``eventsourcing``'s single-event aggregate save (``Application.save`` of a new aggregate,
POSTGRES persistence module) from ``CLIENTS`` threads of this process against another database on
the same server, in the same run.

PostgreSQL runs with ``fsync`` and ``synchronous_commit`` on, as in production: per-commit
durability is what group commit amortises.

On a small shared machine the throughput is bounded by CPU, so the suite also reports the CPU time
each process spends per event (this process, ``eventstoresvc``, ``nats-server``, PostgreSQL with
its backends), read from ``/proc``; that figure is steadier than events/s when neighbours are busy.
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
from dataclasses import dataclass
from typing import Any

from rich.console import Console

from eventstream.benchmarks.load import process_cpu_seconds
from eventstream.benchmarks.report import Result, percentile

CLIENTS = 16
BATCH = 100  # events per AppendEvents call
BATCH_CLIENTS = 4
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Measured:
    """One side's figures: rate per second, latency percentiles in ms, CPU µs per item by process."""

    rate: float
    p50: float
    p99: float
    cpu_us: dict[str, float]


def _children(parent: int) -> list[tuple[int, str]]:
    """(pid, command name) of the live children of ``parent``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                text = stat.read()
        except OSError:
            continue
        name = text[text.index("(") + 1:text.rindex(")")]
        if int(text.rsplit(")", 1)[1].split()[1]) == parent:
            found.append((int(entry), name))
    return found


def _tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of ``pid``, its reaped children and its live children (PostgreSQL's backends)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    total = sum(int(f) for f in fields[11:15]) / _CLOCK_TICKS
    for child, _ in _children(pid):
        try:
            total += process_cpu_seconds(child)
        except OSError:
            continue
    return total


class CpuMeter:
    """CPU seconds of this process and of its child server processes, by role."""

    def __init__(self, roles: dict[str, int]) -> None:
        self._roles = roles

    def sample(self) -> dict[str, float]:
        """The CPU seconds used so far by each role."""
        found = {role: _tree_cpu_seconds(pid) for role, pid in self._roles.items()}
        found["bench client"] = process_cpu_seconds(os.getpid())
        return found

    @staticmethod
    def per_item_us(before: dict[str, float], after: dict[str, float], items: int) -> dict[str, float]:
        """CPU µs per item by role between two samples, plus their total."""
        used = {role: (after[role] - before[role]) / items * 1e6 for role in before}
        used["total"] = sum(used.values())
        return used


def _drive(count: int, clients: int, call: Callable[[int], object]) -> list[float]:
    """Run ``call(i)`` for i in range(count) from ``clients`` threads; the latencies in ms."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    barrier = threading.Barrier(clients + 1)

    def worker(n: int) -> None:
        barrier.wait()
        mine = latencies[n]
        for i in range(n, count, clients):
            started = time.perf_counter()
            call(i)
            mine.append((time.perf_counter() - started) * 1000)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    for thread in threads:
        thread.join()
    return [x for part in latencies for x in part]


@contextmanager
def _eventstore_process(db_url: str, nats_url: str) -> Iterator[tuple[str, int]]:
    """An ``eventstoresvc`` process on a free port: (its address, its pid)."""
    from kit.testing.net import free_port, wait_for_port

    port = free_port()
    env = {**os.environ, "EVENTSTREAM_PORT": str(port), "EVENTSTREAM_HOST": "127.0.0.1",
           "EVENTSTREAM_DB_URL": db_url, "EVENTSTREAM_NATS_URL": nats_url}
    process = subprocess.Popen(
        [sys.executable, "-c", "from eventstoresvc.cli import eventstoresvc; eventstoresvc()"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, timeout=30)
        yield f"127.0.0.1:{port}", process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


async def _wait_for_messages(nats_url: str, at_least: int) -> None:
    import nats

    from eventstoresvc.jetstream import STREAM_NAME

    client = await nats.connect(nats_url)
    try:
        js = client.jetstream()
        while (await js.stream_info(STREAM_NAME)).state.messages < at_least:
            await asyncio.sleep(0.005)
    finally:
        await client.close()


def _stream_messages(nats_url: str) -> int:
    import nats

    from eventstoresvc.jetstream import STREAM_NAME

    async def count() -> int:
        client = await nats.connect(nats_url)
        try:
            return int((await client.jetstream().stream_info(STREAM_NAME)).state.messages)
        finally:
            await client.close()

    return asyncio.run(count())


def _clocked(nats_url: str, meter: CpuMeter, events: int, drive: Callable[[], list[float]]) -> Measured:
    """Run ``drive`` (it returns latencies) and wait until JetStream holds its ``events`` too."""
    already = _stream_messages(nats_url)
    before = meter.sample()
    started = time.perf_counter()
    latencies = drive()
    asyncio.run(_wait_for_messages(nats_url, already + events))
    elapsed = time.perf_counter() - started
    return Measured(events / elapsed, percentile(latencies, 50), percentile(latencies, 99),
                    CpuMeter.per_item_us(before, meter.sample(), events))


def measure_eventstore(db_url: str, nats_url: str, count: int, roles: dict[str, int],
                       clients: int = CLIENTS) -> tuple[Measured, Measured]:
    """Single appends, then ``BATCH``-event AppendEvents calls, through gRPC until JetStream holds
    them all; the batch latencies are per call."""
    from eventstoresvc.client import EventStoreClient
    from eventstoresvc.domain import Append, ExpectedVersion
    from eventstoresvc.testing import order_event
    from eventstream.bootstrap import bootstrap
    from kit import grpc as kit_grpc

    bootstrap(db_url=db_url, orders_db_url=None, nats_url=nats_url)
    with _eventstore_process(db_url, nats_url) as (target, pid):
        channel = kit_grpc.dial(target)
        client = EventStoreClient(channel)
        warmup = 4 * clients  # connect and warm up outside the clock
        _drive(warmup, clients, lambda i: client.create_event(order_event(f"warmup-{uuid.uuid4()}")))
        client.append_events([Append(order_event(f"warmup-{uuid.uuid4()}")) for _ in range(BATCH)])
        asyncio.run(_wait_for_messages(nats_url, warmup + BATCH))
        run_id = uuid.uuid4().hex[:8]
        no_stream = ExpectedVersion.no_stream()
        events = [order_event(f"bench-{run_id}-{i}", data={"order_id": i}) for i in range(count)]
        batches = [[Append(order_event(f"bench-{run_id}-b{i}", data={"order_id": i}), no_stream)
                    for i in range(first, min(count, first + BATCH))] for first in range(0, count, BATCH)]
        meter = CpuMeter({**roles, "eventstoresvc": pid})
        single = _clocked(nats_url, meter, count, lambda: _drive(
            count, clients, lambda i: client.create_event(events[i], no_stream)))
        batched = _clocked(nats_url, meter, count, lambda: _drive(
            len(batches), BATCH_CLIENTS, lambda i: client.append_events(batches[i])))
        channel.close()
    return single, batched


def measure_eventsourcing(dsn_parts: dict[str, str], count: int, roles: dict[str, int],
                          clients: int = CLIENTS) -> Measured:
    """``eventsourcing``'s save of new single-event aggregates."""
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
    _drive(4 * clients, clients, lambda i: app.save(Order(-1)))  # tables, pool, warm-up: off the clock
    meter = CpuMeter(roles)
    before = meter.sample()
    started = time.perf_counter()
    latencies = _drive(count, clients, lambda i: app.save(Order(i)))
    elapsed = time.perf_counter() - started
    after = meter.sample()
    app.close()
    return Measured(count / elapsed, percentile(latencies, 50), percentile(latencies, 99),
                    CpuMeter.per_item_us(before, after, count))


def _roles() -> dict[str, int]:
    """The server processes this process started, by role (PostgreSQL: its postmaster)."""
    roles = {}
    for pid, name in _children(os.getpid()):
        if name.startswith("postgres"):
            roles["postgres"] = pid
        elif name.startswith("nats-server"):
            roles["nats-server"] = pid
    return roles


def _show_cpu(console: Console, label: str, measured: Measured) -> None:
    parts = ", ".join(f"{role} {us:,.0f}" for role, us in measured.cpu_us.items())
    console.print(f"  {label}: {measured.rate:,.0f}/s, p50 {measured.p50:.1f} ms, p99 {measured.p99:.1f} ms; "
                  f"CPU µs per item: {parts}")


def run(*, quick: bool, console: Console) -> list[Result]:
    """Measure both on a fresh durable PostgreSQL and nats-server; return the comparison."""
    from kit.testing.nats import running_nats
    from kit.testing.postgres import running_postgres

    count = 1000 if quick else 6000
    with running_postgres(durable=True) as (server, database), running_nats() as nats_server:
        roles = _roles()
        baseline_db = server.create_database()
        console.print(f"eventsourcing: {count} single-event saves, {CLIENTS} threads")
        theirs = measure_eventsourcing({"dbname": baseline_db, "host": server.host,
                                        "port": str(server.port), "user": "postgres"}, count, roles)
        _show_cpu(console, "eventsourcing", theirs)
        console.print(f"eventstoresvc: {count} appends through gRPC, {CLIENTS} clients, JetStream-acked")
        ours, batched = measure_eventstore(server.url(database), nats_server.url, count, roles)
        _show_cpu(console, "eventstoresvc", ours)
        _show_cpu(console, f"AppendEvents, {BATCH} per call, {BATCH_CLIENTS} clients", batched)
        server.drop_database(baseline_db)
    label = f"eventsourcing save, {CLIENTS} threads, PostgreSQL"
    return [
        Result.compare("append.vs_eventsourcing", ours.rate, "events/s", label, theirs.rate),
        Result.compare("append.batch", batched.rate, "events/s", label, theirs.rate),
        Result.compare("append.p50", ours.p50, "ms", label, theirs.p50, lower_is_better=True),
        Result.compare("append.p99", ours.p99, "ms", label, theirs.p99, lower_is_better=True),
        Result.compare("append.cpu_per_event", ours.cpu_us["total"], "µs CPU", label,
                       theirs.cpu_us["total"], lower_is_better=True),
    ]
