"""Command-line options with environment twins.

Every flag ``--some-flag`` can also be set by ``EVENTSTREAM_SOME_FLAG``; the flag wins over its twin.
"""

from __future__ import annotations

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
