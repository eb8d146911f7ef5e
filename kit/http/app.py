"""Flask application helpers: problem+json for every error, and routes for ``HTTPServer`` views.

``HTTPServer`` answers its own errors; ``install_problem_handlers`` covers what happens around it, so
that an unknown route (404), a wrong method (405, with ``Allow``), a body over ``MAX_CONTENT_LENGTH``
(413), any other werkzeug HTTP error, and an exception in a plain view or hook all answer
``application/problem+json`` too. Routing redirects (a missing trailing slash) pass through.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

import flask
from werkzeug.exceptions import HTTPException

from kit.errors import KitError
from kit.http.codecs import DEFAULT_MAX_BODY
from kit.http.problem import HTTPProblem, problem_response

_log = logging.getLogger("kit.http")


def _handle(exc: Exception) -> flask.Response:
    if not isinstance(exc, (KitError, HTTPProblem, HTTPException)):
        _log.exception("unhandled exception serving %s %s", flask.request.method, flask.request.path)
    return problem_response(exc, flask.request)


def install_problem_handlers(app: flask.Flask) -> flask.Flask:
    """Make ``app`` answer every HTTP error and unhandled exception as problem+json; returns ``app``."""
    app.register_error_handler(HTTPException, _handle)
    app.register_error_handler(Exception, _handle)
    return app


def create_app(import_name: str, *, max_content_length: int | None = DEFAULT_MAX_BODY,
               **config: Any) -> flask.Flask:
    """A Flask app with problem+json error handlers and a request body limit (None: no limit).

    Extra keyword arguments go into ``app.config`` (``create_app(__name__, TESTING=True)``).
    """
    app = flask.Flask(import_name)
    app.config["MAX_CONTENT_LENGTH"] = max_content_length
    app.config.update(config)
    return install_problem_handlers(app)


def register(app: flask.Flask, rule: str, server: Callable[..., Any], methods: Iterable[str] = ("GET",), *,
             endpoint: str | None = None) -> None:
    """Route ``methods`` on ``rule`` to the view ``server`` (usually an ``HTTPServer``).

    The Flask endpoint name (for ``url_for``) is ``endpoint``, else the server's ``name``, else
    ``"METHODS rule"``, so several servers built from similar functions never clash.
    """
    methods = [m.upper() for m in methods]
    name = endpoint or getattr(server, "name", None) or f"{','.join(methods)} {rule}"
    app.add_url_rule(rule, endpoint=name, view_func=server, methods=methods)
