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
