"""gRPC test helpers: a real server on a free loopback port, and a fake servicer context.

``serve_grpc`` is for tests that go over the wire; ``FakeServicerContext`` lets a unit test call a
servicer method (a ``kit.grpc.GRPCServer``) directly, and turns an abort into an ``AbortedCall``
error that ``kit.grpc.from_rpc_error`` reads like a failed remote call.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, NoReturn

import grpc

from kit.grpc.net import Registration, new_server

_NO_DEADLINE = float(2**63)


@contextmanager
def serve_grpc(*registrations: Registration, max_workers: int = 8) -> Iterator[str]:
    """Run a real gRPC server serving ``registrations`` on 127.0.0.1; yield its ``host:port``.

    The port is picked by the server itself, so parallel tests never race for one. On exit the
    server stops at once, cancelling calls still in flight.
    """
    server = new_server(*registrations, max_workers=max_workers)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(None).wait()


class AbortedCall(grpc.RpcError):
    """Raised by ``FakeServicerContext.abort``: the status a real client would have received."""

    def __init__(self, code: grpc.StatusCode, details: str,
                 trailing_metadata: tuple[tuple[str, str | bytes], ...] = ()) -> None:
        super().__init__(f"{code.name}: {details}")
        self._code = code
        self._details = details
        self._trailing = trailing_metadata

    def code(self) -> grpc.StatusCode:
        """The status code the call was aborted with."""
        return self._code

    def details(self) -> str:
        """The status message."""
        return self._details

    def trailing_metadata(self) -> Any:
        """The trailing metadata, rich error details included."""
        return self._trailing


class FakeServicerContext(grpc.ServicerContext):
    """An in-memory ``grpc.ServicerContext`` for calling servicer methods in unit tests.

    ``timeout`` is the client's deadline in seconds from now (None: no deadline); set ``active`` to
    False to play a client that went away; ``metadata`` is the invocation metadata.
    """

    def __init__(
        self,
        *,
        metadata: Mapping[str, str | bytes] | Iterable[tuple[str, str | bytes]] = (),
        timeout: float | None = None,
        peer: str = "ipv4:127.0.0.1:50000",
        active: bool = True,
    ) -> None:
        pairs = metadata.items() if isinstance(metadata, Mapping) else metadata
        self.metadata = tuple(pairs)
        self.deadline = None if timeout is None else time.time() + timeout
        self.active = active
        self.initial_metadata: tuple[tuple[str, str | bytes], ...] = ()
        self.trailing: tuple[tuple[str, str | bytes], ...] = ()
        self.code: grpc.StatusCode | None = None
        self.details: str | None = None
        self.callbacks: list[Callable[[], None]] = []
        self._peer = peer

    def invocation_metadata(self) -> Any:
        """The metadata the fake client sent."""
        return self.metadata

    def time_remaining(self) -> float:
        """Seconds left before the deadline, as gRPC reports it (about 2**63 without one)."""
        if self.deadline is None:
            return _NO_DEADLINE
        return max(self.deadline - time.time(), 0.0)

    def peer(self) -> str:
        """The fake client's address."""
        return self._peer

    def peer_identities(self) -> None:
        """No identities: the fake connection is not authenticated."""

    def peer_identity_key(self) -> None:
        """No identity key: the fake connection is not authenticated."""

    def auth_context(self) -> Mapping[str, bytes]:
        """An empty auth context."""
        return {}

    def is_active(self) -> bool:
        """Whether the fake client still waits for the answer."""
        return self.active

    def cancel(self) -> None:
        """Cancel the call, as a client going away would."""
        self.active = False
        for callback in self.callbacks:
            callback()

    def add_callback(self, callback: Callable[[], None]) -> bool:
        """Register a callback run on ``cancel``."""
        self.callbacks.append(callback)
        return True

    def send_initial_metadata(self, initial_metadata: Any) -> None:
        """Record the initial metadata sent."""
        self.initial_metadata = tuple(initial_metadata)

    def set_trailing_metadata(self, trailing_metadata: Any) -> None:
        """Record the trailing metadata set."""
        self.trailing = tuple(trailing_metadata)

    def set_code(self, code: grpc.StatusCode) -> None:
        """Record the status code set."""
        self.code = code

    def set_details(self, details: str) -> None:
        """Record the status message set."""
        self.details = details

    def abort(self, code: grpc.StatusCode, details: str) -> NoReturn:
        """End the call with a status: raise ``AbortedCall``."""
        self.code, self.details = code, details
        raise AbortedCall(code, details, self.trailing)

    def abort_with_status(self, status: grpc.Status) -> NoReturn:
        """End the call with a status and its trailing metadata: raise ``AbortedCall``."""
        self.trailing = tuple(status.trailing_metadata)
        self.abort(status.code, status.details)
