"""Drive the whole system, started by `eventstream up` as a subprocess, over its HTTP API."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kit.testing.net import free_port, free_port_block
from kit.testing.wait import eventually

FINAL = {"Approved", "Rejected", "Cancelled"}
CLOSED_RESTAURANT = "closed-restaurant"


@dataclass
class PlacedOrder:
    """An order the test placed, and the outcome it expects."""

    order_id: str
    kind: str  # "approve", "decline" (over the credit limit), "review" (closed restaurant)

    @property
    def expected_events(self) -> list[str]:
        """The event types this order must end with, each exactly once."""
        return {
            "approve": ["ORDERS.created", "ORDERS.paymentdebited", "ORDERS.approved"],
            "decline": ["ORDERS.created", "ORDERS.paymentfailed", "ORDERS.rejected"],
            "review": ["ORDERS.created", "ORDERS.paymentdebited", "ORDERS.reviewrejected",
                       "ORDERS.paymentrefunded", "ORDERS.rejected"],
        }[self.kind]

    @property
    def expected_status(self) -> str:
        """The final status this order must reach."""
        return "Approved" if self.kind == "approve" else "Rejected"


@dataclass
class System:
    """One `eventstream up` process on free ports, with its data under ``data_dir``."""

    data_dir: Path
    db_url: str = ""
    orders_db_url: str = ""
    nats_url: str = ""
    zipkin_url: str = ""
    workers: int = 1
    eventstores: int = 1
    http_port: int = field(default_factory=free_port)
    grpc_port: int = field(default_factory=free_port)
    nats_port: int = field(default_factory=free_port)
    # one port per worker instance, counting up from this one
    metrics_port: int = field(default_factory=lambda: free_port_block(8))
    process: subprocess.Popen[bytes] | None = None
    customer_id: str = field(default_factory=lambda: f"cust-{uuid.uuid4().hex[:8]}")
    env: dict[str, str] = field(default_factory=dict)
    """Extra environment of `eventstream up` (and so of every process it runs)."""
    headers: dict[str, str] = field(default_factory=dict)
    """Headers sent with every request (an ``Authorization`` with auth on)."""

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self, timeout: float = 120.0) -> None:
        """Start `eventstream up` and wait until /readyz answers 200."""
        args = [sys.executable, "-m", "eventstream", "up", "--http-port", str(self.http_port),
                "--grpc-port", str(self.grpc_port), "--nats-port", str(self.nats_port),
                "--metrics-port", str(self.metrics_port), "--workers", str(self.workers),
                "--eventstores", str(self.eventstores), "--data-dir", str(self.data_dir)]
        for flag, value in (("--db-url", self.db_url), ("--orders-db-url", self.orders_db_url),
                            ("--nats-url", self.nats_url), ("--zipkin-url", self.zipkin_url)):
            if value:
                args += [flag, value]
        env = {**os.environ, "EVENTSTREAM_REVIEW_CLOSED_RESTAURANTS": CLOSED_RESTAURANT,
               "EVENTSTREAM_LOG_LEVEL": "WARNING", **self.env}
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = (self.data_dir / "up.log").open("wb")
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
        process = self.process

        def ready() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"eventstream up exited with {process.returncode}:\n{self.log()}")
            try:
                return self.request("GET", "/readyz")[0] == 200
            except OSError:
                return False

        eventually(ready, timeout, interval=0.5, describe=lambda: f"the system was not ready:\n{self.log()}")

    def log(self, tail: int | None = 6000) -> str:
        """What `eventstream up` printed (its last ``tail`` characters; all with None)."""
        text = (self.data_dir / "up.log").read_text(errors="replace")
        return text if tail is None else text[-tail:]

    def stop(self, timeout: float = 90.0) -> int:
        """SIGTERM `eventstream up`; return its exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def request(self, method: str, path: str, body: Any = None,
                headers: dict[str, str] | None = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json", **self.headers,
                                                  **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def place(self, index: int) -> PlacedOrder:
        """Place one order, retrying with the same Idempotency-Key until the system accepts it."""
        kind = ("decline", "review", "approve", "approve", "approve")[index % 5]
        body = {
            "customer_id": self.customer_id,
            "restaurant_id": CLOSED_RESTAURANT if kind == "review" else f"rest-{index % 7}",
            "order_items": [{"code": f"p-{index}", "name": "Pizza", "quantity": 2,
                             "unit_price": "900.00" if kind == "decline" else "12.50"}],
        }
        key = f"{self.customer_id}-{index}"
        last: list[int] = []

        def accepted() -> PlacedOrder | None:
            try:
                status, reply = self.request("POST", "/api/orders", body, {"Idempotency-Key": key})
            except OSError:
                status, reply = 0, None
            last[:] = [status]
            if status == 201:
                return PlacedOrder(reply["order_id"], kind)
            assert status in (0, 500, 502, 503, 504), f"POST answered {status}: {reply}"
            return None

        return eventually(accepted, timeout=90, interval=0.5,
                          describe=lambda: f"order {index} never accepted, last {last}")

    def place_many(self, count: int, concurrency: int = 16, midway: threading.Event | None = None,
                   first: int = 0) -> list[PlacedOrder]:
        """Place ``count`` orders (numbered from ``first``) from ``concurrency`` threads; set
        ``midway`` a quarter of the way through."""
        placed: list[PlacedOrder] = []
        lock = threading.Lock()

        def one(index: int) -> None:
            order = self.place(index)
            with lock:
                placed.append(order)
                if midway is not None and len(placed) == count // 4:
                    midway.set()

        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(one, range(first, first + count)))
        return placed

    def events(self, order_id: str) -> list[dict[str, Any]]:
        status, reply = self.request("GET", f"/api/orders/{order_id}/events")
        assert status == 200, reply
        return list(reply["events"])

    def wait_final(self, orders: list[PlacedOrder], timeout: float = 180.0) -> dict[str, str]:
        """Wait until the read model shows every order in a final state; return id -> status."""
        pending: list[str] = []

        def final() -> dict[str, str] | None:
            statuses = self.read_model_statuses()
            pending[:] = [o.order_id for o in orders if statuses.get(o.order_id) not in FINAL]
            return None if pending else statuses

        return eventually(final, timeout, interval=1.0, describe=lambda: (
            f"{len(pending)} orders not final, e.g. {pending[:3]}:\n{self.log()}"))

    def read_model_statuses(self) -> dict[str, str]:
        """Every order of this test's customer as the read model (the list endpoint) shows it."""
        statuses: dict[str, str] = {}
        cursor = ""
        while True:
            query = f"/api/orders?customer_id={self.customer_id}&limit=100"
            status, page = self.request("GET", query + (f"&cursor={cursor}" if cursor else ""))
            assert status == 200, page
            statuses.update({order["order_id"]: order["status"] for order in page["orders"]})
            cursor = page.get("next_cursor") or ""
            if not cursor:
                return statuses

    def eventstore_metrics_port(self, replica: int) -> int:
        """The metrics port `eventstream up` gives event store replica ``replica`` (1-based)."""
        return self.metrics_port + 4 * self.workers + replica - 1

    def relay_leader(self) -> int | None:
        """Which event store replica (1-based) reports that it leads the relay, if exactly one does."""
        leading = []
        for replica in range(1, self.eventstores + 1):
            url = f"http://127.0.0.1:{self.eventstore_metrics_port(replica)}/metrics"
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    text = response.read().decode()
            except OSError:
                continue
            if "\neventstore_relay_leader 1.0" in text:
                leading.append(replica)
        return leading[0] if len(leading) == 1 else None

    def eventstore_pid(self, replica: int) -> int:
        """The pid of event store replica ``replica`` (1-based), found by its metrics port."""
        return self.child_pid(str(self.eventstore_metrics_port(replica)))

    def child_pid(self, name: str) -> int:
        """The pid of the child of `eventstream up` whose command line has ``name`` as a word."""
        assert self.process is not None
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if ppid == self.process.pid and name.encode() in argv:
                return int(entry.name)
        raise AssertionError(f"no child process {name!r}")


def check_outcome(system: System, orders: list[PlacedOrder]) -> int:
    """Every order final as expected, its events each exactly once, the read model matching the
    event store. Returns the number of events stored for these orders."""
    statuses = system.wait_final(orders)
    assert len({o.order_id for o in orders}) == len(orders), "an Idempotency-Key made two orders"
    assert len(statuses) == len(orders), "the read model holds orders nobody placed"
    total = 0
    for order in orders:
        types = [event["event_type"] for event in system.events(order.order_id)]
        total += len(types)
        assert Counter(types) == Counter(order.expected_events), (order, types)
        assert statuses[order.order_id] == order.expected_status, (order, statuses[order.order_id])
    return total


def stream_message_count(nats_url: str, stream: str = "ORDERS") -> int:
    """How many messages the JetStream stream holds."""
    import asyncio

    import nats
    import nats.errors

    async def count() -> int:
        client = await nats.connect(servers=nats_url.split(","))
        try:
            for attempt in range(20):  # a cluster that just lost a node answers after an election
                try:
                    info = await client.jetstream().stream_info(stream)
                    return int(info.state.messages)
                except nats.errors.TimeoutError:
                    if attempt == 19:
                        raise
                    await asyncio.sleep(0.5)
            raise AssertionError("unreachable")
        finally:
            await client.close()

    return asyncio.run(count())
