"""Scopes, the authorization middleware, bearer parsing and client-side tokens."""

from __future__ import annotations

import time

import pytest

from kit import context
from kit.auth import (
    RefreshingToken,
    authorization_value,
    bearer_token,
    has_scopes,
    mint_token,
    outgoing_metadata,
    require_scopes,
    scopes_of,
    subject,
)
from kit.errors import PermissionDenied, Unauthenticated
from kit.testing.auth import SECRET


def echo(request: str) -> str:
    return request


def test_scope_is_space_separated() -> None:
    assert scopes_of({"scope": "orders:admin  service"}) == {"orders:admin", "service"}
    assert scopes_of({"scope": ["a", "b", 3]}) == {"a", "b"}
    assert scopes_of({}) == frozenset()
    assert scopes_of(None) == frozenset()


def test_require_scopes_passes_a_token_with_every_scope() -> None:
    guarded = require_scopes("orders:admin")(echo)
    with context.scope(claims={"sub": "op", "scope": "service orders:admin"}):
        assert guarded("x") == "x"
        assert has_scopes("orders:admin", "service")
        assert subject() == "op"


def test_require_scopes_denies_a_token_lacking_one() -> None:
    guarded = require_scopes("orders:admin", "service")(echo)
    with context.scope(claims={"sub": "cust-1", "scope": "service"}), \
            pytest.raises(PermissionDenied, match="orders:admin"):
        guarded("x")


def test_require_scopes_without_claims_is_unauthenticated() -> None:
    with pytest.raises(Unauthenticated):
        require_scopes()(echo)("x")


def test_claims_are_inherited_by_nested_scopes_and_restored_after() -> None:
    with context.scope(claims={"sub": "cust-1"}), context.scope(metadata={"x-request-id": "r1"}):
        assert subject() == "cust-1"
    assert context.current().claims is None


@pytest.mark.parametrize("value", [None, "", "Basic dXNlcjpwYXNz", "Bearer", "Bearer   "])
def test_a_missing_or_non_bearer_authorization_is_unauthenticated(value: str | None) -> None:
    with pytest.raises(Unauthenticated):
        bearer_token(value)


def test_the_bearer_scheme_is_case_insensitive() -> None:
    assert bearer_token("bearer abc.def.ghi") == "abc.def.ghi"


def test_outgoing_metadata_asks_a_provider_on_every_call() -> None:
    tokens = iter(["t1", "t2"])
    add = outgoing_metadata(lambda: next(tokens))
    first: dict[str, str] = {}
    second: dict[str, str] = {}
    add(first)
    add(second)
    assert first == {"authorization": "Bearer t1"}
    assert second == {"authorization": "Bearer t2"}
    assert authorization_value("static") == "Bearer static"


def test_a_refreshing_token_mints_again_shortly_before_expiry() -> None:
    now = [time.time()]
    minted: list[str] = []

    def fetch() -> str:
        token = mint_token(SECRET, subject="svc", ttl=600, now=now[0])
        minted.append(token)
        return token

    source = RefreshingToken(fetch, margin=60, clock=lambda: now[0])
    first = source()
    assert source() == first
    now[0] += 500
    assert source() == first
    now[0] += 45  # 55 s before expiry: inside the margin
    assert source() != first
    assert len(minted) == 2
