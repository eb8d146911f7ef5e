"""Fixtures of the workers' integration tests: a fresh nats-server per test, the whole system on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from workers_harness import System

from kit.testing.nats import NatsServer, running_nats
from kit.testing.postgres import Postgres, running_postgres


@pytest.fixture
def nats_server() -> Iterator[NatsServer]:
    """A nats-server of this test alone: streams and durable consumers start empty."""
    with running_nats() as server:
        yield server


@pytest.fixture(scope="session")
def postgres() -> Iterator[tuple[Postgres, str]]:
    """A real PostgreSQL server for the run."""
    with running_postgres() as server:
        yield server


@pytest.fixture
def system(nats_server: NatsServer, tmp_path: Path) -> Iterator[System]:
    """Event store and order service on SQLite; the test starts the workers it needs."""
    running = System(nats_server, tmp_path)
    try:
        yield running
    finally:
        running.close()
