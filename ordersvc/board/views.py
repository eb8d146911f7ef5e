"""The board's Flask views: pages rendered on the server, the SSE stream, figures and timelines.

``Board`` holds what the views read (the feed, the orders database, JetStream figures, the Zipkin
URL); ``views(board)`` returns the view functions by route, which ``ordersvc.board.register_board``
routes in one place. Templates and static files are package data of ``ordersvc.board``.
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Callable, Iterator
from importlib import resources
from typing import Any

import flask
import jinja2
from sqlalchemy import Engine, func, select

from eventstoresvc.client import EventStoreClient
from kit.errors import InvalidArgument, NotFound
from kit.http import EventStream, ServerSentEvent
from kit.http.problem import problem_response
from kit.zipkin.server import ui_url
from orders.schema import orders
from ordersvc.board import figures
from ordersvc.board.feed import EventFeed, FeedItem
from ordersvc.board.recent import row_view
from ordersvc.board.timeline import timeline

STATIC = ("board.js", "board.css")
REFRESH = 5  # seconds between reloads of the page without JavaScript
WINDOW = 2000  # events before the newest projected one the feed starts from


def start_position(engine: Engine) -> int:
    """Where the feed starts: ``WINDOW`` events before the newest the read model has applied."""
    with engine.connect() as conn:
        newest = conn.execute(select(func.max(orders.c.last_position))).scalar()
    return max(0, int(newest or 0) - WINDOW)


class Board:
    """The live order board of one ordersvc process."""

    def __init__(self, client: EventStoreClient, engine: Engine, *, zipkin_url: str | None = None,
                 nats_url: str | None = None, max_subscribers: int = 4, heartbeat: float = 15.0) -> None:
        self.client = client
        self.engine = engine
        self.zipkin_url = zipkin_url or None
        self.feed = EventFeed(client, start=lambda: start_position(engine))
        self.streams = figures.JetStreamFigures(nats_url)
        self.stream = EventStream(self.source, heartbeat=heartbeat, max_subscribers=max_subscribers,
                                  retry_ms=1000, name="board_events")
        self._templates = jinja2.Environment(loader=jinja2.PackageLoader("ordersvc.board", "templates"),
                                             autoescape=True)

    def close(self) -> None:
        """Stop the feed."""
        self.feed.close()

    def source(self, last_event_id: str | None) -> Iterator[ServerSentEvent | None]:
        """The SSE events after ``last_event_id`` (a global position)."""
        after = None
        if last_event_id is not None:
            if not last_event_id.isdigit():
                raise InvalidArgument.for_field("Last-Event-ID", "must be an event position")
            after = int(last_event_id)
        items = self.feed.events(after, wait=min(1.0, self.stream_heartbeat))
        return (None if item is None else sse(item) for item in items)

    @property
    def stream_heartbeat(self) -> float:
        """Seconds between heartbeats of an idle stream."""
        return float(self.stream._heartbeat)

    def stats(self) -> dict[str, Any]:
        """Counts by status, the order rate and its chart, the outbox backlog and dead letters."""
        self.feed.start()
        rate, series = self.feed.recent.rate()
        stream = self.streams.get()
        return {
            "counts": figures.counts_by_status(self.engine),
            "orders_per_second": round(rate, 2),
            "series": series,
            "head": self.feed.head,
            "outbox_backlog": figures.backlog(self.feed.head, stream),
            "dead_letters": None if stream is None else stream.dead_letters,
        }

    def render(self, template: str, **values: Any) -> flask.Response:
        """An HTML page from the package's templates."""
        html = self._templates.get_template(template).render(refresh=REFRESH, **values)
        return flask.Response(html, content_type="text/html; charset=utf-8")


def sse(item: FeedItem) -> ServerSentEvent:
    """One feed item as an SSE ``order`` event: id = the global position."""
    event = item.event
    data = {"position": event.position, "event_type": event.event_type, "order_id": event.aggregate_id,
            "version": event.version, "created_at": event.created_at.isoformat(),
            "order": None if item.order is None else row_view(item.order)}
    return ServerSentEvent(json.dumps(data), id=str(event.position), event="order")


def chart_bars(series: list[int], width: int = 300, height: int = 60) -> list[dict[str, float]]:
    """The orders-per-second bars of the server-rendered chart (the script redraws it the same way)."""
    top = max([*series, 1])
    step = width / max(len(series), 1)
    return [{"x": i * step, "w": max(step - 1, 1), "h": height * n / top, "y": height - height * n / top}
            for i, n in enumerate(series)]


def views(board: Board) -> dict[str, tuple[Callable[..., flask.Response], str]]:
    """The board's views by route, each with its endpoint name."""

    def page() -> flask.Response:
        stats = board.stats()
        return board.render("board.html", rows=board.feed.recent.rows(), stats=stats,
                            bars=chart_bars(stats["series"]), after=stats["head"],
                            trace_ui=ui_url(board.zipkin_url) if board.zipkin_url else None)

    def order_page(order_id: str) -> flask.Response:
        try:
            found = timeline(board.client, board.engine, order_id, board.zipkin_url)
        except NotFound as exc:
            return problem_response(exc, flask.request)
        return board.render("order.html", t=found)

    def order_json(order_id: str) -> flask.Response:
        try:
            return flask.jsonify(timeline(board.client, board.engine, order_id, board.zipkin_url))
        except NotFound as exc:
            return problem_response(exc, flask.request)

    def stats_json() -> flask.Response:
        return flask.jsonify(board.stats())

    def static(name: str) -> flask.Response:
        if name not in STATIC:
            return problem_response(NotFound(f"no static file {name}"), flask.request)
        body = resources.files("ordersvc.board").joinpath("static", name).read_bytes()
        response = flask.Response(body, content_type=mimetypes.guess_type(name)[0] or "text/plain")
        response.headers["Cache-Control"] = "max-age=300"
        return response

    return {
        "/board": (page, "board"),
        "/board/orders/<order_id>": (order_page, "board_order"),
        "/board/static/<name>": (static, "board_static"),
        "/api/board/stats": (stats_json, "board_stats"),
        "/api/board/orders/<order_id>": (order_json, "board_order_json"),
        "/api/events/stream": (board.stream, "board_events"),
    }
