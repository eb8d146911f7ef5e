"""The board behind an operator token: a bearer header for scripts, a cookie for browsers.

A browser cannot put ``Authorization`` on a page load or an ``EventSource``, so ``GET /board/login``
shows a form where an operator pastes a token; ``POST /board/login`` verifies it (it must grant
``orders:admin``) and keeps it in an ``HttpOnly``, ``SameSite=Strict`` cookie for as long as the
token is valid (``Secure`` when the request came over https, also behind a proxy that says so);
``POST /board/logout`` forgets it. Every board view then accepts either the bearer header or that
cookie: a missing or bad token is 401 (with ``WWW-Authenticate: Bearer``), a token without the
scope 403, as problem+json for the API routes and as the login page for the HTML ones.
"""

from __future__ import annotations

import functools
import html
import time
from collections.abc import Callable, Mapping
from typing import Any

import flask

from kit.auth.bearer import Authenticator
from kit.auth.claims import missing_scopes
from kit.auth.settings import ADMIN_SCOPE
from kit.errors import KitError, PermissionDenied, Unauthenticated
from kit.http.problem import problem_response

View = Callable[..., flask.Response]
COOKIE = "eventstream_board_token"
OPEN_VIEWS = ("board_static",)
"""Board endpoints served without a token: the stylesheet and the script hold no data."""

LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Order board: sign in</title>
<link rel="stylesheet" href="/board/static/board.css"></head>
<body><main class="login"><h1>Order board</h1><p class="error">{message}</p>
<form method="post" action="/board/login">
<label for="token">Operator token (scope orders:admin)</label>
<input id="token" name="token" type="password" autocomplete="off" required>
<button type="submit">Sign in</button></form></main></body></html>
"""


def _is_https(request: flask.Request) -> bool:
    return request.is_secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"


def _authorization(request: flask.Request) -> str | None:
    """The request's ``Authorization`` value, or the cookie's token as one."""
    cookie = request.cookies.get(COOKIE)
    return request.headers.get("Authorization") or (f"Bearer {cookie}" if cookie else None)


def _see_other(location: str) -> flask.Response:
    return flask.Response(status=303, headers={"Location": location})


class BoardAccess:
    """``protect`` for ``register_board``, and the login / logout routes."""

    def __init__(self, auth: Authenticator) -> None:
        self._auth = auth

    def _claims(self, authorization: str | None) -> Mapping[str, Any]:
        if not authorization:
            raise Unauthenticated("an operator token (scope orders:admin) is required")
        claims = self._auth({"authorization": authorization})  # BearerAuth checks the scheme
        missing = missing_scopes((ADMIN_SCOPE,), claims)
        if missing:
            raise PermissionDenied(f"token lacks scope {' '.join(missing)}")
        return claims

    def protect(self, view: View) -> View:
        """``view`` answering only requests carrying an operator token (header or cookie)."""

        @functools.wraps(view)
        def guarded(**kwargs: Any) -> flask.Response:
            request = flask.request
            try:
                self._claims(_authorization(request))
            except KitError as exc:
                return self._refusal(exc, request)
            return view(**kwargs)

        return guarded

    def _refusal(self, exc: KitError, request: flask.Request) -> flask.Response:
        if request.path.startswith("/api/"):
            return problem_response(exc, request)
        response = problem_response(exc, request)  # status and WWW-Authenticate
        page = flask.Response(LOGIN_PAGE.format(message=html.escape(exc.message)), response.status_code,
                              content_type="text/html; charset=utf-8")
        page.headers.update({k: v for k, v in response.headers.items() if k == "WWW-Authenticate"})
        return page

    def register(self, app: flask.Flask) -> None:
        """Route ``GET/POST /board/login`` and ``POST /board/logout``."""

        def login_form() -> flask.Response:
            return flask.Response(LOGIN_PAGE.format(message=""), content_type="text/html; charset=utf-8")

        def login() -> flask.Response:
            request = flask.request
            token = (request.form.get("token") or "").strip()
            try:
                claims = self._claims(f"Bearer {token}" if token else None)
            except KitError as exc:
                return self._refusal(exc, request)
            response = _see_other("/board")
            exp = claims.get("exp")
            max_age = max(0, int(exp - time.time())) if isinstance(exp, (int, float)) else None
            response.set_cookie(COOKIE, token, max_age=max_age, httponly=True, samesite="Strict",
                                secure=_is_https(request), path="/")
            return response

        def logout() -> flask.Response:
            response = _see_other("/board/login")
            response.delete_cookie(COOKIE, path="/")
            return response

        app.add_url_rule("/board/login", endpoint="board_login_form", view_func=login_form,
                         methods=["GET"])
        app.add_url_rule("/board/login", endpoint="board_login", view_func=login, methods=["POST"])
        app.add_url_rule("/board/logout", endpoint="board_logout", view_func=logout, methods=["POST"])
