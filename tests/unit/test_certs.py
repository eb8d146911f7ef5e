"""kit.certs and ``eventstream certs``: a private CA and the leaf certificates it signs, checked with
cryptography's verifier."""

from __future__ import annotations

import contextlib
import ipaddress
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from eventstream.certs import DEFAULT_SERVICES
from eventstream.cli import main
from kit.certs import Issued, issue, make_ca
from kit.testing.tls import make_pki


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def verify_server(leaf: Issued, ca: Issued, host: str) -> None:
    """Raise VerificationError unless ``leaf`` chains to ``ca`` and names ``host``."""
    subject: x509.GeneralName = x509.DNSName(host)
    with contextlib.suppress(ValueError):
        subject = x509.IPAddress(ipaddress.ip_address(host))
    verifier = PolicyBuilder().store(Store([load(ca.cert)])).build_server_verifier(subject)
    verifier.verify(load(leaf.cert), [])


def sans(cert: x509.Certificate) -> list[str]:
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return [str(n.value) for n in names]


def test_make_ca_writes_a_self_signed_ca_that_may_sign_leaves_only(tmp_path: Path) -> None:
    ca = make_ca(tmp_path, "my-ca")
    assert (ca.cert, ca.key) == (tmp_path / "my-ca.crt", tmp_path / "my-ca.key")
    cert = load(ca.cert)
    assert cert.subject == cert.issuer
    assert cert.subject.rfc4514_string() == "CN=my-ca"
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca and constraints.path_length == 0
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    cert.verify_directly_issued_by(cert)


def test_issue_writes_a_leaf_for_both_tls_sides_that_verifies_against_the_ca(tmp_path: Path) -> None:
    ca = make_ca(tmp_path)
    leaf = issue(tmp_path, "ordersvc", ca, hosts=["ordersvc", "localhost", "127.0.0.1", "::1"])
    cert = load(leaf.cert)
    assert cert.subject.rfc4514_string() == "CN=ordersvc"
    assert sans(cert) == ["ordersvc", "localhost", "127.0.0.1", "::1"]
    usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(usages) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert cert.public_key().curve.name == "secp256r1"  # type: ignore[union-attr]
    for host in ("ordersvc", "localhost", "127.0.0.1", "::1"):
        verify_server(leaf, ca, host)
    with pytest.raises(VerificationError):
        verify_server(leaf, ca, "example.com")


def test_default_hosts_are_localhost_by_name_and_address(tmp_path: Path) -> None:
    ca = make_ca(tmp_path)
    leaf = issue(tmp_path, "svc", ca)
    assert sans(load(leaf.cert)) == ["localhost", "127.0.0.1"]
    ip = load(leaf.cert).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ip.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]


def test_keys_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    ca = make_ca(tmp_path)
    leaf = issue(tmp_path, "svc", ca)
    for key in (ca.key, leaf.key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        assert key.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")


def test_an_existing_key_is_kept_unless_overwrite_is_asked(tmp_path: Path) -> None:
    ca = make_ca(tmp_path)
    leaf = issue(tmp_path, "svc", ca)
    before = (ca.key.read_bytes(), leaf.key.read_bytes())
    with pytest.raises(FileExistsError, match=r"ca\.key"):
        make_ca(tmp_path)
    with pytest.raises(FileExistsError, match=r"svc\.key"):
        issue(tmp_path, "svc", ca)
    assert (ca.key.read_bytes(), leaf.key.read_bytes()) == before
    leaf.key.chmod(0o644)
    issue(tmp_path, "svc", ca, overwrite=True)
    assert leaf.key.read_bytes() != before[1]
    assert stat.S_IMODE(leaf.key.stat().st_mode) == 0o600


def test_a_missing_ca_file_is_named_in_the_error(tmp_path: Path) -> None:
    ca = Issued(cert=tmp_path / "nope.crt", key=tmp_path / "nope.key")
    with pytest.raises(ValueError, match=r"nope\.crt"):
        issue(tmp_path, "svc", ca)


def test_make_pki_gives_a_stranger_that_the_ca_does_not_vouch_for(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    for leaf in (pki.server, pki.client):
        verify_server(leaf, pki.ca, "localhost")
    verify_server(pki.stranger, pki.other_ca, "localhost")
    with pytest.raises(VerificationError):
        verify_server(pki.stranger, pki.ca, "localhost")


def certs_command(*args: str) -> Result:
    return CliRunner().invoke(main, ["certs", *args])


def test_the_certs_command_writes_a_ca_and_a_certificate_per_service(tmp_path: Path) -> None:
    out = tmp_path / "certs"
    result = certs_command("--out", str(out))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{name}.{ext}" for name in ("ca", *DEFAULT_SERVICES) for ext in ("crt", "key"))
    ca = Issued(out / "ca.crt", out / "ca.key")
    for service in DEFAULT_SERVICES:
        leaf = Issued(out / f"{service}.crt", out / f"{service}.key")
        assert stat.S_IMODE(leaf.key.stat().st_mode) == 0o600
        assert sans(load(leaf.cert)) == [service, "localhost", "127.0.0.1"]
        assert load(leaf.cert).subject.rfc4514_string() == f"CN={service}"
        verify_server(leaf, ca, service)
        assert f"{service}: {leaf.cert}" in result.output
    assert stat.S_IMODE(ca.key.stat().st_mode) == 0o600
    assert "(new CA)" in result.output


def test_named_services_and_extra_hosts(tmp_path: Path) -> None:
    result = certs_command("--out", str(tmp_path), "--service", "eventstoresvc-1",
                           "--service", "eventstoresvc-2", "--host", "10.0.0.7", "--host", "es.internal")
    assert result.exit_code == 0, result.output
    assert sorted(p.stem for p in tmp_path.glob("*.crt")) == ["ca", "eventstoresvc-1", "eventstoresvc-2"]
    leaf = Issued(tmp_path / "eventstoresvc-2.crt", tmp_path / "eventstoresvc-2.key")
    assert sans(load(leaf.cert)) == ["eventstoresvc-2", "localhost", "127.0.0.1", "10.0.0.7", "es.internal"]
    verify_server(leaf, Issued(tmp_path / "ca.crt", tmp_path / "ca.key"), "10.0.0.7")


def test_running_again_keeps_the_ca_unless_a_new_one_is_asked(tmp_path: Path) -> None:
    assert certs_command("--out", str(tmp_path), "--service", "svc").exit_code == 0
    ca = Issued(tmp_path / "ca.crt", tmp_path / "ca.key")
    first_ca, first_leaf = ca.cert.read_bytes(), (tmp_path / "svc.crt").read_bytes()
    again = certs_command("--out", str(tmp_path), "--service", "svc")
    assert again.exit_code == 0, again.output
    assert "(kept CA)" in again.output
    assert ca.cert.read_bytes() == first_ca
    assert (tmp_path / "svc.crt").read_bytes() != first_leaf
    verify_server(Issued(tmp_path / "svc.crt", tmp_path / "svc.key"), ca, "svc")
    renewed = certs_command("--out", str(tmp_path), "--service", "svc", "--new-ca")
    assert renewed.exit_code == 0, renewed.output
    assert ca.cert.read_bytes() != first_ca
    verify_server(Issued(tmp_path / "svc.crt", tmp_path / "svc.key"), ca, "svc")


def test_the_certs_command_refuses_half_a_ca_and_a_service_named_ca(tmp_path: Path) -> None:
    (tmp_path / "ca.key").write_text("orphan")
    result = certs_command("--out", str(tmp_path))
    assert result.exit_code != 0
    assert "ca.key exists without" in result.output
    assert (tmp_path / "ca.key").read_text() == "orphan"
    named_ca = certs_command("--out", str(tmp_path / "x"), "--service", "ca")
    assert named_ca.exit_code != 0 and "CA's file name" in named_ca.output
