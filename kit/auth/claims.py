"""Reading the verified claims of the request being handled (``kit.context.current().claims``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kit import context


def current_claims() -> Mapping[str, Any] | None:
    """The verified claims of the current request, or None when it carried no verified token."""
    return context.current().claims


def subject() -> str | None:
    """The ``sub`` claim of the current request's token, or None."""
    claims = context.current().claims
    sub = None if claims is None else claims.get("sub")
    return sub if isinstance(sub, str) else None


def scopes_of(claims: Mapping[str, Any] | None) -> frozenset[str]:
    """The scopes a token grants: its ``scope`` claim split on spaces (a list is accepted too)."""
    if claims is None:
        return frozenset()
    raw = claims.get("scope", "")
    if isinstance(raw, str):
        return frozenset(raw.split())
    if isinstance(raw, list):
        return frozenset(s for s in raw if isinstance(s, str))
    return frozenset()


def has_scopes(*required: str, claims: Mapping[str, Any] | None = None) -> bool:
    """Whether the current request's token (or ``claims``) grants every scope in ``required``."""
    granted = scopes_of(claims if claims is not None else context.current().claims)
    return granted.issuperset(required)


def missing_scopes(required: Iterable[str], claims: Mapping[str, Any] | None) -> list[str]:
    """The scopes of ``required`` that ``claims`` do not grant, in order."""
    granted = scopes_of(claims)
    return [s for s in required if s not in granted]
