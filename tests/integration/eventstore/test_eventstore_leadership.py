"""Relay leadership among replicas sharing one database: one relay at a time, hand-over, nothing lost."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from eventstoresvc.domain import ExpectedVersion, RecordedEvent
from eventstoresvc.engine import make_engine
from eventstoresvc.leader import RelayLeadership
from eventstoresvc.lease import RelayLease
from eventstoresvc.relay import OutboxRelay
from eventstoresvc.schema import create_schema
from eventstoresvc.sqlstore import SqlEventRepository
from eventstoresvc.testing import order_event
from kit.testing.wait import eventually

from .test_eventstore_relay import _fresh_stream, messages

pytestmark = pytest.mark.integration


class Replica:
    """One replica's share of an event store: its own engine, repository and relay leadership."""

    def __init__(self, name: str, db_url: str, nats_url: str, ttl: float) -> None:
        self.engine = make_engine(db_url)
        self.repository = SqlEventRepository(self.engine)
        self.registry = CollectorRegistry()

        def make_relay(fence: object) -> OutboxRelay:
            return OutboxRelay(self.repository, nats_url, registry=self.registry, ack_timeout=1.0,
                               max_backoff=0.3, idle_poll=0.1, fence=fence)  # type: ignore[arg-type]

        self.leadership = RelayLeadership(RelayLease(self.engine, name, ttl), make_relay,
                                          registry=self.registry)

    def append(self, aggregate: str) -> RecordedEvent:
        return self.repository.append(order_event(aggregate), ExpectedVersion.any())

    def close(self) -> None:
        self.leadership.stop(flush_timeout=1)
        self.repository.close()
        self.engine.dispose()


@pytest.fixture
def replicas(tmp_path: Path, nats_url: str) -> Iterator[Callable[[int, float], list[Replica]]]:
    made: list[Replica] = []
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    engine = make_engine(url)
    create_schema(engine)
    engine.dispose()
    asyncio.run(_fresh_stream(nats_url))

    def make(count: int, ttl: float) -> list[Replica]:
        made.extend(Replica(f"r{i}", url, nats_url, ttl) for i in range(count))
        for replica in made:
            replica.leadership.start()
        return made

    yield make
    for replica in made:
        replica.close()


def leaders(replicas: list[Replica]) -> list[Replica]:
    return [r for r in replicas if r.leadership.leading]


def test_one_replica_leads_and_another_takes_over_when_it_stops(
        replicas: Callable[[int, float], list[Replica]], nats_url: str) -> None:
    three = replicas(3, 1.0)
    first = eventually(lambda: leaders(three))[0]
    assert len(leaders(three)) == 1
    stored = [three[i % 3].append(f"o{i}") for i in range(9)]
    eventually(lambda: first.repository.backlog() == 0)
    first.leadership.stop(flush_timeout=1)  # a clean stop releases the lease: no wait for expiry
    rest = [r for r in three if r is not first]
    second = eventually(lambda: leaders(rest), timeout=10)[0]
    stored += [rest[i % 2].append(f"p{i}") for i in range(6)]
    eventually(lambda: second.repository.backlog() == 0)
    assert len(leaders(three)) == 1
    ids = [h["Nats-Msg-Id"] for _, _, h in messages(nats_url)]
    assert ids == [e.event_id for e in stored]  # each once, in position order, across the hand-over
    assert first.leadership.metrics.leader._value.get() == 0
    assert second.leadership.metrics.leader._value.get() == 1


def test_a_leader_that_cannot_renew_stops_publishing_and_another_takes_over(
        replicas: Callable[[int, float], list[Replica]], nats_url: str) -> None:
    two = replicas(2, 1.0)
    first = eventually(lambda: leaders(two))[0]
    other = next(r for r in two if r is not first)
    lease = first.leadership._lease

    def unreachable(*args: object) -> None:
        raise ConnectionError("the event database cannot be reached from this replica")

    lease.renew = lease.acquire = unreachable  # type: ignore[method-assign,assignment]  # partitioned
    eventually(lambda: leaders(two) == [other], timeout=10)
    published_by_first = first.registry.get_sample_value("eventstore_relay_published_total") or 0.0
    stored = [other.append(f"o{i}") for i in range(5)]
    eventually(lambda: other.repository.backlog() == 0)
    assert [h["Nats-Msg-Id"] for _, _, h in messages(nats_url)] == [e.event_id for e in stored]
    assert (first.registry.get_sample_value("eventstore_relay_published_total") or 0.0) == published_by_first
