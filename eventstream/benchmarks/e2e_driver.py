"""A closed-loop order driver for the ``e2e`` suite: place orders over HTTP, time each to its final state.

``concurrency`` client threads each place an order (``POST /api/orders`` with an ``Idempotency-Key``,
retried with the same key after a transient failure, as a real client would), wait until a
``GET /api/orders/<id>`` shows the order in a final state, and only then place the next one. An
order's latency runs from the start of its POST to the GET answer that shows it final.

Polling every order every few milliseconds would put the benchmark's own GETs among the costs it
measures (at 64 clients, thousands of GETs per second). Instead one NATS subscription of this process
listens to the final events (``ORDERS.approved``, ``ORDERS.rejected``; a core subscription beside the
JetStream stream, no consumer) and wakes the client whose order it names; the client then GETs the
order, again every ``POLL_INTERVAL`` while the read model has not caught up with the event. Without
a wake-up a client still GETs its order every ``FALLBACK_POLL`` seconds, so a missed message slows
the figure down instead of hanging the run. The final status is always what the HTTP API answers.
"""

from __future__ import annotations

import asyncio
import http.client
import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

FINAL = frozenset({"Approved", "Rejected", "Cancelled"})
FINAL_SUBJECTS = ("ORDERS.approved", "ORDERS.rejected")
POLL_INTERVAL = 0.005
FALLBACK_POLL = 1.0
TRANSIENT = frozenset({0, 502, 503, 504})
POST_ATTEMPTS = 5


class Completions:
    """Wakes the thread waiting for an order when the order's final event is published."""

    def __init__(self, nats_url: str) -> None:
        self._nats_url = nats_url
        self._lock = threading.Lock()
        self._waiting: dict[str, threading.Event] = {}
        self._early: set[str] = set()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True, name="e2e-completions")

    def __enter__(self) -> Completions:
        self._thread.start()
        if not self._ready.wait(15) or self._error is not None:
            raise RuntimeError(f"cannot subscribe to {self._nats_url}: {self._error}")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def expect(self, order_id: str) -> threading.Event:
        """The event set when ``order_id``'s final event arrives (set already if it came first)."""
        wake = threading.Event()
        with self._lock:
            if order_id in self._early:
                self._early.discard(order_id)
                wake.set()
            else:
                self._waiting[order_id] = wake
        return wake

    def forget(self, order_id: str) -> None:
        """Stop watching ``order_id``."""
        with self._lock:
            self._waiting.pop(order_id, None)

    def _arrived(self, order_id: str) -> None:
        with self._lock:
            wake = self._waiting.pop(order_id, None)
            if wake is None:
                self._early.add(order_id)
        if wake is not None:
            wake.set()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._subscribe())
        except BaseException as exc:  # reported by __enter__ or shows up as slow wake-ups
            self._error = exc
            self._ready.set()

    async def _subscribe(self) -> None:
        import nats

        client = await nats.connect(self._nats_url, max_reconnect_attempts=-1)

        async def on_message(msg: Any) -> None:
            order_id = (msg.headers or {}).get("Aggregate-Id")
            if order_id:
                self._arrived(order_id)

        for subject in FINAL_SUBJECTS:
            await client.subscribe(subject, cb=on_message, pending_msgs_limit=-1)
        await client.flush()
        self._stop = asyncio.Event()
        self._ready.set()
        await self._stop.wait()
        await client.close()


@dataclass
class OrderTiming:
    """One order of a run: its final status, ``seconds`` from POST to final, ``finished`` since the start."""

    order_id: str
    status: str
    seconds: float
    gets: int
    finished: float = 0.0


@dataclass
class RunOutcome:
    """The orders of one closed-loop run and how long the run took."""

    orders: list[OrderTiming] = field(default_factory=list)
    seconds: float = 0.0
    post_retries: int = 0
    failures: list[str] = field(default_factory=list)


def order_body(customer_id: str, index: int) -> dict[str, Any]:
    """An order under the payment credit limit at an open restaurant: one that gets Approved."""
    return {"customer_id": customer_id, "restaurant_id": f"rest-{index % 7}",
            "order_items": [{"code": f"p-{index % 50}", "name": "Pizza", "quantity": 2,
                             "unit_price": "12.50"}]}


class _Client:
    """One keep-alive HTTP connection to the order API."""

    def __init__(self, port: int) -> None:
        self._port = port
        self._conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(self, method: str, path: str, body: bytes | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, Any]:
        """(status, decoded JSON); status 0 when the connection failed."""
        try:
            self._conn.request(method, path, body=body, headers=headers or {})
            response = self._conn.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException):
            self._conn.close()  # the next request reconnects
            return 0, None
        return response.status, json.loads(raw) if raw else None


def drive_orders(*, port: int, completions: Completions, customer_id: str, count: int,
                 concurrency: int, order_timeout: float = 60.0,
                 on_done: Callable[[], None] = lambda: None) -> RunOutcome:
    """Place ``count`` orders from ``concurrency`` closed-loop clients and time each one."""
    outcome = RunOutcome()
    lock = threading.Lock()
    numbers = itertools.count()
    prefix = uuid.uuid4().hex[:10]

    def place(client: _Client, index: int) -> str | None:
        body = json.dumps(order_body(customer_id, index)).encode()
        headers = {"Content-Type": "application/json", "Idempotency-Key": f"{prefix}-{index}"}
        for attempt in range(POST_ATTEMPTS):
            status, reply = client.call("POST", "/api/orders", body, headers)
            if status == 201:
                return str(reply["order_id"])
            if status not in TRANSIENT or attempt == POST_ATTEMPTS - 1:
                with lock:
                    outcome.failures.append(f"order {index}: POST answered {status}: {reply}")
                return None
            with lock:
                outcome.post_retries += 1
            time.sleep(0.1 * (attempt + 1))
        return None

    def settle(client: _Client, order_id: str, began: float) -> OrderTiming:
        wake = completions.expect(order_id)
        gets, status = 0, ""
        try:
            while True:
                woken = wake.wait(FALLBACK_POLL)
                code, reply = client.call("GET", f"/api/orders/{order_id}")
                gets += 1
                status = str(reply.get("status", "")) if code == 200 and isinstance(reply, dict) else ""
                now = time.perf_counter()
                if status in FINAL or now - began > order_timeout:
                    # ``started`` is set before any client thread starts.
                    return OrderTiming(order_id, status or f"HTTP {code}", now - began, gets,
                                       now - started)
                if woken:
                    time.sleep(POLL_INTERVAL)
        finally:
            completions.forget(order_id)

    def worker() -> None:
        client = _Client(port)
        while (index := next(numbers)) < count:
            began = time.perf_counter()
            order_id = place(client, index)
            if order_id is None:
                continue
            timing = settle(client, order_id, began)
            with lock:
                outcome.orders.append(timing)
            on_done()

    threads = [threading.Thread(target=worker, daemon=True, name=f"e2e-client-{n}")
               for n in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    outcome.seconds = time.perf_counter() - started
    return outcome


def count_by_status(port: int, customer_id: str) -> dict[str, int]:
    """How many orders of ``customer_id`` the read model (the list endpoint) shows in each status."""
    client = _Client(port)
    counts: dict[str, int] = {}
    cursor = ""
    while True:
        path = f"/api/orders?customer_id={customer_id}&limit=100" + (f"&cursor={cursor}" if cursor else "")
        status, page = client.call("GET", path)
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}: {page}")
        for order in page["orders"]:
            counts[order["status"]] = counts.get(order["status"], 0) + 1
        cursor = page.get("next_cursor") or ""
        if not cursor:
            return counts
