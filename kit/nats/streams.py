"""Idempotent creation of JetStream streams and durable pull consumers, and a one-shot connection.

``ensure_stream`` creates a stream or widens the subjects of an existing one, lengthens its
duplicate window when a longer one is asked for (de-duplication by ``Nats-Msg-Id`` depends on it),
and leaves every other setting of an existing stream alone (an operator may have tuned replicas
or limits). Consumers are
created with "create or update" semantics: starting a consumer with the configuration it already has
is a no-op, so any number of instances can start at once.

Why the consumer carries no server-side ``backoff``: JetStream uses the first backoff value as the
ack wait of every delivery, which would redeliver a long-running handler's message after half a
second. Backoff is applied by the consumer when it naks a failed message instead, and ``ack_wait``
stays what it says. The server's ``max_deliver`` is one more than the consumer's: the extra delivery
is how a message that crashed or hung its handler on every attempt (so it was never nak'd) still
reaches the dead-letter stream instead of silently stopping.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from kit.errors import Unavailable
from kit.nats.security import NatsSecurity
from kit.nats.servers import log_connection_error, server_list

T = TypeVar("T")


@asynccontextmanager
async def connection(nats_url: str, *, name: str = "kit", timeout: float = 5.0,
                     security: NatsSecurity | None = None) -> AsyncIterator[Client]:
    """A short-lived connection for administrative calls; ``Unavailable`` if NATS cannot be reached.

    ``security`` (default: from the environment, ``kit.nats.security``) authenticates it."""
    # ``allow_reconnect=False`` makes nats-py retry a refused first connect forever; one attempt
    # per server (``max_reconnect_attempts=1``) under an overall bound gives up as asked.
    connect = nats.connect(server_list(nats_url), name=name, error_cb=log_connection_error,
                           connect_timeout=max(1, round(timeout)), max_reconnect_attempts=1,
                           **(security or NatsSecurity.from_env()).connect_options())
    try:
        client = await asyncio.wait_for(connect, timeout * 2)
    except Exception as exc:  # nats-py raises OSError, NoServersError, timeouts ... for the same cause
        raise Unavailable(f"cannot reach NATS at {nats_url}: {exc!r}") from exc
    try:
        yield client
    finally:
        await client.close()


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion on a private event loop (the sync helpers' bridge)."""
    return asyncio.run(coroutine)


async def ensure_stream_async(js: JetStreamContext, name: str, subjects: Sequence[str],
                              **config: Any) -> str:
    """Create stream ``name`` or bring an existing one in line; "created", "updated" or "unchanged".

    An existing stream gains the missing ``subjects`` and, if ``duplicate_window`` is given, a
    window at least that long; its other settings stay as they are.
    """
    try:
        info = await js.stream_info(name)
    except NotFoundError:
        config.setdefault("storage", StorageType.FILE)
        await js.add_stream(StreamConfig(name=name, subjects=list(subjects), **config))
        return "created"
    current = info.config
    wanted = sorted(set(current.subjects or []) | set(subjects))
    window = max(current.duplicate_window or 0, config.get("duplicate_window") or 0)
    if wanted == sorted(current.subjects or []) and window == (current.duplicate_window or 0):
        return "unchanged"
    current.subjects = wanted
    current.duplicate_window = window
    await js.update_stream(current)
    return "updated"


def ensure_stream(nats_url: str, name: str, subjects: Sequence[str], *,
                  security: NatsSecurity | None = None, **config: Any) -> None:
    """Create JetStream stream ``name`` on ``subjects`` unless it exists (then add missing subjects).

    ``config`` holds further ``nats.js.api.StreamConfig`` fields for a new stream (``max_age``,
    ``duplicate_window``, ``num_replicas``, ...); storage defaults to file. ``security``: the
    connection's credentials (default: from the environment).
    """

    async def ensure() -> None:
        async with connection(nats_url, security=security) as client:
            await ensure_stream_async(client.jetstream(), name, subjects, **config)

    run_sync(ensure())


def consumer_config(
    durable: str,
    *,
    filter_subjects: Sequence[str],
    max_deliver: int,
    ack_wait: float,
    max_ack_pending: int | None = None,
    description: str | None = None,
) -> ConsumerConfig:
    """The configuration of a durable pull consumer with explicit acks (see the module docstring)."""
    config = ConsumerConfig(
        name=durable,
        durable_name=durable,
        description=description,
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=ack_wait,
        max_deliver=max_deliver + 1,
        max_ack_pending=max_ack_pending,
    )
    if len(filter_subjects) == 1:
        config.filter_subject = filter_subjects[0]
    elif filter_subjects:
        config.filter_subjects = list(filter_subjects)
    return config


async def ensure_consumer(js: JetStreamContext, stream: str, config: ConsumerConfig) -> None:
    """Create the durable consumer, or bring an existing one to ``config`` (no-op when equal)."""
    await js.add_consumer(stream, config)
