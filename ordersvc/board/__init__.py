"""The live order board: ``GET /board`` shows recent orders, their sagas and figures, updated live.

Routes (all registered by ``register_board``, in this one place)::

    GET /board                         the page: recent orders, counts by status, orders/s, backlog
    GET /board/orders/<order_id>       one order's timeline: events, saga, compensations, trace link
    GET /board/static/<name>           the page's script and style sheet (package data, no CDN)
    GET /api/events/stream             Server-Sent Events: each stored event, id = global position
    GET /api/board/stats               the figures as JSON (the script polls them)
    GET /api/board/orders/<order_id>   the timeline as JSON (the script shows it beside the table)

The page is rendered on the server and works without JavaScript (it reloads every few seconds);
with it, ``board.js`` follows the stream and updates rows in place. Every view goes through
``protect`` so that an access requirement (an ``orders:admin`` token, say) is one argument.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flask

from ordersvc.board.access import OPEN_VIEWS, BoardAccess
from ordersvc.board.views import Board, views

__all__ = ["Board", "BoardAccess", "register_board"]

View = Callable[..., flask.Response]


def register_board(app: flask.Flask, board: Board, *, protect: Callable[[View], View] = lambda view: view,
                   ) -> None:
    """Route the board's views on ``app``, each wrapped in ``protect`` (its static files aside)."""
    for rule, (view, name) in views(board).items():
        guarded: Any = view if name in OPEN_VIEWS else protect(view)
        app.add_url_rule(rule, endpoint=name, view_func=guarded, methods=["GET"])
