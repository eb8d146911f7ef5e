"""Schema bootstrap: idempotent, and migrating the per-event outbox table of earlier releases."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, inspect, text

from eventstoresvc.domain import ExpectedVersion
from eventstoresvc.schema import create_schema, drop_schema
from eventstoresvc.sqlstore import SqlEventRepository
from eventstoresvc.testing import order_event

pytestmark = pytest.mark.integration


def test_create_schema_twice_keeps_the_checkpoint(engine: Engine) -> None:
    repository = SqlEventRepository(engine)
    try:
        for i in range(3):
            repository.append(order_event(f"o{i}"), ExpectedVersion.any())
        repository.mark_published([1, 2])
        create_schema(engine)
        assert repository.published_through() == 2
        assert repository.backlog() == 1
    finally:
        repository.close()


def test_a_legacy_outbox_becomes_the_checkpoint_below_its_oldest_entry(engine: Engine) -> None:
    repository = SqlEventRepository(engine)
    try:
        for i in range(5):
            repository.append(order_event(f"o{i}"), ExpectedVersion.any())
    finally:
        repository.close()
    with engine.begin() as conn:  # the earlier layout: events 1-3 published, 4 and 5 in the outbox
        conn.execute(text("DROP TABLE relay_checkpoint"))
        conn.execute(text("CREATE TABLE outbox (position BIGINT PRIMARY KEY, event_id VARCHAR(128))"))
        conn.execute(text("INSERT INTO outbox (position, event_id) VALUES (4, 'a'), (5, 'b')"))
    create_schema(engine)
    assert "outbox" not in inspect(engine).get_table_names()
    repository = SqlEventRepository(engine)
    try:
        assert repository.published_through() == 3
        assert [e.position for e in repository.pending(10)] == [4, 5]
    finally:
        repository.close()
    drop_schema(engine)
