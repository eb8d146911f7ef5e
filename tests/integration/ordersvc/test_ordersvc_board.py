"""The live board on a real event store: its SSE feed, figures, timelines and pages."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import urllib3
from dependency_injector import providers

from eventstoresvc.client import EventStoreClient
from eventstoresvc.container import build as build_eventstore
from eventstoresvc.server import EventStoreServer
from kit.testing.http import serve_wsgi
from kit.testing.nats import NatsServer
from kit.testing.net import free_port
from kit.testing.sse import SSEReader, open_stream
from kit.testing.wait import eventually
from orders.engine import make_engine
from ordersvc.board import Board
from ordersvc.board.feed import EventFeed
from ordersvc.container import Settings, build, close
from ordersvc.schema import create_schema
from workers.saga import SagaState
from workers.sagastore import Transition
from workers.schema import create_schema as create_workers_schema
from workers.sqlstores import SqlSagaStore

pytestmark = pytest.mark.integration

# Tracing on, so that events carry trace ids; no collector listens there (spans are dropped).
ZIPKIN = f"http://127.0.0.1:{free_port()}"


class BoardService:
    """The order service, with a board of two subscribers at most and quick heartbeats."""

    def __init__(self, base_url: str, board: Board, orders_db_url: str) -> None:
        self.base_url = base_url
        self.board = board
        self.orders_db_url = orders_db_url
        self.http = urllib3.PoolManager(maxsize=8)

    def get(self, path: str) -> urllib3.BaseHTTPResponse:
        return self.http.request("GET", self.base_url + path, retries=False, timeout=10.0)

    def place(self, customer: str = "cust-1") -> str:
        body = {"customer_id": customer, "restaurant_id": "rest-1",
                "order_items": [{"code": "p-1", "name": "Pizza", "unit_price": "12.50", "quantity": 2}]}
        response = self.http.request("POST", self.base_url + "/api/orders", json=body, retries=False,
                                     timeout=10.0)
        assert response.status == 201, response.data
        return str(response.json()["order_id"])

    def stream(self, after: int | None = 0, last_id: str | None = None) -> SSEReader:
        query = "" if after is None else f"?last_event_id={after}"
        headers = {"Last-Event-ID": last_id} if last_id else {}
        return open_stream(f"{self.base_url}/api/events/stream{query}", headers=headers)


@pytest.fixture
def service(nats_server: NatsServer, tmp_path: Path) -> Iterator[BoardService]:
    events_url, orders_url = f"sqlite:///{tmp_path / 'events.db'}", f"sqlite:///{tmp_path / 'orders.db'}"
    engine = make_engine(orders_url)
    create_schema(engine)
    create_workers_schema(engine)
    engine.dispose()
    nats_server.start()
    port = free_port()
    store = EventStoreServer(build_eventstore(db_url=events_url, nats_url=nats_server.url, port=port,
                                              zipkin_url=ZIPKIN), host="127.0.0.1", port=port)
    store.start()
    address = f"127.0.0.1:{port}"
    try:
        container = build(Settings(eventstore_addr=address, orders_db_url=orders_url, zipkin_url=ZIPKIN))
        container.board.override(providers.Singleton(
            Board, providers.Singleton(EventStoreClient, container.channel), container.engine,
            zipkin_url=ZIPKIN, max_subscribers=2, heartbeat=0.1))
        try:
            with serve_wsgi(container.app(), threads=8) as base_url:
                yield BoardService(base_url, container.board(), orders_url)
        finally:
            close(container)
    finally:
        store.stop(grace=1.0, flush_timeout=1.0)


def positions(reader: SSEReader, count: int) -> list[dict[str, object]]:
    found = []
    for event in reader.events():
        assert event.event == "order"
        data = json.loads(event.data)
        assert event.id == str(data["position"])
        found.append(data)
        if len(found) == count:
            break
    return found


def test_events_arrive_in_position_order_with_the_order_they_leave(service: BoardService) -> None:
    placed = [service.place(f"cust-{n}") for n in range(5)]
    reader = service.stream(after=0)
    got = positions(reader, 5)
    reader.close()
    assert [e["position"] for e in got] == [1, 2, 3, 4, 5]
    assert [e["order_id"] for e in got] == placed
    assert {e["event_type"] for e in got} == {"ORDERS.created"}
    assert all(e["order"]["status"] == "Pending" and e["order"]["amount"] == "25.00"  # type: ignore[index]
               for e in got)


def test_a_reconnect_with_last_event_id_resumes_without_gaps_or_duplicates(service: BoardService) -> None:
    for _ in range(3):
        service.place()
    first = service.stream(after=0)
    seen = positions(first, 2)
    first.close()
    for _ in range(3):  # placed while the client is away
        service.place()
    second = service.stream(after=0, last_id=str(seen[-1]["position"]))  # the header wins
    seen += positions(second, 4)
    second.close()
    assert [e["position"] for e in seen] == [1, 2, 3, 4, 5, 6]


def test_a_client_further_behind_than_the_memory_of_the_feed_is_caught_up_from_the_store(
        service: BoardService) -> None:
    client = service.board.client
    service.board.feed = EventFeed(client, start=lambda: 0, ring=2)
    for _ in range(6):
        service.place()
    eventually(lambda: service.board.feed.head == 6 or service.board.feed.start())
    reader = service.stream(after=1)
    got = positions(reader, 5)
    reader.close()
    assert [e["position"] for e in got] == [2, 3, 4, 5, 6]


def test_past_two_subscribers_the_stream_answers_429(service: BoardService) -> None:
    readers = [service.stream(), service.stream()]
    refused = service.get("/api/events/stream")
    assert refused.status == 429
    assert refused.headers["Content-Type"] == "application/problem+json"
    for reader in readers:
        reader.close()
    eventually(lambda: service.board.stream.slots.active == 0)
    assert service.get("/api/board/stats").status == 200


def test_a_subscriber_that_never_reads_slows_neither_the_others_nor_the_orders(service: BoardService) -> None:
    parts = urlsplit(service.base_url)
    stalled = socket.create_connection((parts.hostname or "", parts.port or 0))
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.sendall(b"GET /api/events/stream?last_event_id=0 HTTP/1.1\r\nHost: x\r\n\r\n")
    eventually(lambda: service.board.stream.slots.active == 1)
    reader = service.stream(after=0)
    placed: list[str] = []
    writer = threading.Thread(target=lambda: placed.extend(service.place() for _ in range(40)))
    writer.start()
    got = positions(reader, 40)
    writer.join(timeout=60)
    reader.close()
    stalled.close()
    assert not writer.is_alive() and len(placed) == 40
    assert [e["position"] for e in got] == list(range(1, 41))


def test_the_page_lists_recent_orders_and_figures_and_works_without_javascript(service: BoardService) -> None:
    order_id = service.place()
    eventually(lambda: service.board.feed.start() or service.board.feed.head >= 1)
    page = service.get("/board")
    html = page.data.decode()
    assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
    assert '<noscript><meta http-equiv="refresh"' in html
    assert f'id="order-{order_id}"' in html and "Pending" in html
    assert 'src="/board/static/board.js"' in html and "<svg" in html
    assert b"EventSource" in service.get("/board/static/board.js").data
    assert service.get("/board/static/other.js").status == 404
    stats = service.get("/api/board/stats").json()
    assert stats["counts"]["Pending"] >= 0 and len(stats["series"]) == 60
    assert stats["outbox_backlog"] is None and stats["dead_letters"] is None  # no NATS URL given


def test_the_timeline_shows_events_saga_compensations_and_the_trace_link(service: BoardService) -> None:
    order_id = service.place()
    now = datetime.now(UTC)
    store = SqlSagaStore(make_engine(service.orders_db_url))
    store.record(Transition(order_id, "e-1", "ORDERS.reviewrejected", SagaState.COMPENSATING,
                            ("ORDERS.paymentrefunded",), 3, now, now))
    timeline = service.get(f"/api/board/orders/{order_id}").json()
    assert [e["event_type"] for e in timeline["events"]] == ["ORDERS.created"]
    assert timeline["saga"]["state"] == "compensating"
    assert timeline["saga"]["compensations"] == ["ORDERS.paymentrefunded"]
    trace_id = timeline["trace_id"]
    assert trace_id and timeline["trace_url"] == f"{ZIPKIN}/zipkin/traces/{trace_id}"
    html = service.get(f"/board/orders/{order_id}").data.decode()
    assert "compensating" in html and f"/zipkin/traces/{trace_id}" in html
    assert service.get("/board/orders/no-such-order").status == 404


def test_counts_by_status_come_from_the_read_model(service: BoardService) -> None:
    for _ in range(2):
        service.place()
    def counts() -> dict[str, int]:
        return dict(service.get("/api/board/stats").json()["counts"])

    assert eventually(lambda: counts()["Pending"] == 2)
