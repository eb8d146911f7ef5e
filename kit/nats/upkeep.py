"""The pull loop's background keepers: in-progress heartbeats and the lag gauges.

Both run for the life of one connection and end when ``leaving`` is set, not only when cancelled:
on Python 3.11 a ``wait_for`` whose awaitable completes as it is cancelled swallows the
cancellation, and a keeper inside a NATS request would then loop on forever.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, MutableMapping
from typing import Any

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from kit.nats.metrics import ConsumerMetrics

_LOG = logging.getLogger("kit.nats")

Unsettled = MutableMapping[int, tuple[Msg, Any, float]]
"""Messages delivered and not settled: key -> (raw message, decoded message, last heartbeat)."""


async def keep_in_progress(unsettled: Unsettled, heartbeat: float, leaving: asyncio.Event, name: str) -> None:
    """Tell the server every ``heartbeat`` seconds that unsettled messages are still being handled."""
    while not leaving.is_set():
        await asyncio.sleep(heartbeat / 2)
        now = time.monotonic()
        for key, (raw, message, since) in list(unsettled.items()):
            if now - since >= heartbeat:
                try:
                    await raw.in_progress()
                except Exception as exc:
                    _LOG.debug("consumer %s in_progress: %r", name, exc)
                if key in unsettled:
                    unsettled[key] = (raw, message, now)


async def refresh_lag(js: JetStreamContext, *, stream: str, durable: str, name: str, interval: float,
                      metrics: ConsumerMetrics, gone: Callable[[], None], leaving: asyncio.Event) -> None:
    """Refresh the lag gauges every ``interval`` seconds; call ``gone`` if the consumer has disappeared."""
    while not leaving.is_set():
        await asyncio.sleep(interval)
        try:
            info = await js.consumer_info(stream, durable, timeout=2)
        except NotFoundError:
            _LOG.warning("consumer %s: durable %s is gone from %s; re-creating it", name, durable, stream)
            gone()
            continue
        except Exception as exc:
            _LOG.debug("consumer %s lag refresh: %r", name, exc)
            continue
        metrics.lag.set(info.num_pending or 0)
        metrics.ack_pending.set(info.num_ack_pending or 0)
