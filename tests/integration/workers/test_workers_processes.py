"""The ``worker`` command as real processes: configured by environment twins, drained by SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request

from click.testing import CliRunner
from prometheus_client import CollectorRegistry
from workers_harness import System, poison

from kit.testing.net import free_port
from kit.testing.wait import eventually
from orders.domain import OrderStatus
from workers.cli import worker
from workers.deadletters import DeadLetterGauge

LAUNCH = "from workers.cli import worker; worker()"


def test_every_flag_has_its_environment_twin() -> None:
    shown = CliRunner().invoke(worker, ["--help"], terminal_width=200)
    assert shown.exit_code == 0
    for twin in ("EVENTSTREAM_NATS_URL", "EVENTSTREAM_EVENTSTORE_ADDR", "EVENTSTREAM_ORDERS_DB_URL",
                 "EVENTSTREAM_METRICS_PORT", "EVENTSTREAM_CONCURRENCY", "EVENTSTREAM_PAYMENT_CREDIT_LIMIT",
                 "EVENTSTREAM_PAYMENT_FAILURE_RATE", "EVENTSTREAM_REVIEW_CLOSED_RESTAURANTS",
                 "EVENTSTREAM_SAGA_TIMEOUT"):
        assert twin in shown.output
    refused = CliRunner().invoke(worker, ["payment", "--payment-credit-limit", "lots"])
    assert refused.exit_code == 2 and "not a decimal amount" in refused.output


def test_worker_processes_complete_orders_and_stop_cleanly_on_sigterm(system: System) -> None:
    env = {**os.environ, "EVENTSTREAM_NATS_URL": system.nats.url,
           "EVENTSTREAM_EVENTSTORE_ADDR": system.settings.eventstore_addr,
           "EVENTSTREAM_ORDERS_DB_URL": system.orders_db_url, "EVENTSTREAM_PAYMENT_CREDIT_LIMIT": "100.00",
           "EVENTSTREAM_REVIEW_CLOSED_RESTAURANTS": "closed-1,closed-2", "EVENTSTREAM_LOG_LEVEL": "WARNING"}
    metrics_port = free_port()
    processes = {
        name: subprocess.Popen(
            [sys.executable, "-c", LAUNCH, name, "--concurrency", "4",
             *(["--metrics-port", str(metrics_port)] if name == "payment" else [])],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for name in ("payment", "projection", "review", "saga")
    }
    try:
        approved, declined, closed = system.place(), system.place(price="80.00", quantity=2), \
            system.place(restaurant="closed-2")
        final = system.wait_final([approved, declined, closed], timeout=60)
        assert [final[o].status for o in (approved, declined, closed)] == [
            OrderStatus.APPROVED, OrderStatus.REJECTED, OrderStatus.REJECTED]
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as response:
            text = response.read().decode()
        assert 'worker_payment_requests_total{method="handle",outcome="ok"}' in text
        assert "jetstream_consumer_lag" in text
    finally:
        for process in processes.values():
            process.send_signal(signal.SIGTERM)
        codes = {name: process.wait(timeout=30) for name, process in processes.items()}
    assert codes == dict.fromkeys(processes, 0), {
        name: p.stdout.read().decode()[-2000:] for name, p in processes.items() if p.stdout}


def test_the_dead_letter_gauge_counts_what_waits_per_consumer(system: System) -> None:
    system.start_worker("projection")
    poison(system)
    registry = CollectorRegistry()
    gauge = DeadLetterGauge(system.nats.url, registry=registry)
    eventually(lambda: gauge.refresh() == {"projection": 1}, timeout=30)
    assert registry.get_sample_value("eventstream_dead_letters",
                                     {"stream": "DLQ", "consumer": "projection"}) == 1.0
