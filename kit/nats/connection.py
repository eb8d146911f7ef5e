"""Long-lived NATS connections for processes that must outlast NATS outages: consumers, the relay.

``connect_until_stopped`` connects for as long as it takes (NATS may start after the process, or be
down for a while) and gives up only when asked to stop; the client it returns reconnects by itself,
forever, after a connection breaks. ``pause`` sleeps in short slices so a stop is noticed at once,
and ``backoff`` is the capped exponential delay with jitter between failed attempts of anything
(re-subscribing, reading a checkpoint) that the two share.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable

import nats
from nats.aio.client import Client

from kit.nats.security import NatsSecurity
from kit.nats.servers import server_list

_LOG = logging.getLogger("kit.nats")

Callback = Callable[[], Awaitable[None]]
ErrorCallback = Callable[[Exception], Awaitable[None]]


def backoff(failures: int, cap: float) -> float:
    """Seconds to wait after ``failures`` failed attempts: 0.1 s doubling up to ``cap``, jittered."""
    return random.uniform(0.5, 1.0) * min(cap, 0.1 * 2.0 ** min(failures, 10))


async def pause(seconds: float, stopped: Callable[[], bool]) -> None:
    """Sleep ``seconds``, waking early once ``stopped()`` is true."""
    end = time.monotonic() + seconds
    while not stopped() and (left := end - time.monotonic()) > 0:
        await asyncio.sleep(min(0.05, left))


async def _quiet(exc: Exception) -> None:
    _LOG.debug("NATS connection error: %r", exc)


async def connect_until_stopped(
    nats_url: str, *, name: str, stopped: Callable[[], bool],
    reconnected_cb: Callback | None = None, disconnected_cb: Callback | None = None,
    error_cb: ErrorCallback | None = None, security: NatsSecurity | None = None,
) -> Client | None:
    """A connection to ``nats_url`` (reconnecting forever once made), or None if stopped first.

    ``security`` (default: from the environment, ``kit.nats.security``) authenticates it; settings
    that cannot work (a missing file) raise ``ValueError`` at once rather than retrying forever."""
    secured = (security or NatsSecurity.from_env()).connect_options()
    while not stopped():
        options: dict[str, object] = {
            "name": name, "connect_timeout": 2, "allow_reconnect": True, "max_reconnect_attempts": -1,
            "reconnect_time_wait": 0.25, "error_cb": error_cb or _quiet, **secured,
        }
        if reconnected_cb is not None:
            options["reconnected_cb"] = reconnected_cb
        if disconnected_cb is not None:
            options["disconnected_cb"] = disconnected_cb
        connecting = asyncio.ensure_future(nats.connect(server_list(nats_url), **options))
        while not connecting.done():
            if stopped():
                connecting.cancel()
                return None
            await asyncio.wait({connecting}, timeout=0.05)
        try:
            return connecting.result()
        except Exception as exc:
            _LOG.warning("%s cannot connect to NATS: %r", name, exc)
            await pause(1.0, stopped)
    return None


async def close_flushed(client: Client, name: str) -> None:
    """Flush what is buffered (acks, publishes) and close; a failed flush is logged, not raised."""
    try:
        if client.is_connected:
            await client.flush(timeout=5)
    except Exception as exc:  # what was still buffered is lost: acks are redelivered, publishes retried
        _LOG.warning("%s could not flush before closing: %r", name, exc)
    try:
        await client.close()
    except Exception as exc:
        _LOG.debug("%s close: %r", name, exc)
