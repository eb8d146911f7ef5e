"""The client side of bearer tokens: minting, caching and refreshing, the header value.

A ``TokenSource`` is a token string or a callable that returns a current token; kit clients call it
for every request, so a ``RefreshingToken`` (which mints or fetches a new one shortly before the
old one expires) gives long-running processes tokens that never lapse.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeAlias

import jwt

TokenSource: TypeAlias = str | Callable[[], str]
"""A bearer token, or a callable returning the token to send now."""


def authorization_value(token: TokenSource) -> str:
    """The ``Authorization`` header value for ``token``."""
    return "Bearer " + (token if isinstance(token, str) else token())


def mint_token(
    key: str | bytes | Any,
    *,
    subject: str,
    scopes: Iterable[str] = (),
    ttl: float = 3600.0,
    algorithm: str = "HS256",
    issuer: str | None = None,
    audience: str | Sequence[str] | None = None,
    kid: str | None = None,
    extra: dict[str, Any] | None = None,
    now: float | None = None,
) -> str:
    """A signed token for ``subject`` with ``scope`` (space-separated) valid for ``ttl`` seconds.

    ``key`` is the HS256 secret or an RSA/EC private key (``algorithm`` RS256/ES256).
    """
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {"sub": subject, "iat": issued, "nbf": issued,
                              "exp": issued + int(ttl), "jti": uuid.uuid4().hex}
    scope = " ".join(scopes)
    if scope:
        claims["scope"] = scope
    if issuer is not None:
        claims["iss"] = issuer
    if audience is not None:
        claims["aud"] = audience
    claims.update(extra or {})
    headers = {"kid": kid} if kid is not None else None
    return jwt.encode(claims, key, algorithm=algorithm, headers=headers)


class RefreshingToken:
    """A ``TokenSource`` that calls ``fetch`` again when the cached token is about to expire.

    The expiry is read from the token's own ``exp`` claim (unverified: it is our own token; the
    server verifies it). Safe to share between threads.
    """

    def __init__(self, fetch: Callable[[], str], *, margin: float = 60.0,
                 clock: Callable[[], float] = time.time) -> None:
        self._fetch = fetch
        self._margin = margin
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0

    def __call__(self) -> str:
        """The current token, fetching a new one first when it expires within ``margin`` seconds."""
        with self._lock:
            if self._token is None or self._clock() >= self._refresh_at:
                token = self._fetch()
                exp = jwt.decode(token, options={"verify_signature": False}).get("exp")
                self._refresh_at = float(exp) - self._margin if isinstance(exp, (int, float)) else 0.0
                self._token = token
            return self._token
