"""The one ``ensure_stream``: creates a stream, widens an existing one, leaves tuned settings alone."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import nats
import pytest
from nats.js.api import StreamConfig

from eventstoresvc import jetstream
from kit.nats.streams import ensure_stream_async
from kit.testing.nats import NatsServer, running_nats

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server() -> Iterator[NatsServer]:
    with running_nats() as server:
        yield server


async def _ensure_twice(url: str, name: str) -> tuple[list[str], StreamConfig]:
    client = await nats.connect(url)
    js = client.jetstream()
    try:
        results = [await ensure_stream_async(js, name, [f"{name}.a"], duplicate_window=60.0)]
        results.append(await ensure_stream_async(js, name, [f"{name}.a"], duplicate_window=60.0))
        results.append(await ensure_stream_async(js, name, [f"{name}.b"], duplicate_window=30.0,
                                                 max_msgs=5))
        results.append(await ensure_stream_async(js, name, [f"{name}.b"], duplicate_window=120.0))
        return results, (await js.stream_info(name)).config
    finally:
        await client.close()


def test_a_stream_is_created_then_widened_and_its_window_only_lengthened(server: NatsServer) -> None:
    results, config = asyncio.run(_ensure_twice(server.url, "WIDEN"))
    assert results == ["created", "unchanged", "updated", "updated"]
    assert sorted(config.subjects or []) == ["WIDEN.a", "WIDEN.b"]
    assert config.duplicate_window == 120.0  # never shortened by the 30 s request
    assert config.max_msgs in (None, -1)  # settings of an existing stream are not changed


async def _orders_stream(url: str) -> tuple[str, str, StreamConfig]:
    client = await nats.connect(url)
    js = client.jetstream()
    try:
        await js.add_stream(StreamConfig(name=jetstream.STREAM_NAME, subjects=["ORDERS.*"],
                                         duplicate_window=10.0))
        first = await jetstream.ensure_stream(js)
        second = await jetstream.ensure_stream(js)
        return first, second, (await js.stream_info(jetstream.STREAM_NAME)).config
    finally:
        await js.delete_stream(jetstream.STREAM_NAME)
        await client.close()


def test_an_existing_orders_stream_gets_a_two_hour_duplicate_window(server: NatsServer) -> None:
    first, second, config = asyncio.run(_orders_stream(server.url))
    assert (first, second) == ("updated", "unchanged")
    assert config.subjects == ["ORDERS.*"]
    assert config.duplicate_window == jetstream.DUPLICATE_WINDOW >= 3600
