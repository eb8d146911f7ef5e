import contextvars
import threading
import time

import pytest

from kit import context, errors
from kit.context import TraceContext


def test_outside_a_request_the_context_is_empty():
    ctx = context.current()
    assert ctx.trace is None
    assert ctx.deadline is None
    assert ctx.remaining() is None
    assert not ctx.expired()
    assert dict(ctx.metadata) == {}


def test_scope_sets_and_restores():
    trace = TraceContext(trace_id="a" * 16, span_id="b" * 16)
    with context.scope(trace=trace, metadata={"x-user": "u1"}) as ctx:
        assert context.current() is ctx
        assert ctx.trace == trace
        assert ctx.metadata["x-user"] == "u1"
        with context.scope(metadata={"x-other": "o"}) as inner:
            assert inner.trace == trace
            assert dict(inner.metadata) == {"x-user": "u1", "x-other": "o"}
        assert "x-other" not in context.current().metadata
    assert context.current().trace is None


def test_deadline_only_narrows():
    with context.scope(timeout=10) as outer:
        assert outer.remaining() is not None
        assert 9 < outer.remaining() <= 10
        with context.scope(timeout=100) as inner:
            assert inner.deadline == outer.deadline
        with context.scope(timeout=1) as inner:
            assert inner.deadline < outer.deadline


def test_check_deadline_raises_once_expired():
    with context.scope(deadline=time.monotonic() - 1):
        assert context.current().expired()
        with pytest.raises(errors.DeadlineExceeded):
            context.check_deadline()
    context.check_deadline()


def test_contexts_are_isolated_between_threads():
    seen: dict[str, str | None] = {}
    barrier = threading.Barrier(2)

    def worker(name: str) -> None:
        with context.scope(metadata={"who": name}):
            barrier.wait()
            seen[name] = context.current().metadata.get("who")

    threads = [threading.Thread(target=worker, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {"a": "a", "b": "b"}


def test_context_follows_copy_context_into_a_thread():
    result: list[str | None] = []
    with context.scope(metadata={"who": "parent"}):
        ctx = contextvars.copy_context()
    thread = threading.Thread(target=ctx.run, args=(lambda: result.append(
        context.current().metadata.get("who")),))
    thread.start()
    thread.join()
    assert result == ["parent"]
