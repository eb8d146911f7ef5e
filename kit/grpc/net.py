"""Open gRPC channels and run gRPC servers with settings fit for services talking to each other.

A channel is dialled once per remote service and shared by all its clients: it multiplexes calls over
one HTTP/2 connection and reconnects by itself. Application-level retries are left to the resilience
middleware, which knows which calls are safe to repeat; the channel only keeps gRPC's transparent
retries of calls that never reached the server.

Several replicas of one service: ``dial("host1:port1,host2:port2")`` resolves each address once
and spreads calls over all of them with gRPC's ``round_robin`` policy; a replica that is down is
skipped once its connection fails, so a retried call lands on another. A ``dns:///name:port``
target whose name resolves to several addresses is balanced the same way.

TLS: ``dial(target, tls=ClientTLS(ca=...))`` opens a TLS channel and ``serve(..., tls=ServerTLS(...))``
(or ``bind(server, host, port, tls=...)`` for a server from ``new_server``) serves TLS, mutual TLS when
the server names a client CA (``kit.grpc.tls``). Over TLS, every replica of a ``host1:p1,host2:p2``
list must hold a certificate naming ``host1`` (the channel's one authority), or give the name all
replica certificates share as ``ClientTLS(server_name=...)``, e.g. the service's name.

Stopping a server: ``shutdown(server, grace)`` refuses new calls at once, lets calls in flight finish
for ``grace`` seconds, then cancels the rest (streaming endpoints see the cancellation and their
``finally`` blocks run) and returns when the server has stopped.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from concurrent import futures
from typing import Any, TypeAlias, Union

import grpc

from kit.grpc.tls import ClientTLS, ServerTLS

# A Union, not "|": grpc's handler class is only generic in its type stubs, so it must stay quoted.
Registration: TypeAlias = Union["grpc.GenericRpcHandler[Any, Any]", Callable[[grpc.Server], None]]
"""What a server serves: a generic handler (``kit.grpc.service``) or a function registering on it,
such as ``lambda server: add_EventStoreServicer_to_server(servicer, server)``."""

Options = Sequence[tuple[str, Any]]

CHANNEL_OPTIONS: Options = (
    # Pings keep long streams alive through NATs and proxies and detect dead peers; they stay
    # within what kit servers accept (SERVER_OPTIONS), so a server never answers "too many pings".
    ("grpc.keepalive_time_ms", 60_000),
    ("grpc.keepalive_timeout_ms", 20_000),
    ("grpc.keepalive_permit_without_calls", 0),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.enable_retries", 1),
    ("grpc.lb_policy_name", "round_robin"),  # one address: the same as pick_first
)
"""The options ``dial`` starts from; those given to it override these by name."""

SERVER_OPTIONS: Options = (
    ("grpc.http2.min_recv_ping_interval_without_data_ms", 30_000),
    ("grpc.keepalive_permit_without_calls", 1),
    # Fail loudly when the port is taken instead of silently sharing it with another server.
    ("grpc.so_reuseport", 0),
)
"""The options ``new_server`` starts from; those given to it override these by name."""


def _merge(defaults: Options, overrides: Options) -> list[tuple[str, Any]]:
    merged = dict(defaults)
    merged.update(overrides)
    return list(merged.items())


def dial(
    target: str,
    *,
    options: Options = (),
    credentials: grpc.ChannelCredentials | None = None,
    tls: ClientTLS | None = None,
) -> grpc.Channel:
    """Open a channel to ``target`` (``host:port`` or any gRPC target URI); TLS with ``tls``.

    ``tls`` verifies the server (and presents a client certificate for mutual TLS); ``credentials``
    are ready-made channel credentials instead, for anything ``ClientTLS`` does not cover. A
    comma-separated list of ``host:port`` is one channel over all of them (see the module's
    docstring). The channel connects lazily, on the first call; close it with ``channel.close()``.
    Raises ValueError when both ``tls`` and ``credentials`` are given or a TLS file cannot be read.
    """
    first = target.split(",")[0].strip()
    if "," in target:
        target = replicas_target(target)
    secure: Options = ()
    if tls is not None:
        if credentials is not None:
            raise ValueError("give dial either tls or credentials, not both")
        credentials = tls.credentials()
        secure = tls.options()
    if credentials is not None and target.startswith(("ipv4:", "ipv6:")) and "," in target:
        # Resolved replicas have no name of their own: verify them against the first one as given.
        secure = [("grpc.default_authority", first), *secure]
    merged = _merge(CHANNEL_OPTIONS, [*secure, *options])
    if credentials is not None:
        return grpc.secure_channel(target, credentials, options=merged)
    return grpc.insecure_channel(target, options=merged)


def replicas_target(addresses: str) -> str:
    """The gRPC target of several ``host:port`` addresses: ``ipv4:`` / ``ipv6:`` literals, resolved now.

    Raises ValueError for an empty or malformed list, or one mixing IPv4 and IPv6 addresses.
    """
    resolved: list[tuple[int, str]] = []
    for address in (a.strip() for a in addresses.split(",")):
        host, sep, port = address.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError(f"not a host:port address: {address!r}")
        family, *_rest, sockaddr = socket.getaddrinfo(host.strip("[]"), int(port), type=socket.SOCK_STREAM)[0]
        ip = str(sockaddr[0])
        resolved.append((family, f"[{ip}]:{port}" if family == socket.AF_INET6 else f"{ip}:{port}"))
    families = {family for family, _ in resolved}
    if len(families) != 1:
        raise ValueError(f"{addresses!r} mixes IPv4 and IPv6 addresses; list one family")
    scheme = "ipv6" if families == {socket.AF_INET6} else "ipv4"
    return f"{scheme}:" + ",".join(address for _, address in resolved)


def new_server(
    *registrations: Registration,
    max_workers: int = 16,
    max_concurrent_rpcs: int | None = None,
    options: Options = (),
    interceptors: Sequence[grpc.ServerInterceptor[Any, Any]] = (),
) -> grpc.Server:
    """Build a server (not yet bound nor started) serving ``registrations``.

    Every call in flight, streams included, holds one of the ``max_workers`` threads; beyond
    ``max_concurrent_rpcs`` calls the server answers RESOURCE_EXHAUSTED instead of queueing.
    """
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="kit-grpc"),
        options=_merge(SERVER_OPTIONS, options),
        maximum_concurrent_rpcs=max_concurrent_rpcs,
        interceptors=list(interceptors) or None,
    )
    for registration in registrations:
        if isinstance(registration, grpc.GenericRpcHandler):
            server.add_generic_rpc_handlers((registration,))
        else:
            registration(server)
    return server


def serve(
    *registrations: Registration,
    port: int,
    host: str = "127.0.0.1",
    max_workers: int = 16,
    max_concurrent_rpcs: int | None = None,
    options: Options = (),
    interceptors: Sequence[grpc.ServerInterceptor[Any, Any]] = (),
    tls: ServerTLS | None = None,
) -> grpc.Server:
    """Start a server on ``host:port`` serving ``registrations``; stop it with ``shutdown``.

    Plaintext, or TLS with ``tls`` (mutual TLS when it names a client CA). Raises ``RuntimeError``
    if the address cannot be bound (e.g. the port is taken), ValueError if a TLS file cannot be read.
    """
    server = new_server(*registrations, max_workers=max_workers,
                        max_concurrent_rpcs=max_concurrent_rpcs, options=options,
                        interceptors=interceptors)
    bind(server, host, port, tls=tls)
    server.start()
    return server


def bind(server: grpc.Server, host: str, port: int, *, tls: ServerTLS | None = None) -> int:
    """Listen on ``host:port`` (port 0: one the system picks), TLS with ``tls``; return the port.

    Raises ``RuntimeError`` if the address cannot be bound, ValueError if a TLS file cannot be read.
    """
    target = address(host, port)
    if tls is None:
        bound = server.add_insecure_port(target)
    else:
        bound = server.add_secure_port(target, tls.credentials())
    if bound == 0:  # older grpcio reports a failed bind this way instead of raising
        raise RuntimeError(f"cannot listen on {target}")
    return bound


def address(host: str, port: int) -> str:
    """``host:port`` as gRPC wants it, with IPv6 hosts in brackets."""
    if ":" in host and not host.startswith("["):
        return f"[{host}]:{port}"
    return f"{host}:{port}"


def shutdown(server: grpc.Server, grace: float | None = 5.0) -> None:
    """Stop ``server``: no new calls, ``grace`` seconds for those in flight, then wait until stopped."""
    server.stop(grace).wait()
