"""JSON over gRPC: serve and call endpoints over dataclasses without a ``.proto`` or generated code.

Messages are the JSON of the request and response dataclasses (``kit.codec``), sent as raw gRPC
message bytes. A request that does not decode is ``INVALID_ARGUMENT`` with one field violation per
bad field, like any other ``InvalidArgument``::

    server = serve(service("greeter.Greeter", {"Greet": json_method(greet, Greet)}), port=50051)
    greet_remote = json_client(dial("127.0.0.1:50051"), "/greeter.Greeter/Greet", Greet, Greeting)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, TypeVar

import grpc

from kit import codec
from kit.auth.tokens import TokenSource
from kit.endpoint import Endpoint
from kit.grpc.client import ClientBefore, GRPCClient, GRPCStreamClient
from kit.grpc.server import Authenticator, GRPCServer, GRPCStreamServer, ServerAfter, ServerBefore
from kit.tracing import NOOP_TRACER, Tracer

Req = TypeVar("Req")
Resp = TypeVar("Resp")


@dataclass(frozen=True)
class JSONMethod(Generic[Req]):
    """An endpoint to serve as a JSON method of a ``service``, which gives it its name."""

    endpoint: Endpoint[Req, Any]
    request_type: type[Req]
    streaming: bool = False

    def handler(
        self,
        method: str,
        *,
        tracer: Tracer = NOOP_TRACER,
        before: Sequence[ServerBefore] = (),
        after: Sequence[ServerAfter] = (),
        auth: Authenticator | None = None,
    ) -> grpc.RpcMethodHandler[bytes, bytes]:
        """The gRPC method handler serving this endpoint as the full RPC name ``method``."""
        # Bytes pass through gRPC's (de)serializers untouched, so decoding happens in the adapter,
        # where a bad request becomes INVALID_ARGUMENT with field violations.
        decode = partial(codec.loads, self.request_type)
        if self.streaming:
            return grpc.unary_stream_rpc_method_handler(GRPCStreamServer(
                self.endpoint, decode, codec.dumps, method=method, before=before, after=after,
                tracer=tracer, auth=auth,
            ))
        return grpc.unary_unary_rpc_method_handler(GRPCServer(
            self.endpoint, decode, codec.dumps, method=method, before=before, after=after,
            tracer=tracer, auth=auth,
        ))


def json_method(endpoint: Endpoint[Req, Any], request_type: type[Req]) -> JSONMethod[Req]:
    """Serve ``endpoint`` as a unary JSON method taking ``request_type``; name it in ``service``."""
    return JSONMethod(endpoint, request_type)


def json_stream_method(
    endpoint: Endpoint[Req, Iterable[Any]], request_type: type[Req]
) -> JSONMethod[Req]:
    """Serve ``endpoint`` as a server-streaming JSON method: each item it yields is one message."""
    return JSONMethod(endpoint, request_type, streaming=True)


def service(
    name: str,
    methods: Mapping[str, JSONMethod[Any] | grpc.RpcMethodHandler[Any, Any]],
    *,
    tracer: Tracer = NOOP_TRACER,
    before: Sequence[ServerBefore] = (),
    after: Sequence[ServerAfter] = (),
    auth: Authenticator | None = None,
) -> grpc.GenericRpcHandler[Any, Any]:
    """A gRPC service ``name`` (``pkg.Service``) serving ``methods`` by their short names.

    With ``auth`` (``kit.auth.BearerAuth``) every JSON method requires a verified bearer token.
    Values are ``json_method`` / ``json_stream_method`` results, or any ready gRPC method handler
    (e.g. ``grpc.unary_unary_rpc_method_handler(GRPCServer(...), ...)`` for protobuf messages).
    """
    handlers = {
        short: spec.handler(f"/{name}/{short}", tracer=tracer, before=before, after=after,
                                    auth=auth)
        if isinstance(spec, JSONMethod) else spec
        for short, spec in methods.items()
    }
    return grpc.method_handlers_generic_handler(name, handlers)


def json_client(
    channel: grpc.Channel,
    method: str,
    request_type: type[Req],
    response_type: type[Resp],
    *,
    timeout: float | None = None,
    tracer: Tracer = NOOP_TRACER,
    metadata: Mapping[str, str] | Iterable[tuple[str, str]] = (),
    before: Sequence[ClientBefore] = (),
    token: TokenSource | None = None,
) -> GRPCClient[Req, bytes, bytes, Resp]:
    """An endpoint calling the unary JSON method ``method`` (``/pkg.Service/Method``)."""
    del request_type  # fixes the endpoint's request type for type checkers; JSON needs no schema
    return GRPCClient(channel, method, codec.dumps, partial(codec.loads, response_type),
                      timeout=timeout, tracer=tracer, metadata=metadata, before=before,
                      token=token)


def json_stream_client(
    channel: grpc.Channel,
    method: str,
    request_type: type[Req],
    response_type: type[Resp],
    *,
    timeout: float | None = None,
    tracer: Tracer = NOOP_TRACER,
    metadata: Mapping[str, str] | Iterable[tuple[str, str]] = (),
    before: Sequence[ClientBefore] = (),
    token: TokenSource | None = None,
) -> GRPCStreamClient[Req, bytes, bytes, Resp]:
    """An endpoint calling the server-streaming JSON method ``method``, returning an iterator."""
    del request_type
    return GRPCStreamClient(channel, method, codec.dumps, partial(codec.loads, response_type),
                            timeout=timeout, tracer=tracer, metadata=metadata, before=before,
                      token=token)

