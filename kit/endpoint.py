"""Endpoints and middleware: the one abstraction every transport adapts.

An endpoint is a plain synchronous callable from a request to a response, usually frozen dataclasses.
A middleware wraps an endpoint into another endpoint of the same type. Transports (HTTP, gRPC, NATS)
decode a wire message into the request, call the endpoint, and encode the response, so one endpoint
serves every transport unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias, TypeVar

Req = TypeVar("Req")
Resp = TypeVar("Resp")

Endpoint: TypeAlias = Callable[[Req], Resp]
"""A callable from a request to a response; errors are raised as ``kit.errors.KitError``."""

Middleware: TypeAlias = Callable[[Endpoint[Req, Resp]], Endpoint[Req, Resp]]
"""A function that wraps an endpoint in behaviour (logging, retries, ...) and returns an endpoint."""


def chain(*middlewares: Middleware[Req, Resp]) -> Middleware[Req, Resp]:
    """Compose middlewares into one; the first one given is the outermost (runs first).

    ``chain(a, b, c)(endpoint)`` is ``a(b(c(endpoint)))``, as in Go kit's ``endpoint.Chain``.
    """

    def wrap(endpoint: Endpoint[Req, Resp]) -> Endpoint[Req, Resp]:
        for middleware in reversed(middlewares):
            endpoint = middleware(endpoint)
        return endpoint

    return wrap


def nop(request: object) -> None:
    """An endpoint that does nothing and returns None; handy for tests and benchmarks."""
    del request
