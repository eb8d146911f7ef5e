"""AuthSettings: what turns auth on, the service token each process sends, and the exposure rule."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from eventstream.cli import main
from kit.auth import TokenVerifier, mint_token
from kit.auth.claims import scopes_of
from kit.auth.settings import AuthSettings, from_env, from_values, is_loopback
from kit.errors import Unauthenticated
from kit.testing.auth import OTHER_SECRET, SECRET, ec_pair, pem_of, private_pem_of


def test_off_by_default_and_on_with_a_secret_or_a_public_key(tmp_path: Path) -> None:
    assert not AuthSettings().enabled
    assert AuthSettings().authenticator() is None and AuthSettings().service_token("x") is None
    assert AuthSettings(secret=SECRET).enabled
    key = tmp_path / "key.pem"
    key.write_bytes(ec_pair()[1])
    assert AuthSettings(public_key_file=key).enabled


def test_a_short_secret_or_both_keys_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        AuthSettings(secret="short")
    with pytest.raises(ValueError, match="not both"):
        AuthSettings(secret=SECRET, public_key_file=tmp_path / "k.pem")


def test_the_secret_never_shows_in_repr() -> None:
    assert SECRET not in repr(AuthSettings(secret=SECRET))
    assert "secret=set" in repr(AuthSettings(secret=SECRET))


def test_a_minted_service_token_verifies_with_the_same_settings_and_carries_the_service_scope() -> None:
    auth = AuthSettings(secret=SECRET, issuer="eventstream", audience="orders")
    token = auth.service_token("payment-worker")
    assert token is not None and not isinstance(token, str)
    authenticator = auth.authenticator()
    assert authenticator is not None
    claims = authenticator({"authorization": f"Bearer {token()}"})
    assert claims["sub"] == "payment-worker" and scopes_of(claims) == {"service"}
    assert claims["iss"] == "eventstream" and claims["aud"] == "orders"
    other = AuthSettings(secret=OTHER_SECRET, issuer="eventstream", audience="orders").authenticator()
    assert other is not None
    with pytest.raises(Unauthenticated):
        other({"authorization": f"Bearer {token()}"})


def test_with_only_a_public_key_the_service_token_comes_from_a_file(tmp_path: Path) -> None:
    private, public = ec_pair()
    key = tmp_path / "key.pem"
    key.write_bytes(public)
    with pytest.raises(ValueError, match="--service-token-file"):
        AuthSettings(public_key_file=key).service_token("ordersvc")
    token_file = tmp_path / "service.jwt"
    minted = mint_token(private, subject="ordersvc", scopes=["service"], algorithm="ES256")
    token_file.write_text(minted + "\n")
    source = AuthSettings(public_key_file=key, service_token_file=token_file).service_token("ordersvc")
    assert source is not None and not isinstance(source, str)
    verifier = TokenVerifier(AuthSettings(public_key_file=key).keys())
    assert verifier.verify(source())["sub"] == "ordersvc"


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.3.2.1", True), ("::1", True), ("[::1]", True), ("localhost", True),
    ("0.0.0.0", False), ("::", False), ("10.0.0.5", False), ("orders.example", False)])
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_listening_beyond_loopback_needs_auth_or_insecure() -> None:
    AuthSettings().check_exposure(["127.0.0.1"])
    with pytest.raises(ValueError, match=r"refusing to listen on 0\.0\.0\.0 without authentication"):
        AuthSettings().check_exposure(["0.0.0.0"])
    AuthSettings(insecure=True).check_exposure(["0.0.0.0"])
    AuthSettings(secret=SECRET).check_exposure(["0.0.0.0"])


def test_from_values_reads_the_secret_file_and_from_env_the_twins(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n")
    assert from_values({"auth_secret_file": str(secret_file)}).secret == SECRET
    with pytest.raises(ValueError, match="not both"):
        from_values({"auth_secret": SECRET, "auth_secret_file": str(secret_file)})
    with pytest.raises(ValueError, match="cannot read the auth secret file"):
        from_values({"auth_secret_file": str(tmp_path / "missing")})
    env = {"EVENTSTREAM_AUTH_SECRET": SECRET, "EVENTSTREAM_AUTH_AUDIENCE": "orders",
           "EVENTSTREAM_INSECURE": "true"}
    auth = from_env(env)
    assert auth.secret == SECRET and auth.audience == "orders" and auth.insecure
    assert not from_env({}).enabled


@pytest.mark.parametrize("command", [
    ["ordersvc", "--host", "0.0.0.0"], ["eventstoresvc", "--host", "0.0.0.0"],
    ["ordersvc", "--host", "127.0.0.1", "--grpc-host", "0.0.0.0"]])
def test_a_service_refuses_to_start_open_beyond_loopback(command: list[str]) -> None:
    result = CliRunner().invoke(main, command, env={"EVENTSTREAM_AUTH_SECRET": ""})
    assert result.exit_code == 2
    assert "refusing to listen on 0.0.0.0 without authentication" in result.output
    assert "--insecure" in result.output


def test_a_short_secret_is_a_usage_error_naming_the_rule() -> None:
    result = CliRunner().invoke(main, ["worker", "payment"], env={"EVENTSTREAM_AUTH_SECRET": "short"})
    assert result.exit_code == 2 and "at least 32 bytes" in result.output


def test_the_token_command_mints_what_the_services_verify(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["token", "--sub", "cust-1", "--scope", "orders:admin", "--ttl", "15m"],
                                env={"EVENTSTREAM_AUTH_SECRET": SECRET, "EVENTSTREAM_AUTH_SECRET_FILE": ""})
    assert result.exit_code == 0, result.output
    claims = TokenVerifier(AuthSettings(secret=SECRET).keys()).verify(result.output.strip())
    assert claims["sub"] == "cust-1" and scopes_of(claims) == {"orders:admin"}
    assert claims["exp"] - claims["iat"] == 900

    private, _ = ec_pair()
    key_file = tmp_path / "signing.pem"
    key_file.write_bytes(private_pem_of(private))
    public_file = tmp_path / "public.pem"
    public_file.write_bytes(pem_of(private.public_key()))
    signed = CliRunner().invoke(main, ["token", "--sub", "svc", "--scope", "service", "--private-key",
                                       str(key_file)], env={"EVENTSTREAM_AUTH_SECRET": ""})
    assert signed.exit_code == 0, signed.output
    verified = TokenVerifier(AuthSettings(public_key_file=public_file).keys()).verify(signed.output.strip())
    assert verified["sub"] == "svc"


@pytest.mark.parametrize("ttl", ["0", "-1h", "soon", "1w"])
def test_the_token_command_refuses_a_bad_ttl(ttl: str) -> None:
    result = CliRunner().invoke(main, ["token", "--sub", "c", "--ttl", ttl],
                                env={"EVENTSTREAM_AUTH_SECRET": SECRET})
    assert result.exit_code == 2 and "--ttl" in result.output


def test_the_token_command_needs_exactly_one_key() -> None:
    result = CliRunner().invoke(main, ["token", "--sub", "c"], env={"EVENTSTREAM_AUTH_SECRET": ""})
    assert result.exit_code == 2 and "give one of --auth-secret" in result.output
