"""kit.certs: a private CA and the leaf certificates it signs, checked with cryptography's verifier."""

from __future__ import annotations

import contextlib
import ipaddress
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

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
