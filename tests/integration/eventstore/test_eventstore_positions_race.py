"""The commit-order race: concurrent appenders in several "processes" and a catch-up reader.

Each process is its own repository and engine (its own group committer and connection pool), so
their transactions really interleave in the database. The reader follows the log the way every
consumer does, ``position > last seen``; if a smaller position ever became visible after a larger
one, the reader would skip it and the sequence it saw would have a hole.
"""

from __future__ import annotations

import random
import threading
import time

import pytest
from sqlalchemy import Engine

from eventstoresvc.domain import EventQuery, ExpectedVersion
from eventstoresvc.engine import make_engine
from eventstoresvc.sqlstore import SqlEventRepository
from eventstoresvc.testing import order_event

pytestmark = pytest.mark.integration

ITERATIONS = 8


def _follow(reader: SqlEventRepository, last: int, seen: list[int], stop: threading.Event) -> None:
    while True:
        done = stop.is_set()  # read once more after the writers finished
        for event in reader.read(EventQuery(from_position=last + 1, limit=random.choice([1, 7, 100]))):
            seen.append(event.position)
            last = event.position
        if done and reader.head() == last:
            return


def test_catch_up_reader_never_skips_a_position(engine: Engine, db_url: str) -> None:
    for iteration in range(ITERATIONS):
        rng = random.Random(iteration)
        processes = [SqlEventRepository(make_engine(db_url)) for _ in range(rng.randint(2, 4))]
        reader = SqlEventRepository(make_engine(db_url))
        start = reader.head()
        seen: list[int] = []
        stop = threading.Event()
        follower = threading.Thread(target=_follow, args=(reader, start, seen, stop))
        follower.start()

        def write(repo: SqlEventRepository, thread_no: int, count: int, seed: int) -> None:
            local = random.Random(seed)
            for i in range(count):
                aggregate = f"agg-{local.randint(0, 5)}"
                repo.append(order_event(aggregate, data={"t": thread_no, "i": i}), ExpectedVersion.any())
                if local.random() < 0.3:
                    time.sleep(local.random() / 500)

        writers = [
            threading.Thread(target=write, args=(repo, n, rng.randint(5, 25), rng.random()))
            for n, repo in enumerate(processes * rng.randint(1, 3))
        ]
        for thread in writers:
            thread.start()
        for thread in writers:
            thread.join()
        stop.set()
        follower.join(timeout=60)
        head = reader.head()
        assert seen == list(range(start + 1, head + 1)), f"iteration {iteration}: reader skipped or repeated"
        for repo in [*processes, reader]:
            repo.close()
            repo.engine.dispose()
