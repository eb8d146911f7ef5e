"""kit.http.EventStream on a real waitress server: order, resumption, heartbeats, the bound, slow readers."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import urllib3

from kit.errors import InvalidArgument
from kit.http import Broadcaster, EventStream, ServerSentEvent, create_app, register
from kit.testing.http import serve_wsgi
from kit.testing.sse import open_stream
from kit.testing.wait import eventually

pytestmark = pytest.mark.integration


class Log:
    """A positional log (1, 2, 3, ...) with live fan-out: what a service's event feed looks like."""

    def __init__(self, queue_size: int = 1000) -> None:
        self.lock = threading.Lock()
        self.items: list[str] = []
        self.live: Broadcaster[tuple[int, str]] = Broadcaster(queue_size)

    def append(self, text: str) -> None:
        with self.lock:
            self.items.append(text)
            self.live.publish((len(self.items), text))

    def source(self, last_id: str | None) -> Iterator[ServerSentEvent | None]:
        if last_id is not None and not last_id.isdigit():
            raise InvalidArgument.for_field("Last-Event-ID", "must be a position")
        with self.lock:  # subscribe and snapshot together: nothing between them is missed
            subscription = self.live.subscribe()
            after = int(last_id) if last_id is not None else len(self.items)
            backlog = list(enumerate(self.items, 1))[after:]
        return self._events(subscription, backlog, after)

    def _events(self, subscription: object, backlog: list[tuple[int, str]],
                after: int) -> Iterator[ServerSentEvent | None]:
        sent = after
        try:
            for position, text in backlog:
                sent = position
                yield ServerSentEvent(text, id=str(position))
            for item in subscription.items(0.05):  # type: ignore[attr-defined]
                if item is None:
                    yield None
                elif item[0] > sent:
                    sent = item[0]
                    yield ServerSentEvent(item[1], id=str(item[0]))
        finally:
            subscription.close()  # type: ignore[attr-defined]


def app_for(log: Log, **options: object) -> object:
    app = create_app(__name__)
    stream = EventStream(log.source, **{"heartbeat": 0.05, **options})  # type: ignore[arg-type]
    register(app, "/events", stream)
    app.extensions["stream"] = stream
    return app


def take(reader: object, count: int) -> list[tuple[str | None, str]]:
    got = []
    for event in reader.events():  # type: ignore[attr-defined]
        got.append((event.id, event.data))
        if len(got) == count:
            break
    return got


def test_events_arrive_in_position_order_with_their_ids() -> None:
    log = Log()
    for n in range(1, 6):
        log.append(f"e{n}")
    with serve_wsgi(app_for(log)) as base:
        reader = open_stream(f"{base}/events?last_event_id=0")
        assert reader.status == 200
        assert reader.response.headers["Content-Type"].startswith("text/event-stream")
        threading.Thread(target=lambda: [log.append(f"e{n}") for n in range(6, 51)]).start()
        got = take(reader, 50)
        reader.close()
    assert got == [(str(n), f"e{n}") for n in range(1, 51)]


def test_a_reconnect_with_last_event_id_resumes_without_gaps_or_duplicates() -> None:
    log = Log()
    with serve_wsgi(app_for(log)) as base:
        first = open_stream(f"{base}/events")
        for n in range(1, 11):
            log.append(f"e{n}")
        seen = take(first, 4)
        first.close()
        for n in range(11, 21):  # written while no one listens
            log.append(f"e{n}")
        second = open_stream(f"{base}/events", headers={"Last-Event-ID": seen[-1][0] or ""})
        seen += take(second, 16)
        second.close()
    assert [int(i or 0) for i, _ in seen] == list(range(1, 21))


def test_the_header_wins_over_the_query_parameter_and_a_bad_id_is_a_problem() -> None:
    log = Log()
    for n in range(1, 4):
        log.append(f"e{n}")
    with serve_wsgi(app_for(log)) as base:
        reader = open_stream(f"{base}/events?last_event_id=0", headers={"Last-Event-ID": "2"})
        assert take(reader, 1) == [("3", "e3")]
        reader.close()
        bad = urllib3.request("GET", f"{base}/events", headers={"Last-Event-ID": "x"})
    assert bad.status == 400
    assert bad.headers["Content-Type"] == "application/problem+json"
    assert json.loads(bad.data)["code"] == "INVALID_ARGUMENT"


def test_an_idle_stream_gets_heartbeat_comments() -> None:
    with serve_wsgi(app_for(Log(), heartbeat=0.1)) as base:
        reader = open_stream(f"{base}/events")
        received = b""
        while received.count(b": keep-alive") < 2:
            received += reader.response.read1(1024)
        reader.close()
    assert received.startswith(b": connected\n\n")


def test_past_the_subscriber_bound_the_answer_is_429_and_a_closed_stream_frees_its_slot() -> None:
    log = Log()
    app = app_for(log, max_subscribers=2, heartbeat=0.05)
    stream: EventStream = app.extensions["stream"]  # type: ignore[attr-defined]
    with serve_wsgi(app, threads=4) as base:
        readers = [open_stream(f"{base}/events") for _ in range(2)]
        refused = urllib3.request("GET", f"{base}/events")
        assert refused.status == 429
        assert refused.headers["Content-Type"] == "application/problem+json"
        assert refused.headers["Retry-After"] == "1"
        assert json.loads(refused.data)["code"] == "RESOURCE_EXHAUSTED"
        readers[0].close()
        eventually(lambda: stream.slots.active == 1)
        again = open_stream(f"{base}/events?last_event_id=0")
        log.append("e1")
        assert take(again, 1) == [("1", "e1")]
        for reader in (again, readers[1]):
            reader.close()


def read_all(base: str, total: int) -> list[int]:
    """Read positions 1..total like an EventSource: reconnect after the last id seen when cut off."""
    seen: list[int] = []
    while len(seen) < total:
        headers = {"Last-Event-ID": str(seen[-1])} if seen else {}
        reader = open_stream(f"{base}/events?last_event_id=0", headers=headers)
        for event in reader.events():
            seen.append(int(event.id or 0))
            if len(seen) == total:
                break
        reader.close()
    return seen


def test_a_subscriber_that_never_reads_slows_neither_the_writer_nor_the_others() -> None:
    log = Log(queue_size=256)
    payload = "x" * 4096
    # A small output buffer: the stalled connection fills it quickly, then its queue, and is cut off.
    with serve_wsgi(app_for(log), threads=4, outbuf_high_watermark=64 * 1024) as base:
        parts = urlsplit(base)
        stalled = socket.create_connection((parts.hostname or "", parts.port or 0))
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
        eventually(lambda: log.live.subscribers == 1)
        total = 2000  # about 8 MB: far more than the stalled connection's buffers hold
        writer = threading.Thread(target=lambda: [log.append(f"{n}:{payload}") for n in range(1, total + 1)])
        writer.start()
        got = read_all(base, total)
        writer.join(timeout=30)
        assert not writer.is_alive()
        assert log.live.dropped >= 1  # the stalled one, at least: it was cut off, not waited for
        stalled.close()
    assert got == list(range(1, total + 1))
