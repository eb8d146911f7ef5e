"""Token verification: what a verifier accepts and every way a token is refused."""

from __future__ import annotations

import json
import time
from pathlib import Path

import jwt
import pytest

from kit.auth import TokenVerifier, hs256_key, jwks_keys, load_public_key, mint_token, public_key
from kit.errors import Unauthenticated
from kit.testing.auth import OTHER_SECRET, SECRET, ec_pair, forged, rsa_pair

RSA_KEY, RSA_PEM = rsa_pair()
EC_KEY, EC_PEM = ec_pair()


def hs_verifier(**kwargs: object) -> TokenVerifier:
    return TokenVerifier([hs256_key(SECRET)], **kwargs)  # type: ignore[arg-type]


def refused(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(Unauthenticated) as info:
        verifier.verify(token)
    assert not token or token not in info.value.message
    return info.value.message


def test_a_good_hs256_token_gives_its_claims() -> None:
    token = mint_token(SECRET, subject="cust-1", scopes=["orders:admin", "service"])
    claims = hs_verifier().verify(token)
    assert claims["sub"] == "cust-1"
    assert claims["scope"] == "orders:admin service"


def test_rs256_and_es256_tokens_verify_with_their_public_keys() -> None:
    rs = mint_token(RSA_KEY, subject="a", algorithm="RS256")
    es = mint_token(EC_KEY, subject="b", algorithm="ES256")
    assert TokenVerifier([public_key(RSA_PEM)]).verify(rs)["sub"] == "a"
    assert TokenVerifier([public_key(EC_PEM)]).verify(es)["sub"] == "b"


def test_an_expired_token_is_refused_beyond_the_leeway() -> None:
    an_hour_ago = time.time() - 3600
    token = mint_token(SECRET, subject="cust-1", ttl=60, now=an_hour_ago)
    assert refused(hs_verifier(), token) == "token expired"


def test_a_token_just_past_expiry_passes_within_the_leeway() -> None:
    token = mint_token(SECRET, subject="cust-1", ttl=60, now=time.time() - 65)
    assert hs_verifier(leeway=30).verify(token)["sub"] == "cust-1"


def test_a_token_not_valid_yet_is_refused() -> None:
    token = mint_token(SECRET, subject="cust-1", now=time.time() + 600)
    assert refused(hs_verifier(), token) == "token not valid yet"


def test_a_token_signed_with_another_secret_is_refused() -> None:
    token = mint_token(OTHER_SECRET, subject="cust-1")
    assert refused(hs_verifier(), token) == "token signature invalid"


def test_a_token_signed_with_another_rsa_key_is_refused() -> None:
    other, _ = rsa_pair()
    token = mint_token(other, subject="cust-1", algorithm="RS256")
    assert refused(TokenVerifier([public_key(RSA_PEM)]), token) == "token signature invalid"


def test_alg_none_is_refused() -> None:
    token = forged({"alg": "none", "typ": "JWT"}, {"sub": "cust-1", "exp": time.time() + 60}, None)
    assert refused(hs_verifier(), token) == "token algorithm not accepted"
    assert refused(TokenVerifier([public_key(RSA_PEM)]), token) == "token algorithm not accepted"


def test_an_hs256_token_signed_with_the_rsa_public_key_is_refused() -> None:
    # The classic confusion attack: the verifier's public key, used as an HMAC secret.
    token = forged({"alg": "HS256", "typ": "JWT"}, {"sub": "admin", "exp": time.time() + 60}, RSA_PEM)
    assert refused(TokenVerifier([public_key(RSA_PEM)]), token) == "token algorithm not accepted"


def test_an_rs256_token_is_refused_by_an_hs256_verifier() -> None:
    token = mint_token(RSA_KEY, subject="cust-1", algorithm="RS256")
    assert refused(hs_verifier(), token) == "token algorithm not accepted"


def test_audience_and_issuer_are_checked_when_configured() -> None:
    verifier = hs_verifier(audience="eventstream", issuer="https://issuer.example")
    good = mint_token(SECRET, subject="c", audience="eventstream", issuer="https://issuer.example")
    assert verifier.verify(good)["aud"] == "eventstream"
    other_aud = mint_token(SECRET, subject="c", audience="billing", issuer="https://issuer.example")
    assert refused(verifier, other_aud) == "token audience not accepted"
    other_iss = mint_token(SECRET, subject="c", audience="eventstream", issuer="https://evil.example")
    assert refused(verifier, other_iss) == "token issuer not accepted"
    no_aud = mint_token(SECRET, subject="c", issuer="https://issuer.example")
    assert refused(verifier, no_aud) == "token lacks a required claim"


def test_a_token_without_exp_is_refused() -> None:
    token = jwt.encode({"sub": "cust-1"}, SECRET, algorithm="HS256")
    assert refused(hs_verifier(), token) == "token lacks a required claim"


def test_garbage_is_a_malformed_token() -> None:
    assert refused(hs_verifier(), "not.a.token") == "malformed token"
    assert refused(hs_verifier(), "") == "malformed token"


def test_a_jwks_file_picks_the_key_by_kid(tmp_path: Path) -> None:
    rs_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(RSA_KEY.public_key()))
    ec_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(EC_KEY.public_key()))
    document = {"keys": [{**rs_jwk, "kid": "rsa-1", "use": "sig"}, {**ec_jwk, "kid": "ec-1"}]}
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(document))
    verifier = TokenVerifier(load_public_key(path))
    assert verifier.verify(mint_token(RSA_KEY, subject="r", algorithm="RS256", kid="rsa-1"))["sub"] == "r"
    assert verifier.verify(mint_token(EC_KEY, subject="e", algorithm="ES256", kid="ec-1"))["sub"] == "e"
    # The EC key's kid on an RSA-signed token: the EC key pins ES256, so RS256 is refused.
    crossed = mint_token(RSA_KEY, subject="x", algorithm="RS256", kid="ec-1")
    assert refused(verifier, crossed) == "token algorithm not accepted"
    unknown = mint_token(RSA_KEY, subject="x", algorithm="RS256", kid="nope")
    assert refused(verifier, unknown) == "token key not known"
    no_kid = mint_token(RSA_KEY, subject="x", algorithm="RS256")
    assert refused(verifier, no_kid) == "token key not known"


def test_a_pem_file_loads_as_one_key(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    path.write_bytes(EC_PEM)
    [key] = load_public_key(path)
    assert key.algorithm == "ES256"


def test_symmetric_jwks_keys_short_secrets_and_small_rsa_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="RSA or EC"):
        jwks_keys({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]})
    with pytest.raises(ValueError, match="32 bytes"):
        hs256_key("short")
    with pytest.raises(ValueError, match="at least one key"):
        TokenVerifier([])


def test_a_key_never_prints_its_secret() -> None:
    assert SECRET not in repr(hs256_key(SECRET))


def test_a_remembered_token_is_still_refused_once_it_expires() -> None:
    now = [time.time()]
    verifier = TokenVerifier([hs256_key(SECRET)], leeway=30, clock=lambda: now[0])
    token = mint_token(SECRET, subject="cust-1", ttl=600)
    assert verifier.verify(token)["sub"] == "cust-1"
    assert verifier.verify(token)["sub"] == "cust-1"
    now[0] += 600 + 31
    assert refused(verifier, token) == "token expired"


def test_the_cache_is_bounded_and_refusals_are_never_remembered() -> None:
    verifier = TokenVerifier([hs256_key(SECRET)], cache_size=2)
    tokens = [mint_token(SECRET, subject=f"c{i}") for i in range(3)]
    for token in tokens:
        verifier.verify(token)
    assert len(verifier._cache) == 2 and tokens[0] not in verifier._cache
    bad = mint_token(OTHER_SECRET, subject="x")
    refused(verifier, bad)
    refused(verifier, bad)
    assert bad not in verifier._cache
