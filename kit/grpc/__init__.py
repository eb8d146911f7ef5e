"""The gRPC transport: serve endpoints as gRPC methods and call gRPC methods as endpoints.

Server side: ``GRPCServer`` / ``GRPCStreamServer`` adapt an endpoint to a servicer method;
``service`` + ``json_method`` serve dataclass endpoints as JSON over gRPC without a ``.proto``;
``serve`` / ``new_server`` / ``bind`` / ``shutdown`` run a server. Client side: ``dial`` opens a channel
once, ``GRPCClient`` / ``GRPCStreamClient`` / ``json_client`` turn remote methods back into endpoints.
``ServerTLS`` / ``ClientTLS`` add TLS and mutual TLS to both sides (``kit.grpc.tls``).
Errors cross the wire as gRPC statuses with rich details and arrive as the same ``kit.errors`` class
(``kit.grpc.status``); deadlines and trace context travel in the call.
"""

from kit.grpc.client import ClientBefore, GRPCClient, GRPCStreamClient
from kit.grpc.json import (
    JSONMethod,
    json_client,
    json_method,
    json_stream_client,
    json_stream_method,
    service,
)
from kit.grpc.net import Registration, bind, dial, new_server, serve, shutdown
from kit.grpc.server import GRPCServer, GRPCStreamServer, ServerAfter, ServerBefore
from kit.grpc.status import from_rpc_error, to_status
from kit.grpc.tls import ClientTLS, ServerTLS

__all__ = [
    "ClientBefore",
    "ClientTLS",
    "GRPCClient",
    "GRPCServer",
    "GRPCStreamClient",
    "GRPCStreamServer",
    "JSONMethod",
    "Registration",
    "ServerAfter",
    "ServerBefore",
    "ServerTLS",
    "bind",
    "dial",
    "from_rpc_error",
    "json_client",
    "json_method",
    "json_stream_client",
    "json_stream_method",
    "new_server",
    "serve",
    "service",
    "shutdown",
    "to_status",
]
