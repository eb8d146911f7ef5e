"""Command-line options with environment twins.

Every flag ``--some-flag`` can also be set by ``EVENTSTREAM_SOME_FLAG``; the flag wins over its twin.
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

ENV_PREFIX = "EVENTSTREAM_"


def env_name(flag: str) -> str:
    """The environment twin of a long flag: ``--eventstore-addr`` -> ``EVENTSTREAM_EVENTSTORE_ADDR``."""
    return ENV_PREFIX + flag.lstrip("-").replace("-", "_").upper()


def option(flag: str, *decls: str, **kwargs: Any) -> Callable[[F], F]:
    """A ``click.option`` for ``flag`` whose environment twin is set and shown in ``--help``."""
    kwargs.setdefault("envvar", env_name(flag))
    kwargs.setdefault("show_envvar", True)
    kwargs.setdefault("show_default", True)
    return click.option(flag, *decls, **kwargs)


AUTH_FLAGS = ("auth_secret", "auth_secret_file", "auth_public_key", "service_token_file",
              "auth_issuer", "auth_audience", "insecure")


def auth_options(command: F) -> F:
    """Add the authentication options to ``command``, which receives them as one ``auth`` argument.

    ``--auth-secret`` (HS256; prefer its environment twin ``EVENTSTREAM_AUTH_SECRET``: a flag shows
    in the process list) or ``--auth-secret-file``, ``--auth-public-key FILE`` (RS256/ES256 PEM or
    JWKS), ``--service-token-file``, ``--auth-issuer``, ``--auth-audience`` and ``--insecure``
    become a ``kit.auth.settings.AuthSettings``; an unreadable file or a short secret is a usage
    error naming the option.
    """
    from kit.auth.settings import from_values

    @functools.wraps(command)
    def with_auth(*args: Any, **kwargs: Any) -> Any:
        values = {name: kwargs.pop(name) for name in AUTH_FLAGS}
        try:
            kwargs["auth"] = from_values(values)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
        return command(*args, **kwargs)

    decorators = [
        option("--auth-secret", default="", show_default=False,
               help="HS256 secret verifying tokens (and minting this process's service token)."),
        option("--auth-secret-file", default="", type=click.Path(dir_okay=False),
               help="File holding the HS256 secret."),
        option("--auth-public-key", default="", type=click.Path(dir_okay=False),
               help="RS256/ES256 public key (PEM) or JWKS file verifying tokens."),
        option("--service-token-file", default="", type=click.Path(dir_okay=False),
               help="Token (scope 'service') this process sends to the event store; "
                    "needed with only a public key."),
        option("--auth-issuer", default="", help="Required 'iss' of tokens; empty: not checked."),
        option("--auth-audience", default="", help="Required 'aud' of tokens; empty: not checked."),
        option("--insecure", is_flag=True, default=False,
               help="Allow listening beyond loopback with authentication off."),
    ]
    wrapped: Any = with_auth
    for decorator in reversed(decorators):
        wrapped = decorator(wrapped)
    return typing.cast(F, wrapped)


def tls_from_env() -> tuple[Any, Any]:
    """This process's gRPC TLS, server side and client side (``kit.grpc.tls``, from
    ``EVENTSTREAM_TLS_CERT`` / ``_KEY`` / ``_CA`` / ``_SERVER_NAME``; None each when unset); a
    missing or mismatched file is a usage error naming it."""
    from kit.grpc.tls import ClientTLS, ServerTLS

    try:
        return ServerTLS.from_env(), ClientTLS.from_env()
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def auth_checked(auth: Any, *hosts: str, caller: str | None = None) -> None:
    """Usage errors (one line) for what ``auth`` cannot do: listen on ``hosts`` (with auth off, only
    loopback unless insecure), or, for a process named ``caller`` that calls other services, find
    the token it would send."""
    try:
        auth.check_exposure(hosts)
        if caller is not None:
            auth.service_token(caller)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
