"""TLS and mutual TLS between real gRPC servers and channels (kit.grpc.tls), certificates from kit.certs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest

from eventstream.certs import write_certs
from kit import errors
from kit.auth import BearerAuth, TokenVerifier, hs256_key, mint_token
from kit.certs import issue
from kit.grpc import ClientTLS, ServerTLS, bind, dial, json_client, json_method, new_server, serve, service
from kit.grpc.auth import RequireToken, with_token
from kit.grpc.net import shutdown
from kit.grpc.tls import ENV_CA, ENV_CERT, ENV_KEY, ENV_NAMES, ENV_SERVER_NAME
from kit.testing.auth import SECRET
from kit.testing.net import free_port
from kit.testing.tls import TestPKI, make_pki

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Ping:
    n: int = 1


@dataclass(frozen=True)
class Pong:
    n: int


def ping(request: Ping) -> Pong:
    return Pong(request.n)


def call(channel: grpc.Channel) -> Pong:
    """One unary call over ``channel``, then close it."""
    with channel:
        return json_client(channel, "/test.Ping/Ping", Ping, Pong, timeout=10)(Ping(7))


@contextmanager
def tls_server(tls: ServerTLS, *, interceptors: Any = ()) -> Iterator[str]:
    """A real server of test.Ping on a loopback port the system picks, serving ``tls``."""
    server = new_server(service("test.Ping", {"Ping": json_method(ping, Ping)}),
                        interceptors=interceptors)
    port = bind(server, "127.0.0.1", 0, tls=tls)
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(None).wait()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPKI:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def tls_target(pki: TestPKI) -> Iterator[str]:
    with tls_server(ServerTLS(cert=pki.server.cert, key=pki.server.key)) as target:
        yield target


@pytest.fixture(scope="module")
def mtls_target(pki: TestPKI) -> Iterator[str]:
    tls = ServerTLS(cert=pki.server.cert, key=pki.server.key, client_ca=pki.ca.cert)
    with tls_server(tls) as target:
        yield target


def test_a_client_trusting_the_ca_calls_a_tls_server(pki: TestPKI, tls_target: str) -> None:
    assert call(dial(tls_target, tls=ClientTLS(ca=pki.ca.cert))) == Pong(7)


def test_a_client_trusting_another_ca_is_unavailable(pki: TestPKI, tls_target: str) -> None:
    with pytest.raises(errors.Unavailable):
        call(dial(tls_target, tls=ClientTLS(ca=pki.other_ca.cert)))


def test_a_plaintext_client_cannot_call_a_tls_server(tls_target: str) -> None:
    with pytest.raises(errors.Unavailable):
        call(dial(tls_target))


def test_serve_with_tls_serves_tls_only(pki: TestPKI) -> None:
    port = free_port()
    server = serve(service("test.Ping", {"Ping": json_method(ping, Ping)}), port=port,
                   tls=ServerTLS(cert=pki.server.cert, key=pki.server.key))
    try:
        assert call(dial(f"127.0.0.1:{port}", tls=ClientTLS(ca=pki.ca.cert))) == Pong(7)
        with pytest.raises(errors.Unavailable):
            call(dial(f"127.0.0.1:{port}"))
    finally:
        shutdown(server, None)


def test_a_server_name_override_checks_the_name_the_certificate_holds(pki: TestPKI,
                                                                      tmp_path: Path) -> None:
    named = issue(tmp_path, "eventstoresvc", pki.ca, hosts=["eventstoresvc"])
    with tls_server(ServerTLS(cert=named.cert, key=named.key)) as target:
        with pytest.raises(errors.Unavailable):  # 127.0.0.1 is not in the certificate
            call(dial(target, tls=ClientTLS(ca=pki.ca.cert)))
        assert call(dial(target, tls=ClientTLS(ca=pki.ca.cert, server_name="eventstoresvc"))) == Pong(7)


def test_several_replicas_are_dialled_over_tls(pki: TestPKI) -> None:
    tls = ServerTLS(cert=pki.server.cert, key=pki.server.key)
    with tls_server(tls) as first, tls_server(tls) as second:
        assert call(dial(f"{first},{second}", tls=ClientTLS(ca=pki.ca.cert))) == Pong(7)


def test_mtls_accepts_a_client_certificate_signed_by_the_ca(pki: TestPKI, mtls_target: str) -> None:
    tls = ClientTLS(ca=pki.ca.cert, cert=pki.client.cert, key=pki.client.key)
    assert call(dial(mtls_target, tls=tls)) == Pong(7)


def test_mtls_refuses_a_client_without_a_certificate(pki: TestPKI, mtls_target: str) -> None:
    with pytest.raises(errors.Unavailable):
        call(dial(mtls_target, tls=ClientTLS(ca=pki.ca.cert)))


def test_mtls_refuses_a_certificate_from_another_ca(pki: TestPKI, mtls_target: str) -> None:
    stranger = ClientTLS(ca=pki.ca.cert, cert=pki.stranger.cert, key=pki.stranger.key)
    with pytest.raises(errors.Unavailable):
        call(dial(mtls_target, tls=stranger))


def test_a_bearer_token_is_checked_over_mutual_tls(pki: TestPKI) -> None:
    guard = RequireToken(BearerAuth(TokenVerifier([hs256_key(SECRET)])), ["service"])
    server_tls = ServerTLS(cert=pki.server.cert, key=pki.server.key, client_ca=pki.ca.cert)
    client_tls = ClientTLS(ca=pki.ca.cert, cert=pki.client.cert, key=pki.client.key)
    with tls_server(server_tls, interceptors=[guard]) as target:
        token = mint_token(SECRET, subject="svc", scopes=["service"])
        assert call(with_token(dial(target, tls=client_tls), token)) == Pong(7)
        with pytest.raises(errors.Unauthenticated):
            call(dial(target, tls=client_tls))


def test_one_environment_configures_both_sides_of_a_process(pki: TestPKI) -> None:
    env = {ENV_CERT: str(pki.server.cert), ENV_KEY: str(pki.server.key), ENV_CA: str(pki.ca.cert),
           ENV_SERVER_NAME: "localhost"}
    server_tls = ServerTLS.from_env(env)
    client_tls = ClientTLS.from_env(env)
    assert server_tls == ServerTLS(cert=pki.server.cert, key=pki.server.key, client_ca=pki.ca.cert)
    assert client_tls == ClientTLS(ca=pki.ca.cert, cert=pki.server.cert, key=pki.server.key,
                                   server_name="localhost")
    with tls_server(server_tls) as target:  # its own certificate, presented as a client
        assert call(dial(target, tls=client_tls)) == Pong(7)
        without_cert = ClientTLS.from_env({ENV_CA: str(pki.ca.cert)})
        with pytest.raises(errors.Unavailable):  # the CA made the server require client certs
            call(dial(target, tls=without_cert))


def test_from_env_reads_the_process_environment(pki: TestPKI, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    assert ServerTLS.from_env() is None and ClientTLS.from_env() is None
    monkeypatch.setenv(ENV_CERT, str(pki.client.cert))
    monkeypatch.setenv(ENV_KEY, str(pki.client.key))
    assert ServerTLS.from_env() == ServerTLS(cert=pki.client.cert, key=pki.client.key)
    assert ClientTLS.from_env() is None  # no CA: a plaintext client
    monkeypatch.setenv(ENV_CA, str(pki.ca.cert))
    assert ClientTLS.from_env() == ClientTLS(ca=pki.ca.cert, cert=pki.client.cert, key=pki.client.key)


def test_certificates_from_eventstream_certs_carry_mutual_tls_between_services(tmp_path: Path) -> None:
    write_certs(tmp_path, ["eventstoresvc", "ordersvc"])

    def env(service: str, **extra: str) -> dict[str, str]:
        return {ENV_CA: str(tmp_path / "ca.crt"), ENV_CERT: str(tmp_path / f"{service}.crt"),
                ENV_KEY: str(tmp_path / f"{service}.key"), **extra}

    server_tls = ServerTLS.from_env(env("eventstoresvc"))
    assert server_tls is not None and server_tls.client_ca is not None
    with tls_server(server_tls) as target:
        assert call(dial(target, tls=ClientTLS.from_env(env("ordersvc")))) == Pong(7)
        by_name = ClientTLS.from_env(env("ordersvc", **{ENV_SERVER_NAME: "eventstoresvc"}))
        assert call(dial(target, tls=by_name)) == Pong(7)
        with pytest.raises(errors.Unavailable):  # ordersvc's certificate does not name eventstoresvc
            call(dial(target, tls=ClientTLS.from_env(env("ordersvc", **{ENV_SERVER_NAME: "ordersvc"}))))


def test_env_names_list_every_variable_read() -> None:
    assert ENV_NAMES == ("EVENTSTREAM_TLS_CERT", "EVENTSTREAM_TLS_KEY", "EVENTSTREAM_TLS_CA",
                         "EVENTSTREAM_TLS_SERVER_NAME")


def test_a_missing_file_is_a_one_line_error_naming_it(pki: TestPKI, tmp_path: Path) -> None:
    missing = tmp_path / "gone.crt"
    with pytest.raises(ValueError, match=r"gone\.crt") as server_error:
        ServerTLS.from_env({ENV_CERT: str(missing), ENV_KEY: str(pki.server.key)})
    assert "\n" not in str(server_error.value)
    with pytest.raises(ValueError, match=r"gone\.crt"):
        ClientTLS.from_env({ENV_CA: str(missing)})
    with pytest.raises(ValueError, match=r"gone\.crt"):
        dial("127.0.0.1:1", tls=ClientTLS(ca=missing))
    with pytest.raises(ValueError, match=r"server\.crt holds no unencrypted PEM private key"):
        ServerTLS(cert=pki.server.cert, key=pki.server.cert).credentials()
    with pytest.raises(ValueError, match=r"ca\.key holds no PEM certificate"):
        ClientTLS(ca=pki.ca.key).credentials()


def test_a_key_that_is_not_the_certificates_is_named(pki: TestPKI) -> None:
    with pytest.raises(ValueError, match=r"client\.key is not the key of certificate .*server\.crt"):
        ServerTLS(cert=pki.server.cert, key=pki.client.key).credentials()
    with pytest.raises(ValueError, match=r"server\.key is not the key of certificate .*client\.crt"):
        ClientTLS(ca=pki.ca.cert, cert=pki.client.cert, key=pki.server.key).credentials()


def test_half_a_key_pair_is_refused(pki: TestPKI) -> None:
    with pytest.raises(ValueError, match=ENV_KEY):
        ServerTLS.from_env({ENV_CERT: str(pki.server.cert)})
    with pytest.raises(ValueError, match=ENV_CERT):
        ClientTLS.from_env({ENV_CA: str(pki.ca.cert), ENV_KEY: str(pki.server.key)})
    with pytest.raises(ValueError, match="key"):
        ClientTLS(ca=pki.ca.cert, cert=pki.client.cert)


def test_dial_takes_tls_or_ready_made_credentials_not_both(pki: TestPKI) -> None:
    with pytest.raises(ValueError, match="not both"):
        dial("127.0.0.1:1", tls=ClientTLS(ca=pki.ca.cert), credentials=grpc.ssl_channel_credentials())
