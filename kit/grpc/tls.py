"""TLS and mutual TLS for gRPC servers and channels, from PEM files (see ``kit.certs`` to make them).

``ServerTLS(cert, key)`` serves TLS; with ``client_ca`` set the server also requires every client
to present a certificate signed by that CA (mutual TLS) and refuses the handshake otherwise.
``ClientTLS(ca)`` verifies the server against ``ca`` (the system's roots when None); with ``cert``
and ``key`` set it presents them for mutual TLS. Pass them to ``kit.grpc.serve(..., tls=...)``,
``kit.grpc.bind(..., tls=...)`` and ``kit.grpc.dial(..., tls=...)``.

From the environment, one set of variables configures both sides of a process, so a service
serves and presents the same certificate::

    EVENTSTREAM_TLS_CERT, EVENTSTREAM_TLS_KEY   this process's certificate and key (PEM)
    EVENTSTREAM_TLS_CA                          the CA that signs peers: servers verify, and then
                                                require, client certificates; clients verify servers
    EVENTSTREAM_TLS_SERVER_NAME                 the name a client expects in the server's certificate
                                                (when it dials an address the certificate does not name)

Files are read when credentials are made (``from_env`` makes them at once): a missing, unreadable
or non-PEM file, or a key that is not its certificate's, is a one-line ``ValueError`` naming the
file, where gRPC itself would only fail to bind or to handshake.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import serialization

ENV_CERT = "EVENTSTREAM_TLS_CERT"
ENV_KEY = "EVENTSTREAM_TLS_KEY"
ENV_CA = "EVENTSTREAM_TLS_CA"
ENV_SERVER_NAME = "EVENTSTREAM_TLS_SERVER_NAME"
ENV_NAMES: tuple[str, ...] = (ENV_CERT, ENV_KEY, ENV_CA, ENV_SERVER_NAME)
"""Every environment variable ``ServerTLS.from_env`` and ``ClientTLS.from_env`` read."""


@dataclass(frozen=True)
class ServerTLS:
    """What a TLS server presents (``cert``, ``key``) and, for mutual TLS, whom it trusts (``client_ca``).

    With ``client_ca`` set, clients must present a certificate signed by it.
    """

    cert: Path
    key: Path
    client_ca: Path | None = None

    def credentials(self) -> grpc.ServerCredentials:
        """gRPC server credentials; raises ValueError naming a file that is missing or wrong."""
        pair = _key_pair(self.cert, self.key)
        if self.client_ca is None:
            return grpc.ssl_server_credentials([pair])
        return grpc.ssl_server_credentials([pair], root_certificates=_read_ca(self.client_ca),
                                           require_client_auth=True)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServerTLS | None:
        """The server TLS the environment configures (see the module docstring); None without a cert.

        Raises ValueError when the certificate is set without its key, or a file cannot be read.
        """
        env = os.environ if environ is None else environ
        cert, key, ca = _get(env, ENV_CERT), _get(env, ENV_KEY), _get(env, ENV_CA)
        if cert is None:
            if key is not None:
                raise ValueError(f"{ENV_KEY} is set but {ENV_CERT} is not")
            return None
        if key is None:
            raise ValueError(f"{ENV_CERT} is set but {ENV_KEY} is not")
        tls = cls(cert=Path(cert), key=Path(key), client_ca=None if ca is None else Path(ca))
        tls.credentials()  # fail now, at configuration, on a missing file
        return tls


@dataclass(frozen=True)
class ClientTLS:
    """How a client verifies servers (``ca``; None: the system's roots) and what it presents for mTLS.

    ``cert`` and ``key`` go together; ``server_name`` is the name expected in the server's
    certificate instead of the dialled host (``grpc.ssl_target_name_override``).
    """

    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    server_name: str | None = None

    def __post_init__(self) -> None:
        if (self.cert is None) != (self.key is None):
            raise ValueError("a client certificate needs its key and a key its certificate")

    def credentials(self) -> grpc.ChannelCredentials:
        """gRPC channel credentials; raises ValueError naming a file that is missing or wrong."""
        key = cert = None
        if self.cert is not None and self.key is not None:
            key, cert = _key_pair(self.cert, self.key)
        return grpc.ssl_channel_credentials(
            root_certificates=None if self.ca is None else _read_ca(self.ca),
            private_key=key, certificate_chain=cert,
        )

    def options(self) -> list[tuple[str, Any]]:
        """The channel options these settings need (the server name override, if any)."""
        if self.server_name is None:
            return []
        return [("grpc.ssl_target_name_override", self.server_name)]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ClientTLS | None:
        """The client TLS the environment configures (see the module docstring); None without a CA.

        The process's own certificate and key, when set, are presented to servers. Raises
        ValueError when only one of them is set, or a file cannot be read.
        """
        env = os.environ if environ is None else environ
        ca, cert, key = _get(env, ENV_CA), _get(env, ENV_CERT), _get(env, ENV_KEY)
        if ca is None:
            return None
        if (cert is None) != (key is None):
            raise ValueError(f"{ENV_CERT} and {ENV_KEY} go together; only one is set")
        tls = cls(ca=Path(ca), cert=None if cert is None else Path(cert),
                  key=None if key is None else Path(key), server_name=_get(env, ENV_SERVER_NAME))
        tls.credentials()  # fail now, at configuration, on a missing file
        return tls


def _get(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _read(path: Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read TLS {what} file {path}: {exc.strerror}") from None


def _certificates(path: Path, what: str) -> tuple[bytes, list[x509.Certificate]]:
    data = _read(path, what)
    try:
        return data, x509.load_pem_x509_certificates(data)
    except ValueError:
        raise ValueError(f"TLS {what} file {path} holds no PEM certificate") from None


def _read_ca(path: Path) -> bytes:
    return _certificates(path, "CA")[0]


def _key_pair(cert_path: Path, key_path: Path) -> tuple[bytes, bytes]:
    """(key, certificate chain) PEM, checked to belong together: gRPC would only say "cannot bind"."""
    cert, chain = _certificates(cert_path, "certificate")
    key = _read(key_path, "key")
    try:
        private = serialization.load_pem_private_key(key, password=None)
    except (ValueError, TypeError):  # TypeError: the key is encrypted
        raise ValueError(f"TLS key file {key_path} holds no unencrypted PEM private key") from None
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if private.public_key().public_bytes(*spki) != chain[0].public_key().public_bytes(*spki):
        raise ValueError(f"TLS key file {key_path} is not the key of certificate {cert_path}")
    return key, cert
