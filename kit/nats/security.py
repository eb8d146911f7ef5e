"""How a process proves who it is to NATS, and encrypts the connection: user/password, a token,
an nkey seed or a creds file, and TLS (a CA, and a client certificate for mutual TLS).

Every kit connection (consumers, the relay's publisher, the administrative calls) takes its
``NatsSecurity`` from the process's environment unless given one, so a service is configured by
``EVENTSTREAM_NATS_*`` variables without each caller passing them down:

=============================== ===================================================
``EVENTSTREAM_NATS_USER``        user name (with a password)
``EVENTSTREAM_NATS_PASSWORD``    its password, or ``EVENTSTREAM_NATS_PASSWORD_FILE``
``EVENTSTREAM_NATS_TOKEN``       an authorization token, or ``EVENTSTREAM_NATS_TOKEN_FILE``
``EVENTSTREAM_NATS_CREDS``       a ``.creds`` file (user JWT and nkey seed, decentralized auth)
``EVENTSTREAM_NATS_NKEY``        an nkey seed file
``EVENTSTREAM_NATS_TLS_CA``      CA verifying the server (turns TLS on)
``EVENTSTREAM_NATS_TLS_CERT``    client certificate (mutual TLS), with ``..._TLS_KEY``
=============================== ===================================================

A ``tls://`` URL needs a CA (the system's trust store is used when none is given). Secrets never
appear in ``repr``; one way of authenticating at a time, or ``ValueError``.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENV_USER = "EVENTSTREAM_NATS_USER"
ENV_PASSWORD = "EVENTSTREAM_NATS_PASSWORD"
ENV_PASSWORD_FILE = "EVENTSTREAM_NATS_PASSWORD_FILE"
ENV_TOKEN = "EVENTSTREAM_NATS_TOKEN"
ENV_TOKEN_FILE = "EVENTSTREAM_NATS_TOKEN_FILE"
ENV_CREDS = "EVENTSTREAM_NATS_CREDS"
ENV_NKEY = "EVENTSTREAM_NATS_NKEY"
ENV_TLS_CA = "EVENTSTREAM_NATS_TLS_CA"
ENV_TLS_CERT = "EVENTSTREAM_NATS_TLS_CERT"
ENV_TLS_KEY = "EVENTSTREAM_NATS_TLS_KEY"
ENV_NAMES: tuple[str, ...] = (ENV_USER, ENV_PASSWORD, ENV_PASSWORD_FILE, ENV_TOKEN, ENV_TOKEN_FILE,
                              ENV_CREDS, ENV_NKEY, ENV_TLS_CA, ENV_TLS_CERT, ENV_TLS_KEY)
"""Every environment variable ``NatsSecurity.from_env`` reads."""


@dataclass(frozen=True)
class NatsSecurity:
    """Credentials and TLS of a NATS connection (all optional: none is an open connection)."""

    user: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    creds_file: Path | None = None
    nkey_seed_file: Path | None = None
    tls_ca: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None

    def __post_init__(self) -> None:
        ways = [name for name, given in (("user", self.user is not None), ("token", self.token is not None),
                                         ("creds file", self.creds_file is not None),
                                         ("nkey seed", self.nkey_seed_file is not None)) if given]
        if len(ways) > 1:
            raise ValueError(f"NATS takes one way of authenticating, got {' and '.join(ways)}")
        if (self.user is None) != (self.password is None):
            raise ValueError("a NATS user and its password go together")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("a NATS client certificate and its key go together")
        for path in (self.creds_file, self.nkey_seed_file, self.tls_ca, self.tls_cert, self.tls_key):
            if path is not None and not path.is_file():
                raise ValueError(f"NATS security file not found: {path}")

    def __repr__(self) -> str:
        """What is configured; never a password or token."""
        parts = [f"user={self.user!r}"] if self.user else []
        parts += ["password=set"] if self.password else []
        parts += ["token=set"] if self.token else []
        parts += [f"{name}={value}" for name, value in (
            ("creds_file", self.creds_file), ("nkey_seed_file", self.nkey_seed_file),
            ("tls_ca", self.tls_ca), ("tls_cert", self.tls_cert)) if value is not None]
        return f"NatsSecurity({', '.join(parts)})"

    @property
    def tls(self) -> bool:
        """Whether the connection is TLS (a CA or a client certificate is configured)."""
        return self.tls_ca is not None or self.tls_cert is not None

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context verifying the server (and presenting the client certificate), or None."""
        if not self.tls:
            return None
        context = ssl.create_default_context(
            ssl.Purpose.SERVER_AUTH, cafile=None if self.tls_ca is None else str(self.tls_ca))
        if self.tls_cert is not None and self.tls_key is not None:
            context.load_cert_chain(str(self.tls_cert), str(self.tls_key))
        return context

    def connect_options(self) -> dict[str, Any]:
        """The keyword arguments of ``nats.connect`` for these settings."""
        options: dict[str, Any] = {}
        if self.user is not None:
            options.update(user=self.user, password=self.password)
        if self.token is not None:
            options["token"] = self.token
        if self.creds_file is not None:
            options["user_credentials"] = str(self.creds_file)
        if self.nkey_seed_file is not None:
            options["nkeys_seed"] = str(self.nkey_seed_file)
        context = self.ssl_context()
        if context is not None:
            options["tls"] = context
        return options

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> NatsSecurity:
        """The settings in ``EVENTSTREAM_NATS_*`` (see the module docstring); empty means unset."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            return env.get(name, "").strip() or None

        def path(name: str) -> Path | None:
            value = get(name)
            return None if value is None else Path(value)

        password = _secret(get(ENV_PASSWORD), path(ENV_PASSWORD_FILE), "password")
        return cls(user=get(ENV_USER), password=password,
                   token=_secret(get(ENV_TOKEN), path(ENV_TOKEN_FILE), "token"),
                   creds_file=path(ENV_CREDS), nkey_seed_file=path(ENV_NKEY), tls_ca=path(ENV_TLS_CA),
                   tls_cert=path(ENV_TLS_CERT), tls_key=path(ENV_TLS_KEY))


def _secret(value: str | None, file: Path | None, what: str) -> str | None:
    if value is not None and file is not None:
        raise ValueError(f"give the NATS {what} or its file, not both")
    if file is None:
        return value
    try:
        return file.read_text().strip()
    except OSError as exc:
        raise ValueError(f"cannot read the NATS {what} file {file}: {exc.strerror}") from None
