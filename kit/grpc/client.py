"""Call a remote gRPC method as an endpoint: encode the request, call, decode the reply.

``GRPCClient`` (unary) and ``GRPCStreamClient`` (server streaming) build their multicallable once,
from a channel that is reused for every call (open it once with ``kit.grpc.dial``). Each call gets
the tighter of the client's ``timeout`` and the deadline of the request being handled
(``kit.context``); a deadline that has already passed fails with ``DeadlineExceeded`` without a call.
Each call runs in a CLIENT span whose context travels in the outgoing metadata. A failed call raises
the kit error its status stands for (``kit.grpc.status.from_rpc_error``); a reply that cannot be
decoded is ``Internal``. With ``token`` (a string, or a callable asked for the current token on
every call, e.g. a ``kit.auth.RefreshingToken``) each call carries ``authorization: Bearer <token>``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping, Sequence
from typing import Any, Generic, TypeVar

import grpc

from kit.auth.bearer import outgoing_metadata
from kit.auth.tokens import TokenSource
from kit.context import current
from kit.errors import DeadlineExceeded, Internal, KitError
from kit.grpc.status import from_rpc_error
from kit.tracing import NOOP_TRACER, Span, SpanKind, Tracer

Req = TypeVar("Req")
Resp = TypeVar("Resp")
PbReq = TypeVar("PbReq")
PbResp = TypeVar("PbResp")

ClientBefore = Callable[[MutableMapping[str, str]], None]
"""A hook that may add entries to the outgoing metadata of each call (keys are lower-cased)."""

Metadata = tuple[tuple[str, str], ...]

_LOG = logging.getLogger("kit.grpc")


class _Caller(Generic[Req, PbReq, PbResp, Resp]):
    """What the unary and the streaming client share: deadlines, metadata, span tags, decoding."""

    def __init__(
        self,
        method: str,
        encode: Callable[[Req], PbReq],
        decode: Callable[[PbResp], Resp],
        *,
        timeout: float | None,
        tracer: Tracer,
        metadata: Mapping[str, str] | Iterable[tuple[str, str]],
        before: Sequence[ClientBefore],
        peer_service: str | None,
        token: TokenSource | None = None,
    ) -> None:
        self.method = method
        self._encode = encode
        self._decode = decode
        self._timeout = timeout
        self._tracer = tracer
        pairs = metadata.items() if isinstance(metadata, Mapping) else metadata
        self._metadata: Metadata = tuple((key.lower(), value) for key, value in pairs)
        self._before = tuple(before) + ((outgoing_metadata(token),) if token is not None else ())
        self._dynamic = bool(self._before) or tracer is not NOOP_TRACER
        self._service = method.strip("/").rpartition("/")[0]
        self._peer_service = peer_service

    def _call_timeout(self) -> float | None:
        """The timeout for a call starting now; raise ``DeadlineExceeded`` if none is left."""
        remaining = current().remaining()
        if remaining is None:
            return self._timeout
        if remaining <= 0:
            raise DeadlineExceeded(f"deadline exceeded before calling {self.method}")
        if self._timeout is not None and self._timeout < remaining:
            return self._timeout
        return remaining

    def _outgoing(self, span: Span) -> Metadata | None:
        """Tag the span and build this call's metadata, with the span's context injected."""
        if not self._dynamic:
            return self._metadata or None
        span.tag("rpc.method", self.method)
        span.tag("rpc.service", self._service)
        if self._peer_service is not None:
            span.remote_endpoint(service_name=self._peer_service)
        metadata = dict(self._metadata)
        for hook in self._before:
            hook(metadata)
        self._tracer.inject(metadata)
        return tuple((key.lower(), value) for key, value in metadata.items())

    def _failed(self, span: Span, exc: grpc.RpcError) -> KitError:
        code = getattr(exc, "code", None)
        span.tag("grpc.status_code", code().name if callable(code) else "UNKNOWN")
        return from_rpc_error(exc)

    def _decode_reply(self, reply: PbResp) -> Resp:
        try:
            return self._decode(reply)
        except (KitError, ValueError, TypeError) as exc:
            _LOG.warning("undecodable reply from %s: %r", self.method, exc)
            raise Internal(f"malformed reply from {self.method}") from exc


class GRPCClient(_Caller[Req, PbReq, PbResp, Resp]):
    """An endpoint ``Req -> Resp`` calling the unary gRPC ``method`` over ``channel``.

    ``encode(Req) -> pb_request`` and ``decode(pb_reply) -> Resp`` convert between the endpoint's
    types and the wire messages, which ``request_serializer`` / ``response_deserializer`` turn into
    bytes (``Msg.SerializeToString`` / ``Msg.FromString``; None passes bytes through). ``metadata``
    is sent with every call, ``before`` hooks may add more per call.
    """

    def __init__(
        self,
        channel: grpc.Channel,
        method: str,
        encode: Callable[[Req], PbReq],
        decode: Callable[[PbResp], Resp],
        *,
        request_serializer: Callable[[PbReq], bytes] | None = None,
        response_deserializer: Callable[[bytes], PbResp] | None = None,
        timeout: float | None = None,
        tracer: Tracer = NOOP_TRACER,
        metadata: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        before: Sequence[ClientBefore] = (),
        peer_service: str | None = None,
        token: TokenSource | None = None,
    ) -> None:
        super().__init__(method, encode, decode, timeout=timeout, tracer=tracer, metadata=metadata,
                         before=before, peer_service=peer_service, token=token)
        self._call: grpc.UnaryUnaryMultiCallable[PbReq, PbResp] = channel.unary_unary(
            method, request_serializer=request_serializer, response_deserializer=response_deserializer
        )

    def __call__(self, request: Req) -> Resp:
        """Call the remote method; a failure raises the kit error its status stands for."""
        timeout = self._call_timeout()
        message = self._encode(request)
        with self._tracer.span(self.method, SpanKind.CLIENT) as span:
            try:
                reply = self._call(message, timeout=timeout, metadata=self._outgoing(span))
            except grpc.RpcError as exc:
                raise self._failed(span, exc) from exc
            span.tag("grpc.status_code", "OK")
        return self._decode_reply(reply)


class GRPCStreamClient(_Caller[Req, PbReq, PbResp, Resp]):
    """An endpoint ``Req -> Iterator[Resp]`` calling the server-streaming gRPC ``method``.

    The deadline is checked when called; the call starts when iteration does. Closing the iterator
    (or dropping it) cancels the call, which the server sees as a cancellation. An error status,
    even after some items, raises the matching kit error from the iterator.
    """

    def __init__(
        self,
        channel: grpc.Channel,
        method: str,
        encode: Callable[[Req], PbReq],
        decode: Callable[[PbResp], Resp],
        *,
        request_serializer: Callable[[PbReq], bytes] | None = None,
        response_deserializer: Callable[[bytes], PbResp] | None = None,
        timeout: float | None = None,
        tracer: Tracer = NOOP_TRACER,
        metadata: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        before: Sequence[ClientBefore] = (),
        peer_service: str | None = None,
        token: TokenSource | None = None,
    ) -> None:
        super().__init__(method, encode, decode, timeout=timeout, tracer=tracer, metadata=metadata,
                         before=before, peer_service=peer_service, token=token)
        self._call: grpc.UnaryStreamMultiCallable[PbReq, PbResp] = channel.unary_stream(
            method, request_serializer=request_serializer, response_deserializer=response_deserializer
        )

    def __call__(self, request: Req) -> Iterator[Resp]:
        """Start streaming the replies to ``request``; fails now if the deadline has passed."""
        self._call_timeout()
        return self._stream(self._encode(request))

    def _stream(self, message: PbReq) -> Iterator[Resp]:
        with self._tracer.span(self.method, SpanKind.CLIENT) as span:
            call: Any = None
            try:
                call = self._call(message, timeout=self._call_timeout(), metadata=self._outgoing(span))
                for reply in call:
                    yield self._decode_reply(reply)
                span.tag("grpc.status_code", "OK")
            except GeneratorExit:
                # The consumer stopped early: cancelling is the expected way out, not an error.
                span.tag("grpc.status_code", "CANCELLED")
                return
            except grpc.RpcError as exc:
                raise self._failed(span, exc) from exc
            finally:
                if call is not None:
                    call.cancel()
