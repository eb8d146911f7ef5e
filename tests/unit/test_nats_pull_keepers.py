"""The pull loop's background keepers end when the loop leaves, even if a cancellation is lost.

On Python 3.11, ``asyncio.wait_for`` returns the result instead of raising ``CancelledError`` when
its awaitable completes at the moment it is cancelled; nats-py requests are built on it. A keeper
that relied on cancellation alone would then loop on and hold up the consumer's stop.
"""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace
from typing import Any

from prometheus_client import CollectorRegistry

from kit.nats.handler import RELEASED
from kit.nats.metrics import ConsumerMetrics
from kit.nats.pull import PullLoop, Settings, Tally


class SwallowingJetStream:
    """A ``consumer_info`` that answers even when cancelled, as a lost cancellation does."""

    def __init__(self) -> None:
        self.calls = 0
        self.swallowed = False

    async def consumer_info(self, stream: str, durable: str, timeout: float) -> Any:
        self.calls += 1
        try:
            await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            if self.swallowed:
                raise
            self.swallowed = True  # the first one is lost: the caller carries on as if nothing happened
        return SimpleNamespace(num_pending=3, num_ack_pending=0)


def loop() -> PullLoop:
    settings = Settings(nats_url="nats://127.0.0.1:1", stream="S", durable="d", name="d",
                        filter_subjects=(), max_concurrency=1, max_deliver=3, ack_wait=30, backoff=(),
                        heartbeat=10, dead_letter_stream="DLQ", batch=2, lag_interval=0.01)
    metrics = ConsumerMetrics("S", "d", CollectorRegistry())
    return PullLoop(settings, lambda message: RELEASED, metrics, Tally(), threading.Event())


def test_the_lag_keeper_ends_once_the_loop_leaves_though_its_cancellation_was_swallowed():
    async def scenario() -> int:
        js = SwallowingJetStream()
        leaving = asyncio.Event()
        keeper = asyncio.create_task(loop()._refresh_lag(js, leaving))  # type: ignore[arg-type]
        while js.calls == 0:
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.01)  # inside consumer_info
        leaving.set()
        keeper.cancel()
        done, _ = await asyncio.wait({keeper}, timeout=2)
        assert js.swallowed
        if not done:
            keeper.cancel()  # not lost this time: the test ends either way
        return bool(done)

    assert asyncio.run(scenario()), "the keeper went on after the loop left"
