"""Group commit: batching, per-request outcomes, failures and shutdown."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from eventstoresvc.groupcommit import GroupCommitter
from kit.errors import Conflict, Unavailable


def test_concurrent_requests_share_batches_and_get_their_own_outcomes() -> None:
    batches: list[list[int]] = []
    release = threading.Event()

    def commit(batch: Sequence[int]) -> list[int | BaseException]:
        release.wait(5)  # hold the first batch so the rest queue up behind it
        batches.append(list(batch))
        return [Conflict(f"odd {n}") if n % 2 else n * 10 for n in batch]

    committer: GroupCommitter[int, int] = GroupCommitter(commit)

    def call(n: int) -> object:
        try:
            return committer.submit(n)
        except Conflict as exc:
            return exc.message

    with ThreadPoolExecutor(16) as pool:
        futures = [pool.submit(call, n) for n in range(16)]
        threading.Timer(0.1, release.set).start()
        results = [f.result() for f in futures]
    committer.close()
    assert results == [n * 10 if n % 2 == 0 else f"odd {n}" for n in range(16)]
    assert sorted(n for batch in batches for n in batch) == list(range(16))
    assert len(batches) < 16  # at least some requests were committed together


def test_a_failing_commit_fails_every_request_of_its_batch_and_the_writer_survives() -> None:
    calls = 0

    def commit(batch: Sequence[str]) -> list[str | BaseException]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise Unavailable("database down")
        return [s.upper() for s in batch]

    committer: GroupCommitter[str, str] = GroupCommitter(commit)
    with pytest.raises(Unavailable):
        committer.submit("a")
    assert committer.submit("b") == "B"
    committer.close()


def test_after_close_requests_are_refused() -> None:
    committer: GroupCommitter[int, int] = GroupCommitter(lambda batch: list(batch))
    assert committer.submit(1) == 1
    committer.close()
    with pytest.raises(Unavailable):
        committer.submit(2)


def test_max_batch_bounds_the_weight_of_a_batch_and_a_heavy_request_goes_alone() -> None:
    from kit.testing.wait import eventually

    batches: list[list[str]] = []
    started = threading.Event()
    release = threading.Event()

    def commit(batch: Sequence[str]) -> list[str | BaseException]:
        started.set()
        release.wait(5)
        batches.append(list(batch))
        return [s.upper() for s in batch]

    committer: GroupCommitter[str, str] = GroupCommitter(commit, max_batch=10, weight=len)
    requests = ["aaaa", "bbbb", "cccc", "d" * 15, "ee", "f"]
    with ThreadPoolExecutor(len(requests) + 1) as pool:
        first = pool.submit(committer.submit, "x")
        started.wait(5)
        futures = [pool.submit(committer.submit, r) for r in requests]
        # Everything queued behind the held batch before it is released.
        eventually(lambda: committer._queue.qsize() == len(requests), timeout=10, interval=0.005,
                   describe=lambda: "requests not queued")
        release.set()
        assert first.result() == "X"
        assert [f.result() for f in futures] == [r.upper() for r in requests]
    committer.close()
    assert sorted(r for batch in batches for r in batch) == sorted(["x", *requests])
    for batch in batches:
        assert sum(map(len, batch)) <= 10 or len(batch) == 1
    assert ["d" * 15] in batches
    assert len(batches) < 1 + len(requests)  # light requests still share batches
