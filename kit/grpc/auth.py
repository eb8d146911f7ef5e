"""Bearer auth for a whole gRPC server or channel, as interceptors.

``RequireToken(auth, scopes)`` is a server interceptor: every method not under an ``open`` prefix
(health checking and reflection by default) needs a verified token granting ``scopes``, else the call
ends UNAUTHENTICATED or PERMISSION_DENIED before its handler runs. It guards a servicer without
touching it, so methods added later are covered too; a method that needs the claims themselves
uses the adapters' ``auth=`` instead. ``with_token(channel, token)`` is the client side: every
call on the returned channel carries ``authorization: Bearer <token>``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import grpc

from kit.auth.claims import missing_scopes
from kit.auth.tokens import TokenSource, authorization_value
from kit.errors import KitError, PermissionDenied
from kit.grpc.server import Authenticator
from kit.grpc.status import to_status

OPEN_METHODS = ("/grpc.health.v1.Health/", "/grpc.reflection.")
"""Method prefixes ``RequireToken`` leaves open: probes and tooling need no token."""


class RequireToken(grpc.ServerInterceptor):  # type: ignore[type-arg]
    """Refuse every call without a verified token granting ``scopes`` (methods under ``open`` aside)."""

    def __init__(self, auth: Authenticator, scopes: Sequence[str] = (), *,
                 open_methods: Sequence[str] = OPEN_METHODS) -> None:
        self._auth = auth
        self._scopes = tuple(scopes)
        self._open = tuple(open_methods)

    def intercept_service(self, continuation: Callable[[Any], Any], details: Any) -> Any:
        """The method's handler, or one that aborts with the refusal."""
        handler = continuation(details)
        if handler is None or str(details.method).startswith(self._open):
            return handler
        metadata = {key: value for key, value in details.invocation_metadata or ()
                    if isinstance(value, str)}
        try:
            claims = self._auth(metadata)
            missing = missing_scopes(self._scopes, claims)
            if missing:
                raise PermissionDenied(f"token lacks scope {' '.join(missing)}")
        except KitError as exc:
            return _refusal(handler, to_status(exc))
        return handler


def _refusal(handler: Any, status: grpc.Status) -> Any:
    def abort(request: object, context: grpc.ServicerContext) -> Any:
        del request
        context.abort_with_status(status)

    kinds = (("unary_unary", grpc.unary_unary_rpc_method_handler),
             ("unary_stream", grpc.unary_stream_rpc_method_handler),
             ("stream_unary", grpc.stream_unary_rpc_method_handler),
             ("stream_stream", grpc.stream_stream_rpc_method_handler))
    for attribute, make in kinds:
        if getattr(handler, attribute) is not None:
            return make(abort, request_deserializer=handler.request_deserializer,
                        response_serializer=handler.response_serializer)
    return handler


class _Details(NamedTuple):
    method: str
    timeout: float | None
    metadata: Any
    credentials: Any
    wait_for_ready: Any
    compression: Any


class _AttachToken(grpc.UnaryUnaryClientInterceptor,  # type: ignore[type-arg]
                   grpc.UnaryStreamClientInterceptor):  # type: ignore[type-arg]
    def __init__(self, token: TokenSource) -> None:
        self._token = token

    def _with_token(self, details: Any) -> _Details:
        metadata = [(k, v) for k, v in details.metadata or () if k != "authorization"]
        metadata.append(("authorization", authorization_value(self._token)))
        return _Details(details.method, details.timeout, metadata, details.credentials,
                        details.wait_for_ready, details.compression)

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._with_token(details), request)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._with_token(details), request)


def with_token(channel: grpc.Channel, token: TokenSource) -> grpc.Channel:
    """``channel`` with ``authorization: Bearer <token>`` added to every unary and streaming call."""
    return grpc.intercept_channel(channel, _AttachToken(token))
