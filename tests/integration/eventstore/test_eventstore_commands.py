"""``bootstrap`` and ``eventstoresvc`` as an operator runs them: flags, environment twins, signals."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import nats
import pytest
from click.testing import CliRunner
from sqlalchemy import inspect

from eventstoresvc import jetstream
from eventstoresvc.client import EventStoreClient
from eventstoresvc.domain import EventQuery
from eventstoresvc.engine import make_engine
from eventstoresvc.testing import order_event
from eventstream.bootstrap import bootstrap_command as bootstrap
from kit import grpc as kit_grpc
from kit.testing.nats import NatsServer
from kit.testing.net import free_port, wait_for_port

pytestmark = pytest.mark.integration


async def _drop_stream(url: str) -> None:
    client = await nats.connect(url)
    with contextlib.suppress(nats.js.errors.NotFoundError):
        await client.jetstream().delete_stream(jetstream.STREAM_NAME)
    await client.close()


async def _stream_state(url: str) -> tuple[float, int]:
    client = await nats.connect(url)
    info = await client.jetstream().stream_info(jetstream.STREAM_NAME)
    await client.close()
    return info.config.duplicate_window or 0.0, info.state.messages


def test_bootstrap_is_idempotent(tmp_path: Path, nats_url: str) -> None:
    asyncio.run(_drop_stream(nats_url))
    db_url = f"sqlite:///{tmp_path / 'store.db'}"
    runner = CliRunner()
    first = runner.invoke(bootstrap, ["--db-url", db_url, "--nats-url", nats_url])
    assert first.exit_code == 0, first.output
    assert "stream ORDERS: created" in first.output
    assert "event store schema: ready" in first.output
    twins = {"EVENTSTREAM_DB_URL": db_url, "EVENTSTREAM_NATS_URL": nats_url}
    second = runner.invoke(bootstrap, [], env=twins)
    assert second.exit_code == 0, second.output
    assert "stream ORDERS: unchanged" in second.output
    engine = make_engine(db_url)
    assert {"events", "relay_checkpoint", "event_positions"} <= set(inspect(engine).get_table_names())
    engine.dispose()
    window, _ = asyncio.run(_stream_state(nats_url))
    assert window == jetstream.DUPLICATE_WINDOW


def test_bootstrap_reports_an_unreachable_nats(tmp_path: Path) -> None:
    result = CliRunner().invoke(bootstrap, ["--db-url", f"sqlite:///{tmp_path / 's.db'}",
                                            "--nats-url", f"nats://127.0.0.1:{free_port()}"])
    assert result.exit_code != 0


def test_bootstrap_composes_the_set_up_of_the_order_service_and_the_workers(tmp_path: Path) -> None:
    orders_db_url = f"sqlite:///{tmp_path / 'orders.db'}"
    result = CliRunner().invoke(bootstrap, ["--db-url", "", "--nats-url", "",
                                            "--orders-db-url", orders_db_url])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["read model schema: ready", "workers schema: ready"]
    engine = make_engine(orders_db_url)
    assert set(inspect(engine).get_table_names()) == {
        "orders", "order_items", "order_idempotency_keys",  # the order service's
        "payment_charges", "saga_instances", "saga_transitions",  # the workers'
    }
    engine.dispose()


def test_eventstoresvc_serves_then_shuts_down_gracefully_on_sigterm(
    tmp_path: Path, nats_server: NatsServer, nats_url: str
) -> None:
    asyncio.run(_drop_stream(nats_url))
    db_url = f"sqlite:///{tmp_path / 'svc.db'}"
    assert CliRunner().invoke(bootstrap, ["--db-url", db_url, "--nats-url", nats_url]).exit_code == 0
    port = free_port()
    env = {**os.environ, "EVENTSTREAM_PORT": str(port), "EVENTSTREAM_DB_URL": db_url,
           "EVENTSTREAM_NATS_URL": nats_url, "EVENTSTREAM_HOST": "127.0.0.1"}
    process = subprocess.Popen(
        [sys.executable, "-c", "from eventstoresvc.cli import eventstoresvc; eventstoresvc()"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, timeout=20)
        channel = kit_grpc.dial(f"127.0.0.1:{port}")
        client = EventStoreClient(channel)
        stored = [client.create_event(order_event(f"o{i}")) for i in range(5)]
        assert client.get_events(EventQuery()) == stored
        channel.close()
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output.decode()
    assert b"eventstoresvc stopped" in output
    _, messages = asyncio.run(_stream_state(nats_url))
    assert messages == 5  # the relay flushed before the process exited
