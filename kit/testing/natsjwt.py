"""NATS decentralized auth for tests: an operator, an account and user ``.creds`` files.

nats-server's JWT mode (``operator``, a system account and ``resolver: MEMORY``) trusts an
operator's signing key; the operator signs account JWTs and an account signs its users' JWTs,
each JWT carrying its permissions. ``Operator.config(account)`` is the server configuration that
trusts one account; ``Account.creds(directory, name, ...)`` writes a ``.creds`` file (the user's
JWT and nkey seed) as ``nsc`` would, for ``NatsSecurity(creds_file=...)``. The keys are ed25519
nkeys (the ``nkeys`` library signs; this module only lays out the JWT claims), made fresh for
each ``Operator``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import nkeys

_HEADER = {"typ": "JWT", "alg": "ed25519-nkey"}
_UNLIMITED = {"subs": -1, "data": -1, "payload": -1}
_ACCOUNT_LIMITS = {**_UNLIMITED, "imports": -1, "exports": -1, "wildcards": True, "conn": -1, "leaf": -1}
_JETSTREAM_LIMITS = {"mem_storage": -1, "disk_storage": -1, "streams": -1, "consumer": -1}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _keypair(prefix: int) -> nkeys.KeyPair:
    return nkeys.from_seed(bytearray(nkeys.encode_seed(os.urandom(32), prefix)))


def _public(keys: nkeys.KeyPair) -> str:
    return bytes(keys.public_key).decode()


def _jwt(signer: nkeys.KeyPair, subject: str, name: str, nats: dict[str, Any]) -> str:
    """A JWT of ``nats`` claims about ``subject``, signed by ``signer``."""
    claims: dict[str, Any] = {"iat": int(time.time()), "iss": _public(signer), "name": name,
                              "sub": subject, "nats": nats}
    claims["jti"] = base64.b32encode(hashlib.sha256(json.dumps(claims, sort_keys=True).encode())
                                     .digest()).decode().rstrip("=")
    signing_input = f"{_b64(json.dumps(_HEADER).encode())}.{_b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{_b64(signer.sign(signing_input.encode()))}"


class Account:
    """An account the operator signed; it signs its users."""

    def __init__(self, operator: nkeys.KeyPair, name: str, *, jetstream: bool = True) -> None:
        self._keys = _keypair(nkeys.PREFIX_BYTE_ACCOUNT)
        self.public_key = _public(self._keys)
        limits = {**_ACCOUNT_LIMITS, **(_JETSTREAM_LIMITS if jetstream else {})}
        self.jwt = _jwt(operator, self.public_key, name, {"limits": limits, "type": "account", "version": 2})

    def creds(self, directory: Path, name: str, *, allow_publish: Sequence[str] = (">",),
              deny_publish: Sequence[str] = (), allow_subscribe: Sequence[str] = (">",)) -> Path:
        """Write ``<name>.creds`` for a new user of this account with these permissions (mode 0600)."""
        user = _keypair(nkeys.PREFIX_BYTE_USER)
        permissions = {"pub": {"allow": list(allow_publish), "deny": list(deny_publish)},
                       "sub": {"allow": list(allow_subscribe)}}
        token = _jwt(self._keys, _public(user), name,
                     {**permissions, **_UNLIMITED, "type": "user", "version": 2})
        seed = bytes(user.seed).decode()
        path = Path(directory) / f"{name}.creds"
        path.touch(mode=0o600)
        path.write_text(f"-----BEGIN NATS USER JWT-----\n{token}\n------END NATS USER JWT------\n\n"
                        f"-----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n")
        return path


class Operator:
    """A fresh operator key pair, the accounts it signs, and the server configuration trusting them."""

    def __init__(self, name: str = "test-operator") -> None:
        self._keys = _keypair(nkeys.PREFIX_BYTE_OPERATOR)
        self.jwt = _jwt(self._keys, _public(self._keys), name, {"type": "operator", "version": 2})
        # The server's own account: JetStream needs one, and may not be enabled in it.
        self.system = Account(self._keys, "SYS", jetstream=False)

    def account(self, name: str = "APP") -> Account:
        """A new account signed by this operator, with JetStream (no limits)."""
        return Account(self._keys, name)

    def config(self, *accounts: Account) -> str:
        """nats-server configuration lines: trust this operator, with ``accounts`` (and the system
        account) preloaded."""
        preload = "\n".join(f"  {account.public_key}: {account.jwt}" for account in (self.system, *accounts))
        return (f"operator: {self.jwt}\nsystem_account: {self.system.public_key}\nresolver: MEMORY\n"
                f"resolver_preload: {{\n{preload}\n}}\n")
