"""``eventstream token``: mint a bearer token from the configured secret (or a private key).

For local use and tests: ``eventstream token --sub cust-1`` prints a token for customer ``cust-1``
signed with ``EVENTSTREAM_AUTH_SECRET`` (or ``--auth-secret-file``); ``--scope orders:admin`` makes
an operator's token, ``--scope service`` one for the system's own processes. With
``--private-key FILE`` (RSA or EC PEM) it signs RS256 / ES256 instead, for services configured
with the matching ``--auth-public-key``. Only the token goes to stdout, so it can be captured:
``TOKEN=$(eventstream token --sub cust-1)``.
"""

from __future__ import annotations

import re
from pathlib import Path

import click

from kit.options import option

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """Seconds in ``30``, ``90s``, ``15m``, ``1h`` or ``7d``; ``ValueError`` otherwise."""
    match = _DURATION.match(text)
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"{text!r} is not a positive duration such as 90s, 15m, 1h or 7d")
    return float(match.group(1)) * _UNITS[match.group(2)]


def _signing_key(secret: str, secret_file: str, private_key: str) -> tuple[object, str]:
    """The key and algorithm to sign with, from exactly one of the three sources."""
    from kit.auth.settings import MIN_SECRET_BYTES

    given = [name for name, value in (("--auth-secret", secret), ("--auth-secret-file", secret_file),
                                      ("--private-key", private_key)) if value]
    if len(given) != 1:
        raise click.UsageError("give one of --auth-secret (EVENTSTREAM_AUTH_SECRET), "
                               "--auth-secret-file or --private-key"
                               + (f" (got {', '.join(given)})" if given else ""))
    path = Path(private_key or secret_file)
    if not secret and not path.is_file():
        raise click.UsageError(f"no such file: {path}")
    if private_key:
        from cryptography.hazmat.primitives.asymmetric import ec, rsa
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        key = load_pem_private_key(path.read_bytes(), password=None)
        if isinstance(key, rsa.RSAPrivateKey):
            return key, "RS256"
        if isinstance(key, ec.EllipticCurvePrivateKey):
            return key, "ES256"
        raise click.UsageError("--private-key must be an RSA or EC private key (PEM)")
    value = secret or path.read_text().strip()
    if len(value.encode()) < MIN_SECRET_BYTES:
        raise click.UsageError(f"the auth secret must be at least {MIN_SECRET_BYTES} bytes long")
    return value, "HS256"


@click.command("token")
@click.option("--sub", "subject", required=True, help="Subject: the customer id (or a service name).")
@click.option("--scope", "scopes", multiple=True,
              help="A scope to grant (repeat): orders:admin for operators, service for processes.")
@click.option("--ttl", default="1h", show_default=True, help="Lifetime: 90s, 15m, 1h, 7d.")
@option("--auth-secret", default="", show_default=False, help="HS256 secret to sign with.")
@option("--auth-secret-file", default="", type=click.Path(dir_okay=False),
        help="File holding the HS256 secret.")
@click.option("--private-key", default="", type=click.Path(dir_okay=False),
              help="RSA or EC private key (PEM) to sign RS256 / ES256 with instead.")
@option("--auth-issuer", default="", help="'iss' claim; empty: none.")
@option("--auth-audience", default="", help="'aud' claim; empty: none.")
def token(subject: str, scopes: tuple[str, ...], ttl: str, auth_secret: str, auth_secret_file: str,
          private_key: str, auth_issuer: str, auth_audience: str) -> None:
    """Print a signed bearer token for --sub with the given scopes, valid for --ttl."""
    from kit.auth.tokens import mint_token

    try:
        lifetime = parse_duration(ttl)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--ttl") from None
    key, algorithm = _signing_key(auth_secret, auth_secret_file, private_key)
    granted = [s for scope in scopes for s in scope.split()]
    click.echo(mint_token(key, subject=subject, scopes=granted, ttl=lifetime, algorithm=algorithm,
                          issuer=auth_issuer or None, audience=auth_audience or None))
