"""Event store replicas as real processes on one PostgreSQL: the relay fails over, nothing is lost.

Each replica is an ``eventstoresvc`` process with its own gRPC and metrics port and a one-second
relay lease. The leader is found by its ``eventstore_relay_leader`` metric.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from prometheus_client.parser import text_string_to_metric_families

from eventstoresvc.client import EventStoreClient
from eventstoresvc.domain import EventQuery
from eventstoresvc.engine import make_engine
from eventstoresvc.schema import create_schema, drop_schema
from eventstoresvc.sqlstore import SqlEventRepository
from eventstoresvc.testing import order_event
from kit import grpc as kit_grpc
from kit.errors import KitError
from kit.testing.net import free_port, wait_for_port
from kit.testing.wait import eventually

from .test_eventstore_relay import _fresh_stream, messages

pytestmark = pytest.mark.integration

LEASE = "1.0"


@dataclass
class Replica:
    """One running ``eventstoresvc`` process."""

    process: subprocess.Popen[bytes]
    address: str
    metrics_port: int

    def metric(self, name: str) -> float:
        """The sum of the samples named ``name`` in this replica's /metrics (0 when absent)."""
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as reply:
            text = reply.read().decode()
        return sum(float(sample.value) for family in text_string_to_metric_families(text)
                   for sample in family.samples if sample.name == name)

    def leads(self) -> bool:
        return self.process.poll() is None and self.metric("eventstore_relay_leader") == 1.0


@pytest.fixture
def db_url(db_url_factory: Callable[[str], str]) -> Iterator[str]:
    url = db_url_factory("postgresql")
    engine = make_engine(url)
    drop_schema(engine)
    create_schema(engine)
    engine.dispose()
    yield url


@pytest.fixture
def start(db_url: str, nats_url: str) -> Iterator[Callable[[int], list[Replica]]]:
    asyncio.run(_fresh_stream(nats_url))
    started: list[Replica] = []

    def run(count: int) -> list[Replica]:
        for _ in range(count):
            port, metrics_port = free_port(), free_port()
            process = subprocess.Popen(
                [sys.executable, "-c", "from eventstoresvc.cli import eventstoresvc; eventstoresvc()",
                 "--host", "127.0.0.1", "--port", str(port), "--metrics-port", str(metrics_port),
                 "--db-url", db_url, "--nats-url", nats_url, "--relay-lease", LEASE],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy())
            started.append(Replica(process, f"127.0.0.1:{port}", metrics_port))
        for replica in started[-count:]:
            wait_for_port(int(replica.address.rpartition(":")[2]), timeout=30)
            wait_for_port(replica.metrics_port, timeout=30)
        return started[-count:]

    yield run
    for replica in started:
        if replica.process.poll() is None:
            os.kill(replica.process.pid, signal.SIGCONT)
            replica.process.terminate()
            replica.process.wait(timeout=30)


def the_leader(replicas: list[Replica]) -> Replica:
    found = eventually(lambda: [r for r in replicas if r.leads()], timeout=20)
    assert len(found) == 1, "two replicas lead the relay at once"
    return found[0]


def everything_published(db_url: str) -> list[str]:
    """Wait for the backlog to drain; the event ids of the whole log, in position order."""
    engine = make_engine(db_url)
    repository = SqlEventRepository(engine)
    try:
        eventually(lambda: repository.backlog() == 0, timeout=30)
        return [e.event_id for e in repository.events_after(0, 100_000)]
    finally:
        repository.close()
        engine.dispose()


class Appenders:
    """Threads appending events through one channel over every replica, keeping what was acknowledged."""

    def __init__(self, addresses: str, threads: int = 4) -> None:
        self._channel = kit_grpc.dial(addresses)
        self._client = EventStoreClient(self._channel, timeout=5.0, attempts=6)
        self._stop = threading.Event()
        self.acknowledged: list[str] = []
        self.refused = 0
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)]

    def _run(self, number: int) -> None:
        count = 0
        while not self._stop.is_set():
            count += 1
            try:
                stored = self._client.create_event(order_event(f"t{number}-{count}"))
            except KitError:
                with self._lock:
                    self.refused += 1
                continue
            with self._lock:
                self.acknowledged.append(stored.event_id)

    def __enter__(self) -> Appenders:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)
        self._channel.close()

    def count(self) -> int:
        with self._lock:
            return len(self.acknowledged)


def test_killing_the_relay_leader_under_load_loses_and_doubles_nothing(
        start: Callable[[int], list[Replica]], db_url: str, nats_url: str) -> None:
    replicas = start(3)
    leader = the_leader(replicas)
    survivors = [r for r in replicas if r is not leader]
    with Appenders(",".join(r.address for r in replicas)) as load:
        eventually(lambda: load.count() >= 100)
        leader.process.kill()  # SIGKILL: no release of the lease, no flush
        leader.process.wait(10)
        before = load.count()
        new_leader = the_leader(survivors)
        eventually(lambda: load.count() >= before + 200)  # appends go on through the survivors
    assert new_leader.metric("eventstore_relay_leadership_changes_total") >= 1
    stored = everything_published(db_url)
    published = [headers["Nats-Msg-Id"] for _, _, headers in messages(nats_url)]
    assert published == stored  # each event once, in position order, across the hand-over
    assert set(load.acknowledged) <= set(published)  # every acknowledged append reached JetStream


def test_a_frozen_leader_resumed_after_the_hand_over_publishes_nothing(
        start: Callable[[int], list[Replica]], db_url: str, nats_url: str) -> None:
    replicas = start(2)
    frozen = the_leader(replicas)
    other = next(r for r in replicas if r is not frozen)
    channel = kit_grpc.dial(other.address)
    client = EventStoreClient(channel)
    try:
        for i in range(3):
            client.create_event(order_event(f"before-{i}"))
        everything_published(db_url)
        published_before = frozen.metric("eventstore_relay_published_total")
        os.kill(frozen.process.pid, signal.SIGSTOP)  # paused past its lease: GC pause, VM stall
        eventually(other.leads, timeout=20)
        for i in range(5):
            client.create_event(order_event(f"during-{i}"))
        everything_published(db_url)
        os.kill(frozen.process.pid, signal.SIGCONT)  # it wakes up believing it still leads
        eventually(lambda: frozen.metric("eventstore_relay_leadership_changes_total") >= 2, timeout=20)
        assert not frozen.leads()
        assert other.leads()
        for i in range(5):
            client.create_event(order_event(f"after-{i}"))
        stored = everything_published(db_url)
    finally:
        channel.close()
    assert frozen.metric("eventstore_relay_published_total") == published_before  # fenced: sent nothing
    assert [headers["Nats-Msg-Id"] for _, _, headers in messages(nats_url)] == stored


def test_appends_spread_over_replica_processes_keep_positions_dense_and_commit_ordered(
        start: Callable[[int], list[Replica]], db_url: str, nats_url: str) -> None:
    replicas = start(3)
    engine = make_engine(db_url)
    reader = SqlEventRepository(engine)
    seen: list[int] = []
    stop = threading.Event()

    def follow() -> None:  # the way every consumer reads: position > last seen
        last = 0
        while True:
            done = stop.is_set()
            for event in reader.read(EventQuery(from_position=last + 1, limit=50)):
                seen.append(event.position)
                last = event.position
            if done and reader.head() == last:
                return

    follower = threading.Thread(target=follow)
    follower.start()
    try:
        with Appenders(",".join(r.address for r in replicas), threads=6) as load:
            eventually(lambda: load.count() >= 300)
    finally:
        stop.set()
        follower.join(60)
    head = reader.head()
    reader.close()
    engine.dispose()
    assert all(r.metric("eventstore_requests_total") > 0 for r in replicas)  # every replica appended
    assert seen == list(range(1, head + 1))  # no position skipped or repeated by a catch-up reader
    stored = everything_published(db_url)  # first: the backlog drained, then the stream read
    assert [headers["Nats-Msg-Id"] for _, _, headers in messages(nats_url)] == stored
