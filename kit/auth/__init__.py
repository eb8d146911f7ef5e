"""Bearer-token authentication and scope authorization, independent of the transport.

- ``keys``: what verifies a token: an HS256 shared secret, an RS256/ES256 public key (PEM) or a
  JWKS file; each key pins the one algorithm it may verify, so ``alg: none`` and algorithm
  confusion (an HS256 token "signed" with an RSA public key) are refused.
- ``TokenVerifier``: checks signature, ``exp``/``nbf`` (with a small leeway) and optionally
  ``iss``/``aud``, and returns the claims; ``BearerAuth`` reads ``Authorization: Bearer ...`` from
  headers or gRPC metadata and verifies it. Transports run it before the endpoint and put the claims
  in the request context (``kit.context.current().claims``), never in logs.
- ``require_scopes``: endpoint middleware declaring the scopes an endpoint needs (403 /
  PERMISSION_DENIED without them, 401 / UNAUTHENTICATED without a verified token).
- ``mint_token``, ``RefreshingToken``, ``TokenSource``: the client side; kit HTTP and gRPC clients
  take ``token=`` (a string or a callable returning a fresh one) and send it on every call.
"""

from kit.auth.bearer import BearerAuth, bearer_token, outgoing_metadata
from kit.auth.claims import current_claims, has_scopes, scopes_of, subject
from kit.auth.keys import VerificationKey, hs256_key, jwks_keys, load_public_key, public_key
from kit.auth.require import require_scopes
from kit.auth.tokens import RefreshingToken, TokenSource, authorization_value, mint_token
from kit.auth.verify import DEFAULT_LEEWAY, TokenVerifier

__all__ = [
    "DEFAULT_LEEWAY",
    "BearerAuth",
    "RefreshingToken",
    "TokenSource",
    "TokenVerifier",
    "VerificationKey",
    "authorization_value",
    "bearer_token",
    "current_claims",
    "has_scopes",
    "hs256_key",
    "jwks_keys",
    "load_public_key",
    "mint_token",
    "outgoing_metadata",
    "public_key",
    "require_scopes",
    "scopes_of",
    "subject",
]
