"""Auth test helpers: real RSA/EC key pairs, test secrets, and hand-forged tokens (alg none, confusion)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

SECRET = "a-test-secret-that-is-long-enough-for-hs256"
OTHER_SECRET = "another-secret-that-is-long-enough-for-hs256"


def rsa_pair() -> tuple[rsa.RSAPrivateKey, bytes]:
    """A fresh RSA private key and its public key as PEM."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key, pem_of(key.public_key())


def ec_pair() -> tuple[ec.EllipticCurvePrivateKey, bytes]:
    """A fresh P-256 private key and its public key as PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    return key, pem_of(key.public_key())


def pem_of(public: Any) -> bytes:
    """A public key as SubjectPublicKeyInfo PEM."""
    return bytes(public.public_bytes(serialization.Encoding.PEM,
                                     serialization.PublicFormat.SubjectPublicKeyInfo))


def private_pem_of(private: Any) -> bytes:
    """A private key as unencrypted PKCS#8 PEM (what ``eventstream token --private-key`` reads)."""
    return bytes(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged(header: dict[str, Any], claims: dict[str, Any], secret: bytes | None) -> str:
    """A token with any header; HMAC-SHA256-signed with ``secret``, or unsigned when None."""
    signing_input = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(claims).encode())
    if secret is None:
        return signing_input + "."
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + _b64(signature)
