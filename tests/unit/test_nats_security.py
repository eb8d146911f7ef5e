"""kit.nats.security: what reaches nats.connect, from the environment, and what never shows."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from kit.nats.security import ENV_NAMES, NatsSecurity
from kit.testing.tls import make_pki


def test_nothing_configured_is_an_open_connection() -> None:
    assert NatsSecurity.from_env({}).connect_options() == {}


def test_user_password_token_and_files_become_nats_py_options(tmp_path: Path) -> None:
    assert NatsSecurity(user="relay", password="pw").connect_options() == {
        "user": "relay", "password": "pw"}
    assert NatsSecurity(token="t").connect_options() == {"token": "t"}
    creds = tmp_path / "relay.creds"
    creds.write_text("-----BEGIN NATS USER JWT-----")
    assert NatsSecurity(creds_file=creds).connect_options() == {"user_credentials": str(creds)}
    assert NatsSecurity(nkey_seed_file=creds).connect_options() == {"nkeys_seed": str(creds)}


def test_tls_gives_a_verifying_context_with_the_client_certificate(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    options = NatsSecurity(tls_ca=pki.ca.cert, tls_cert=pki.client.cert,
                           tls_key=pki.client.key).connect_options()
    context = options["tls"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_from_env_reads_every_variable_and_secret_files(tmp_path: Path) -> None:
    password = tmp_path / "password"
    password.write_text("from-a-file\n")
    security = NatsSecurity.from_env({"EVENTSTREAM_NATS_USER": "payment",
                                      "EVENTSTREAM_NATS_PASSWORD_FILE": str(password)})
    assert security.connect_options() == {"user": "payment", "password": "from-a-file"}
    assert all(name.startswith("EVENTSTREAM_NATS_") for name in ENV_NAMES) and len(ENV_NAMES) == 10


@pytest.mark.parametrize(("settings", "message"), [
    ({"user": "u", "password": "p", "token": "t"}, "one way of authenticating"),
    ({"user": "u"}, "go together"),
    ({"tls_cert": Path("/x.crt")}, "go together"),
    ({"tls_ca": Path("/no/such/ca.crt")}, "not found"),
])
def test_settings_that_cannot_work_are_refused(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        NatsSecurity(**settings)  # type: ignore[arg-type]


def test_both_a_secret_and_its_file_are_refused(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("t")
    with pytest.raises(ValueError, match="not both"):
        NatsSecurity.from_env({"EVENTSTREAM_NATS_TOKEN": "t", "EVENTSTREAM_NATS_TOKEN_FILE": str(token)})


def test_repr_never_shows_a_password_or_token() -> None:
    shown = repr(NatsSecurity(user="relay", password="hunter2-password"))
    assert "hunter2" not in shown and "relay" in shown and "password=set" in shown
    assert "tok-123" not in repr(NatsSecurity(token="tok-123"))
