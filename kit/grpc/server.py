"""Serve an endpoint as a gRPC method: decode the request, call the endpoint, encode the reply.

``GRPCServer`` (unary) and ``GRPCStreamServer`` (server streaming) are callables with the signature
of a generated servicer method, ``(request, context) -> response``, so they can be assigned as
methods of a generated ``...Servicer`` or wrapped in ``grpc.unary_unary_rpc_method_handler``. Each
call runs under a ``kit.context`` scope carrying the client's deadline and metadata, inside a SERVER
span named after the RPC method. Errors leave through one encoder: a ``KitError`` aborts with its
matching status and rich details (``kit.grpc.status``), any other exception is logged and answered
``INTERNAL`` with a generic message, and a request that fails to decode is ``INVALID_ARGUMENT``.
Everything that does not depend on the call is computed once, in ``__init__``.

With ``auth`` (a ``kit.auth.BearerAuth``) the ``authorization`` metadata is verified before the hooks
and the decoder: a missing or bad token is ``UNAUTHENTICATED`` and the endpoint is not called; the
verified claims are the context's ``claims``. The ``authorization`` entry itself never enters the
context metadata, authenticated or not.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Generic, TypeVar
from urllib.parse import unquote

import grpc

from kit.context import scope
from kit.endpoint import Endpoint
from kit.errors import DeadlineExceeded, Internal, InvalidArgument, KitError
from kit.grpc.status import to_status
from kit.tracing import NOOP_TRACER, Span, SpanKind, Tracer

PbReq = TypeVar("PbReq")
PbResp = TypeVar("PbResp")
Req = TypeVar("Req")
Resp = TypeVar("Resp")

ServerBefore = Callable[[grpc.ServicerContext, Mapping[str, str]], None]
"""A hook run before decoding, with the incoming metadata; it may raise a ``KitError`` (auth, ...)."""

ServerAfter = Callable[[grpc.ServicerContext], None]
"""A hook run after the endpoint succeeded, e.g. to send initial or set trailing metadata."""

Authenticator = Callable[[Mapping[str, str]], Mapping[str, Any]]
"""Verifies a call's metadata (``kit.auth.BearerAuth``): the claims, or ``Unauthenticated``."""

_LOG = logging.getLogger("kit.grpc")

# gRPC reports "no deadline" as a time remaining of about 2**63 seconds.
_NO_DEADLINE = 1e12


def incoming_metadata(context: grpc.ServicerContext) -> dict[str, str]:
    """The text metadata of a call as a dict; binary (``-bin``) entries are left out.

    Keys arrive lower-case: HTTP/2 forbids anything else on the wire.
    """
    return {key: value for key, value in context.invocation_metadata()
            if isinstance(value, str) and not key.endswith("-bin")}


def _context_metadata(metadata: dict[str, str]) -> dict[str, str]:
    """The call's metadata as the request context holds it: without the bearer token."""
    if "authorization" not in metadata:
        return metadata
    return {key: value for key, value in metadata.items() if key != "authorization"}


def _peer(peer: str) -> tuple[str | None, int | None]:
    kind, _, address = peer.partition(":")
    if kind not in ("ipv4", "ipv6"):
        return None, None
    host, _, port = unquote(address).rpartition(":")
    return host.strip("[]") or None, int(port) if port.isdigit() else None


class _Adapter(Generic[PbReq, Req, Resp]):
    """What the unary and the streaming server share: the call's context, span and error encoding."""

    def __init__(
        self,
        decode: Callable[[PbReq], Req],
        *,
        method: str,
        before: Sequence[ServerBefore],
        after: Sequence[ServerAfter],
        tracer: Tracer,
        auth: Authenticator | None = None,
    ) -> None:
        self.method = method
        self._decode = decode
        self._auth = auth
        self._before = tuple(before)
        self._after = tuple(after)
        self._tracer = tracer
        self._traced = tracer is not NOOP_TRACER
        self._service = method.strip("/").rpartition("/")[0]

    def _claims(self, metadata: Mapping[str, str]) -> tuple[Mapping[str, Any] | None, KitError | None]:
        """The verified claims of the call (None without ``auth``), or the error refusing it."""
        if self._auth is None:
            return None, None
        try:
            return self._auth(metadata), None
        except KitError as exc:
            return None, exc

    def _open(self, request: PbReq, context: grpc.ServicerContext, metadata: Mapping[str, str],
              remaining: float, span: Span, denied: KitError | None = None) -> Req:
        """Tag the span, run the hooks and decode the request, raising ``KitError`` on failure."""
        if self._traced:
            span.tag("rpc.method", self.method)
            span.tag("rpc.service", self._service)
            ip, port = _peer(context.peer())
            if ip is not None:
                span.remote_endpoint(ip=ip, port=port)
        if remaining <= 0:
            raise DeadlineExceeded("deadline exceeded before the call was handled")
        if denied is not None:
            raise denied
        for hook in self._before:
            hook(context, metadata)
        try:
            return self._decode(request)
        except KitError:
            raise
        except ValueError as exc:
            raise InvalidArgument(f"malformed request: {exc}") from exc
        except TypeError as exc:
            raise InvalidArgument("malformed request") from exc

    def _failed(self, span: Span, exc: Exception) -> grpc.Status:
        """Encode a failure as a status, tagging the span; unexpected errors are logged, not sent."""
        if not isinstance(exc, KitError):
            _LOG.exception("unexpected error serving %s", self.method)
            exc = Internal()
        status = to_status(exc)
        span.tag("grpc.status_code", status.code.name)
        span.tag("error", exc.message)
        return status


def _deadline(remaining: float) -> float | None:
    return None if remaining > _NO_DEADLINE else time.monotonic() + remaining


class GRPCServer(_Adapter[PbReq, Req, Resp], Generic[PbReq, Req, Resp, PbResp]):
    """A unary gRPC method serving ``endpoint``: ``decode(pb_request) -> Req``, ``encode(Resp) -> pb``.

    ``method`` is the full RPC name (``/eventstore.EventStore/CreateEvent``), used as the span name.
    """

    def __init__(
        self,
        endpoint: Endpoint[Req, Resp],
        decode: Callable[[PbReq], Req],
        encode: Callable[[Resp], PbResp],
        *,
        method: str,
        before: Sequence[ServerBefore] = (),
        after: Sequence[ServerAfter] = (),
        tracer: Tracer = NOOP_TRACER,
        auth: Authenticator | None = None,
    ) -> None:
        super().__init__(decode, method=method, before=before, after=after, tracer=tracer,
                         auth=auth)
        self._endpoint = endpoint
        self._encode = encode

    def __call__(self, request: PbReq, context: grpc.ServicerContext) -> PbResp:
        """Handle one call; failures abort it with the matching status."""
        metadata = incoming_metadata(context)
        remaining = context.time_remaining()
        claims, denied = self._claims(metadata)
        with scope(deadline=_deadline(remaining), metadata=_context_metadata(metadata),
                   claims=claims), \
                self._tracer.span(self.method, SpanKind.SERVER, headers=metadata) as span:
            try:
                response = self._endpoint(self._open(request, context, metadata, remaining, span,
                                                   denied))
                for hook in self._after:
                    hook(context)
                reply = self._encode(response)
            except Exception as exc:
                status = self._failed(span, exc)
            else:
                span.tag("grpc.status_code", "OK")
                return reply
        context.abort_with_status(status)


class GRPCStreamServer(_Adapter[PbReq, Req, Resp], Generic[PbReq, Req, Resp, PbResp]):
    """A server-streaming gRPC method: the endpoint returns an iterable, each item is sent encoded.

    An error raised mid-stream ends the stream with its status, after the items already sent. When
    the client cancels (or its deadline passes) iteration stops and the endpoint's iterator is
    closed, so a generator endpoint's ``finally`` blocks run. An endpoint that waits for data (a
    tailing stream) may yield ``None`` now and then: nothing is sent, but the adapter gets the
    chance to notice a client that went away. gRPC drives a whole stream from one worker thread,
    so the request context stays in place between items.
    """

    def __init__(
        self,
        endpoint: Endpoint[Req, Iterable[Resp | None]],
        decode: Callable[[PbReq], Req],
        encode: Callable[[Resp], PbResp],
        *,
        method: str,
        before: Sequence[ServerBefore] = (),
        after: Sequence[ServerAfter] = (),
        tracer: Tracer = NOOP_TRACER,
        auth: Authenticator | None = None,
    ) -> None:
        super().__init__(decode, method=method, before=before, after=after, tracer=tracer,
                         auth=auth)
        self._endpoint = endpoint
        self._encode = encode

    def __call__(self, request: PbReq, context: grpc.ServicerContext) -> Iterator[PbResp]:
        """Stream the endpoint's items; failures end the stream with the matching status."""
        metadata = incoming_metadata(context)
        remaining = context.time_remaining()
        status: grpc.Status | None = None
        claims, denied = self._claims(metadata)
        with scope(deadline=_deadline(remaining), metadata=_context_metadata(metadata),
                   claims=claims), \
                self._tracer.span(self.method, SpanKind.SERVER, headers=metadata) as span:
            items: Iterator[Resp | None] | None = None
            try:
                items = iter(self._endpoint(self._open(request, context, metadata, remaining, span,
                                                   denied)))
                for hook in self._after:
                    hook(context)
                for item in items:
                    if item is not None:
                        yield self._encode(item)
                    if not context.is_active():
                        span.tag("grpc.status_code", "CANCELLED")
                        return
                span.tag("grpc.status_code", "OK")
            except GeneratorExit:
                # gRPC dropped the stream (the client went away): end quietly, not as an error.
                span.tag("grpc.status_code", "CANCELLED")
                return
            except Exception as exc:
                status = self._failed(span, exc)
            finally:
                close = getattr(items, "close", None)
                if close is not None:
                    close()
        if status is not None:
            context.abort_with_status(status)
