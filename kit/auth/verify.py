"""Token verification: signature with a pinned algorithm, time claims, issuer and audience.

Every failure is an ``Unauthenticated`` whose message says what was wrong with the token in general
terms and never quotes it, so neither the token nor its claims reach a response or a log line.

A verified token is remembered (up to ``cache_size`` of them, keyed by the exact token string), so
a client that sends the same token on every call pays for its signature once: a remembered token
is only checked again against ``exp`` / ``nbf``. The keys of a verifier never change, so a token
string that verified once stays verified until it expires.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import jwt

from kit.auth.keys import VerificationKey
from kit.errors import Unauthenticated

DEFAULT_LEEWAY = 30.0
"""Seconds of clock skew allowed on ``exp`` and ``nbf``."""
DEFAULT_CACHE_SIZE = 1024
"""How many verified tokens a verifier remembers."""

_REASONS: tuple[tuple[type[Exception], str], ...] = (
    (jwt.ExpiredSignatureError, "token expired"),
    (jwt.ImmatureSignatureError, "token not valid yet"),
    (jwt.InvalidAudienceError, "token audience not accepted"),
    (jwt.InvalidIssuerError, "token issuer not accepted"),
    (jwt.MissingRequiredClaimError, "token lacks a required claim"),
    (jwt.InvalidSignatureError, "token signature invalid"),
    (jwt.InvalidAlgorithmError, "token algorithm not accepted"),
)


class TokenVerifier:
    """Verifies compact JWS tokens against ``keys``; ``verify(token)`` returns the claims.

    With several keys a token picks one by its ``kid`` header; with one key ``kid`` may be absent.
    ``issuer`` / ``audience`` (when given) must match ``iss`` / ``aud``; ``exp`` is required.
    """

    def __init__(
        self,
        keys: Iterable[VerificationKey],
        *,
        issuer: str | None = None,
        audience: str | Sequence[str] | None = None,
        leeway: float = DEFAULT_LEEWAY,
        required: Sequence[str] = ("exp",),
        cache_size: int = DEFAULT_CACHE_SIZE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._keys = tuple(keys)
        if not self._keys:
            raise ValueError("a verifier needs at least one key")
        self._by_kid = {key.kid: key for key in self._keys if key.kid is not None}
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway
        self._options: Any = {"require": list(required), "verify_aud": audience is not None}
        self._cache_size = cache_size
        self._clock = clock
        self._cache: dict[str, tuple[Mapping[str, Any], float, float]] = {}
        self._lock = threading.Lock()

    def verify(self, token: str) -> Mapping[str, Any]:
        """The verified claims of ``token`` (read-only), or ``Unauthenticated``."""
        hit = self._cache.get(token)
        if hit is not None:
            claims, not_before, expires = hit
            now = self._clock()
            if now > expires:
                self._cache.pop(token, None)
                raise Unauthenticated("token expired")
            if now >= not_before:
                return claims
        claims = self._verify(token)
        if self._cache_size > 0:
            self._remember(token, claims)
        return claims

    def _remember(self, token: str, claims: Mapping[str, Any]) -> None:
        exp, nbf = claims.get("exp"), claims.get("nbf")
        expires = float(exp) + self._leeway if isinstance(exp, (int, float)) else float("inf")
        not_before = float(nbf) - self._leeway if isinstance(nbf, (int, float)) else float("-inf")
        with self._lock:
            while len(self._cache) >= self._cache_size:
                del self._cache[next(iter(self._cache))]  # the oldest one
            self._cache[token] = (claims, not_before, expires)

    def _verify(self, token: str) -> Mapping[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthenticated("malformed token") from None
        key = self._key_for(header.get("kid"))
        if header.get("alg") != key.algorithm:
            raise Unauthenticated("token algorithm not accepted")
        try:
            claims = jwt.decode(token, key.key, algorithms=[key.algorithm], options=self._options,
                                issuer=self._issuer, audience=self._audience, leeway=self._leeway)
        except jwt.PyJWTError as exc:
            raise Unauthenticated(_reason(exc)) from None
        return MappingProxyType(claims)

    def _key_for(self, kid: object) -> VerificationKey:
        if isinstance(kid, str) and kid in self._by_kid:
            return self._by_kid[kid]
        if kid is None and len(self._keys) == 1:
            return self._keys[0]
        raise Unauthenticated("token key not known")


def _reason(exc: Exception) -> str:
    for kind, reason in _REASONS:
        if isinstance(exc, kind):
            return reason
    return "invalid token"
