"""Authorization as endpoint middleware: the scopes an endpoint requires, declared where it is built.

``require_scopes("orders:admin")(endpoint)`` refuses a request without verified claims in the
context with ``Unauthenticated`` (401 / UNAUTHENTICATED) and one whose token lacks a scope with
``PermissionDenied`` (403 / PERMISSION_DENIED), before the endpoint runs, on every transport.
"""

from __future__ import annotations

from typing import TypeVar

from kit import context
from kit.auth.claims import missing_scopes
from kit.endpoint import Endpoint, Middleware
from kit.errors import PermissionDenied, Unauthenticated

Req = TypeVar("Req")
Resp = TypeVar("Resp")


def require_scopes(*scopes: str) -> Middleware[Req, Resp]:
    """Middleware requiring a verified token granting every one of ``scopes`` (none: any token)."""

    def middleware(endpoint: Endpoint[Req, Resp]) -> Endpoint[Req, Resp]:
        def guarded(request: Req) -> Resp:
            claims = context.current().claims
            if claims is None:
                raise Unauthenticated("authentication required")
            missing = missing_scopes(scopes, claims)
            if missing:
                raise PermissionDenied(f"token lacks scope {' '.join(missing)}")
            return endpoint(request)

        return guarded

    return middleware
