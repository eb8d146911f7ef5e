"""Serve a WSGI app under a real waitress server for tests.

``with serve_wsgi(app) as base_url:`` starts waitress on a free 127.0.0.1 port in a background
thread, yields ``http://127.0.0.1:<port>``, and on exit closes the listener and every open
connection and stops the worker threads, so no test leaves a server behind.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import waitress.server
import waitress.wasyncore

WSGIApp = Callable[..., Any]


@contextmanager
def serve_wsgi(app: WSGIApp, *, threads: int = 4, **adjustments: Any) -> Iterator[str]:
    """Run ``app`` under waitress on 127.0.0.1 and yield its base URL; stop it on exit.

    ``adjustments`` are waitress settings (``max_request_body_size=...``, ``channel_timeout=...``).
    """
    server: Any = waitress.server.create_server(
        app, host="127.0.0.1", port=0, threads=threads, ident="kit-test", **adjustments
    )
    port: int = server.effective_port  # a single-socket server, since one host and port are given
    thread = threading.Thread(target=server.run, name=f"waitress-{port}", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(server, thread)


def _stop(server: Any, thread: threading.Thread) -> None:
    # Closing sockets from this thread would race the event loop's select(); instead the loop
    # closes them itself when woken by the trigger, then finds its map empty and returns.
    def close_everything() -> None:
        waitress.wasyncore.close_all(server._map, ignore_all=True)

    try:
        server.trigger.pull_trigger(close_everything)
    except OSError:
        waitress.wasyncore.close_all(server._map, ignore_all=True)
    thread.join(timeout=5)
    server.task_dispatcher.shutdown(timeout=5)
