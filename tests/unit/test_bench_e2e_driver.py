"""The e2e driver against a fake order API: one sample per completed order, timed from the run's start.

The fake answers like ordersvc (201 with an id, then Pending and Approved on GET); a fake
``Completions`` wakes every client at once, so no NATS is involved at this level.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from eventstream.benchmarks.e2e_driver import drive_orders

REFUSED_KEY_SUFFIX = "-3"  # the order with index 3 is refused, as a validation error would


class FakeOrderAPI(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    gets: ClassVar[dict[str, int]] = {}
    lock = threading.Lock()

    def _answer(self, status: int, body: dict) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers["Idempotency-Key"].endswith(REFUSED_KEY_SUFFIX):
            self._answer(422, {"title": "invalid order"})
        else:
            self._answer(201, {"order_id": str(uuid.uuid4()), "status": "Pending"})

    def do_GET(self) -> None:
        order_id = self.path.rsplit("/", 1)[-1]
        with self.lock:
            seen = self.gets[order_id] = self.gets.get(order_id, 0) + 1
        self._answer(200, {"order_id": order_id, "status": "Approved" if seen > 1 else "Pending"})

    def log_message(self, *args: object) -> None:
        pass


class WakeAtOnce:
    """A ``Completions`` whose final event has always arrived already."""

    def __init__(self) -> None:
        self.forgotten: list[str] = []

    def expect(self, order_id: str) -> threading.Event:
        wake = threading.Event()
        wake.set()
        return wake

    def forget(self, order_id: str) -> None:
        self.forgotten.append(order_id)


@pytest.fixture
def api_port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOrderAPI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_the_driver_records_one_sample_per_completed_order(api_port):
    completions = WakeAtOnce()
    done = []
    outcome = drive_orders(port=api_port, completions=completions, customer_id="c", count=12,
                           concurrency=4, on_done=lambda: done.append(1))

    assert len(outcome.orders) == 11 == len(done)  # order 3 was refused: no sample for it
    assert len(outcome.failures) == 1 and "POST answered 422" in outcome.failures[0]
    assert sorted(completions.forgotten) == sorted(o.order_id for o in outcome.orders)
    for order in outcome.orders:
        assert order.status == "Approved"
        assert order.gets == 2
        # Finished after its own POST began, which was no earlier than the run's start.
        assert 0 < order.seconds <= order.finished <= outcome.seconds
