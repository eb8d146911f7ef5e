"""Verification keys, each pinned to the one algorithm it may verify.

Pinning is what defeats algorithm confusion: the algorithm comes from the key's type, never from
the token's header, so an RSA public key only ever verifies RS256 (an HS256 token "signed" with the
public key's PEM as its secret is refused), a secret only HS256, and ``none`` nothing at all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

MIN_SECRET_BYTES = 32
"""The shortest HS256 secret accepted (RFC 7518 asks for at least the hash size, 256 bits)."""

_EC_ALGORITHMS = {"secp256r1": "ES256", "secp384r1": "ES384"}


@dataclass(frozen=True)
class VerificationKey:
    """A key and the single algorithm it verifies; ``kid`` names it in a key set."""

    algorithm: str
    key: Any
    kid: str | None = None

    def __repr__(self) -> str:  # never print a secret
        return f"VerificationKey(algorithm={self.algorithm!r}, kid={self.kid!r})"


def hs256_key(secret: str | bytes, *, kid: str | None = None) -> VerificationKey:
    """An HS256 shared secret (at least 32 bytes)."""
    raw = secret.encode() if isinstance(secret, str) else secret
    if len(raw) < MIN_SECRET_BYTES:
        raise ValueError(f"an HS256 secret needs at least {MIN_SECRET_BYTES} bytes")
    return VerificationKey("HS256", raw, kid)


def public_key(pem: str | bytes, *, kid: str | None = None) -> VerificationKey:
    """An RSA (RS256) or EC P-256/P-384 (ES256/ES384) public key in PEM form."""
    loaded = load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)
    return VerificationKey(_algorithm_of(loaded), loaded, kid)


def load_public_key(path: str | Path) -> list[VerificationKey]:
    """The keys in a file: a JWKS document (``{"keys": [...]}``) or one PEM public key."""
    data = Path(path).read_bytes()
    if data.lstrip().startswith(b"{"):
        return jwks_keys(json.loads(data))
    return [public_key(data)]


def jwks_keys(document: dict[str, Any]) -> list[VerificationKey]:
    """The RSA and EC keys of a JWKS document; symmetric (``oct``) keys are refused."""
    keys = document.get("keys")
    if not isinstance(keys, list) or not keys:
        raise ValueError("a JWKS document needs a non-empty 'keys' list")
    found = []
    for entry in keys:
        if not isinstance(entry, dict) or entry.get("kty") not in ("RSA", "EC"):
            raise ValueError("JWKS keys must be RSA or EC public keys")
        if entry.get("use", "sig") != "sig":
            continue
        loaded = jwt.PyJWK(entry).key
        algorithm = _algorithm_of(loaded)
        if entry.get("alg", algorithm) != algorithm:
            raise ValueError(f"JWKS key {entry.get('kid')!r} names alg {entry['alg']!r}, not {algorithm}")
        found.append(VerificationKey(algorithm, loaded, entry.get("kid")))
    return found


def _algorithm_of(key: Any) -> str:
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < 2048:
            raise ValueError("an RSA key needs at least 2048 bits")
        return "RS256"
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name in _EC_ALGORITHMS:
        return _EC_ALGORITHMS[key.curve.name]
    raise ValueError(f"unsupported public key type {type(key).__name__}")
