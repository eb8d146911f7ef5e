"""How a service is told to authenticate: a shared secret or a public key, and its own service token.

``AuthSettings`` is what the command-line options of a service gather (``kit.options.auth_options``):

- ``secret`` (HS256, at least 32 bytes) or ``public_key_file`` (RS256/ES256 PEM, or a JWKS file):
  with either, auth is on and ``authenticator()`` verifies every request's bearer token; with
  neither, auth is off and the service only accepts to listen on a loopback address
  (``check_exposure``) unless told it may run ``insecure``.
- the token this process sends to the services it calls (``service_token``): minted from the
  secret for ``sub=<service name>``, ``scope=service`` and refreshed before it expires, or read
  from ``service_token_file`` (re-read when it nears expiry, so a rotated file is picked up) when
  only a public key is known.

Nothing here logs or renders a secret or a token; ``repr`` shows which settings are set, not their
values.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kit.auth.bearer import BearerAuth
from kit.auth.keys import VerificationKey, hs256_key, load_public_key
from kit.auth.tokens import RefreshingToken, TokenSource, mint_token
from kit.auth.verify import TokenVerifier

SERVICE_SCOPE = "service"
"""The scope of the tokens the system's own processes send each other."""
ADMIN_SCOPE = "orders:admin"
"""The scope of an operator's token."""
MIN_SECRET_BYTES = 32
"""Shortest HS256 secret accepted: RFC 7518 asks for a key at least as long as the hash."""
SERVICE_TOKEN_TTL = 3600.0


@dataclass(frozen=True)
class AuthSettings:
    """A service's authentication configuration (see the module docstring)."""

    secret: str | None = field(default=None, repr=False)
    public_key_file: Path | None = None
    service_token_file: Path | None = None
    issuer: str | None = None
    audience: str | None = None
    insecure: bool = False

    def __post_init__(self) -> None:
        if self.secret is not None and self.public_key_file is not None:
            raise ValueError("give an auth secret or a public key, not both")
        if self.secret is not None and len(self.secret.encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"the auth secret must be at least {MIN_SECRET_BYTES} bytes long")

    def __repr__(self) -> str:
        """Which settings are set; never the secret."""
        return (f"AuthSettings(secret={'set' if self.secret else 'unset'}, "
                f"public_key_file={self.public_key_file}, service_token_file={self.service_token_file}, "
                f"issuer={self.issuer!r}, audience={self.audience!r}, insecure={self.insecure})")

    @property
    def enabled(self) -> bool:
        """Whether requests must carry a verified token."""
        return self.secret is not None or self.public_key_file is not None

    def keys(self) -> list[VerificationKey]:
        """The keys tokens are verified with (empty when auth is off)."""
        if self.secret is not None:
            return [hs256_key(self.secret)]
        if self.public_key_file is None:
            return []
        try:
            return load_public_key(self.public_key_file)
        except OSError as exc:
            raise ValueError(f"cannot read the public key file {self.public_key_file}: "
                             f"{exc.strerror}") from None

    def authenticator(self) -> BearerAuth | None:
        """What transports run on each request to verify its token, or None when auth is off."""
        if not self.enabled:
            return None
        verifier = TokenVerifier(self.keys(), issuer=self.issuer, audience=self.audience)
        return BearerAuth(verifier)

    def service_token(self, name: str) -> TokenSource | None:
        """The token ``name`` sends to the services it calls, or None when auth is off.

        Raises ``ValueError`` when only a public key is known and no token file is given: the
        process could verify tokens but would have none to send.
        """
        if self.service_token_file is not None:
            path = self.service_token_file
            return RefreshingToken(lambda: _read(path, "service token").strip())
        if self.secret is not None:
            secret = self.secret

            def mint() -> str:
                return mint_token(secret, subject=name, scopes=[SERVICE_SCOPE], ttl=SERVICE_TOKEN_TTL,
                                  issuer=self.issuer, audience=self.audience)

            return RefreshingToken(mint, margin=SERVICE_TOKEN_TTL / 4)
        if self.public_key_file is not None:
            raise ValueError("with only a public key, a service needs --service-token-file "
                             "(a token with scope 'service') to call the event store")
        return None

    def check_exposure(self, hosts: Sequence[str]) -> None:
        """Refuse (``ValueError``, one line) to listen beyond loopback with auth off and not ``insecure``."""
        if self.enabled or self.insecure:
            return
        exposed = [host for host in hosts if not is_loopback(host)]
        if exposed:
            raise ValueError(f"refusing to listen on {exposed[0]} without authentication: set "
                             "--auth-secret (EVENTSTREAM_AUTH_SECRET) or --auth-public-key, "
                             "or pass --insecure to run open")


def is_loopback(host: str) -> bool:
    """Whether ``host`` names only this machine (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may resolve to any interface


def from_values(values: Mapping[str, object]) -> AuthSettings:
    """Settings from the option values ``auth_secret``, ``auth_secret_file``, ``auth_public_key``,
    ``service_token_file``, ``auth_issuer``, ``auth_audience`` and ``insecure`` (empty: unset)."""
    secret = values.get("auth_secret") or None
    secret_file = values.get("auth_secret_file") or None
    if secret is not None and secret_file is not None:
        raise ValueError("give --auth-secret or --auth-secret-file, not both")
    if secret_file is not None:
        secret = _read(Path(str(secret_file)), "auth secret").strip()

    def path(key: str) -> Path | None:
        value = values.get(key) or None
        return None if value is None else Path(str(value))

    return AuthSettings(
        secret=None if secret is None else str(secret),
        public_key_file=path("auth_public_key"), service_token_file=path("service_token_file"),
        issuer=str(values.get("auth_issuer") or "") or None,
        audience=str(values.get("auth_audience") or "") or None,
        insecure=bool(values.get("insecure")),
    )


AUTH_ENV = {"auth_secret": "EVENTSTREAM_AUTH_SECRET", "auth_secret_file": "EVENTSTREAM_AUTH_SECRET_FILE",
            "auth_public_key": "EVENTSTREAM_AUTH_PUBLIC_KEY",
            "service_token_file": "EVENTSTREAM_SERVICE_TOKEN_FILE",
            "auth_issuer": "EVENTSTREAM_AUTH_ISSUER", "auth_audience": "EVENTSTREAM_AUTH_AUDIENCE",
            "insecure": "EVENTSTREAM_INSECURE"}
"""The environment twins of the auth options (the same names ``kit.options`` gives the flags)."""


def from_env(environ: Mapping[str, str]) -> AuthSettings:
    """Settings from the ``EVENTSTREAM_AUTH_*`` twins of the options (for ``flask --app ordersvc run``)."""
    values: dict[str, object] = {key: environ.get(name, "") for key, name in AUTH_ENV.items()}
    values["insecure"] = str(values["insecure"]).lower() in ("1", "true", "yes", "on")
    return from_values(values)


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise ValueError(f"cannot read the {what} file {path}: {exc.strerror}") from None
