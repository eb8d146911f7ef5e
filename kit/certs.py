"""A private certificate authority and the certificates it signs, as PEM files on disk.

For local use, tests and deployments that have no CA of their own: ``make_ca`` writes a
self-signed CA, ``issue`` writes a leaf certificate signed by it. Every key is EC P-256 (fast to
make, accepted by gRPC, NATS and browsers alike); every leaf certificate is good for both TLS
sides (``serverAuth`` and ``clientAuth``), so one service presents the same certificate as a
server and as a client of another service (mutual TLS).

Files are ``<name>.crt`` and ``<name>.key`` in the given directory (``pkcs12`` also writes a
PKCS#12 key store for servers that want one). Keys are unencrypted PEM
written with mode 0600, and an existing key is never overwritten unless ``overwrite=True``:
replacing a deployed CA key silently would invalidate every certificate it signed.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_HOSTS: tuple[str, ...] = ("localhost", "127.0.0.1")
"""The hosts a leaf certificate names when none are given: this machine, by name and by address."""

# Certificates start a few minutes in the past so a peer whose clock lags slightly accepts them.
_BACKDATE = datetime.timedelta(minutes=5)


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key, as PEM files on disk."""

    cert: Path
    key: Path


def make_ca(directory: Path, name: str = "eventstream-ca", *, days: int = 3650,
            overwrite: bool = False) -> Issued:
    """Write a new self-signed CA ``<name>.crt`` / ``<name>.key`` in ``directory`` (made if missing).

    The CA may sign leaf certificates only (path length 0). Raises ``FileExistsError`` when
    ``<name>.key`` exists and ``overwrite`` is false.
    """
    issued = _paths(Path(directory), name, overwrite)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = _name(name)
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write(issued, key, cert)
    return issued


def issue(directory: Path, name: str, ca: Issued, *, hosts: Sequence[str] = DEFAULT_HOSTS,
          days: int = 825, overwrite: bool = False, common_name: str | None = None) -> Issued:
    """Write ``<name>.crt`` / ``<name>.key`` in ``directory``: a leaf certificate signed by ``ca``.

    The subject is ``CN=<common_name>``, by default ``CN=<name>`` (a database that maps a client
    certificate to a user by its CN wants ``client.eventstream.crt`` to say ``CN=eventstream``).
    ``hosts`` become the subject alternative names, each an IP address when it parses as one and
    a DNS name otherwise (duplicates dropped). The certificate serves both as a TLS server and as
    a TLS client certificate. Raises ``FileExistsError`` when
    ``<name>.key`` exists and ``overwrite`` is false, ``ValueError`` when ``ca`` cannot be read.
    """
    issued = _paths(Path(directory), name, overwrite)
    ca_cert, ca_key = _load(ca)
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name or name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(min(now + datetime.timedelta(days=days), ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                              ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
    )
    names = _alt_names(hosts)
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    _write(issued, key, builder.sign(ca_key, hashes.SHA256()))
    return issued


def pkcs12(issued: Issued, path: Path, password: str, *, alias: str | None = None) -> Path:
    """Write ``issued`` (certificate and key) as a PKCS#12 key store at ``path``, mode 0600.

    For servers that read a key store rather than PEM files (the JVM's, Zipkin's among them).
    ``password`` protects the store as PKCS#12 requires; the file's mode protects it like the
    PEM key it is made from. ``alias`` defaults to the certificate file's name without suffix.
    """
    from cryptography.hazmat.primitives.serialization import pkcs12 as p12

    cert = x509.load_pem_x509_certificate(issued.cert.read_bytes())
    key = serialization.load_pem_private_key(issued.key.read_bytes(), password=None)
    if not isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
        raise ValueError(f"{issued.key} is neither an EC nor an RSA private key")
    store = p12.serialize_key_and_certificates(
        (alias or issued.cert.stem).encode(), key, cert, None,
        serialization.BestAvailableEncryption(password.encode()))
    _write_private(path, store)
    return path


def _alt_names(hosts: Sequence[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys(h.strip() for h in hosts if h.strip()):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host.strip("[]"))))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
        encipher_only=False, decipher_only=False,
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _paths(directory: Path, name: str, overwrite: bool) -> Issued:
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"not a certificate name: {name!r}")
    issued = Issued(cert=directory / f"{name}.crt", key=directory / f"{name}.key")
    if issued.key.exists() and not overwrite:
        raise FileExistsError(f"{issued.key} exists; pass overwrite=True to replace it")
    return issued


def _load(ca: Issued) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey]:
    try:
        cert = x509.load_pem_x509_certificate(ca.cert.read_bytes())
        key = serialization.load_pem_private_key(ca.key.read_bytes(), password=None)
    except OSError as exc:
        raise ValueError(f"cannot read CA file {exc.filename}: {exc.strerror}") from exc
    except ValueError as exc:
        raise ValueError(f"not a PEM CA certificate and unencrypted key: {ca.cert}, {ca.key}") from exc
    if not isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
        raise ValueError(f"{ca.key} is neither an EC nor an RSA private key")
    return cert, key


def _write(issued: Issued, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> None:
    issued.key.parent.mkdir(parents=True, exist_ok=True)
    pem_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    _write_private(issued.key, pem_key)
    issued.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` readable by its owner only."""
    # Created 0600 from the start (never briefly readable by others); chmod covers a replaced file.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        os.fchmod(out.fileno(), 0o600)
        out.write(data)
