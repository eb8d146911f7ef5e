"""The ``Authorization: Bearer <token>`` scheme (RFC 6750), both ways.

``BearerAuth(verifier)`` is what the transports run before an endpoint: given the request's headers
or gRPC metadata (lower-case ``authorization`` key), it returns the verified claims or raises
``Unauthenticated`` (401 with ``WWW-Authenticate: Bearer`` over HTTP, UNAUTHENTICATED over gRPC).
``outgoing_metadata(token)`` is the client side: a hook that adds the header to a call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

from kit.auth.tokens import TokenSource, authorization_value
from kit.auth.verify import TokenVerifier
from kit.errors import Unauthenticated

HEADER = "authorization"


def bearer_token(value: str | None) -> str:
    """The token of an ``Authorization`` value, or ``Unauthenticated`` if missing or not Bearer."""
    if not value:
        raise Unauthenticated("missing bearer token")
    scheme, _, token = value.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("authorization is not a bearer token")
    return token


class BearerAuth:
    """Verifies the bearer token of a request's headers / metadata; returns its claims."""

    __slots__ = ("_verifier",)

    def __init__(self, verifier: TokenVerifier) -> None:
        self._verifier = verifier

    def __call__(self, headers: Mapping[str, str]) -> Mapping[str, Any]:
        """The verified claims, or ``Unauthenticated``."""
        return self._verifier.verify(bearer_token(headers.get(HEADER)))


Authenticator = Callable[[Mapping[str, str]], Mapping[str, Any]]
"""What a transport adapter runs on a request's headers / metadata: claims, or ``Unauthenticated``."""


def outgoing_metadata(token: TokenSource) -> Callable[[MutableMapping[str, str]], None]:
    """A client hook (``kit.grpc`` ``before=``) adding ``authorization: Bearer <token>`` to a call."""

    def add(metadata: MutableMapping[str, str]) -> None:
        metadata[HEADER] = authorization_value(token)

    return add
