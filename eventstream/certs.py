"""``eventstream certs``: a private CA and one TLS certificate per service, for TLS and mutual TLS.

Writes ``ca.crt`` / ``ca.key`` and ``<service>.crt`` / ``<service>.key`` for each service into the
output directory (keys mode 0600). Each service certificate names the service itself (its host
name in a cluster), ``localhost`` and ``127.0.0.1``, plus every ``--host``; it serves both as the
service's server certificate and as the client certificate it presents to the others.

Running it again keeps the CA, so certificates already handed out stay valid, and issues fresh
service certificates from it; ``--new-ca`` replaces the CA too (every old certificate then fails).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import click

from kit.certs import DEFAULT_HOSTS, Issued, issue, make_ca

DEFAULT_SERVICES: tuple[str, ...] = ("eventstoresvc", "ordersvc", "worker", "nats")
"""The services ``eventstream certs`` issues certificates for when none are named."""

CA_NAME = "ca"


@dataclass(frozen=True)
class Written:
    """One certificate the command wrote (or, for a kept CA, found)."""

    name: str
    issued: Issued
    hosts: tuple[str, ...]
    kept: bool = False


def write_certs(out: Path, services: Sequence[str] = DEFAULT_SERVICES, hosts: Sequence[str] = (),
                *, new_ca: bool = False) -> list[Written]:
    """Write (or keep) the CA in ``out`` and issue one certificate per service from it.

    Raises ValueError for a service named like the CA or not usable as a file name, or a CA half
    on disk (a certificate without its key, or the other way round).
    """
    out = Path(out)
    if CA_NAME in services:
        raise ValueError(f"{CA_NAME!r} is the CA's file name; name the service otherwise")
    ca = Issued(cert=out / f"{CA_NAME}.crt", key=out / f"{CA_NAME}.key")
    present = ca.cert.exists(), ca.key.exists()
    written: list[Written] = []
    if all(present) and not new_ca:
        written.append(Written(CA_NAME, ca, (), kept=True))
    elif any(present) and not new_ca:
        have, missing = (ca.cert, ca.key) if present[0] else (ca.key, ca.cert)
        raise ValueError(f"{have} exists without {missing}; restore it or pass --new-ca")
    else:
        written.append(Written(CA_NAME, make_ca(out, CA_NAME, overwrite=True), ()))
    for service in dict.fromkeys(services):
        names = tuple(dict.fromkeys([service, *DEFAULT_HOSTS, *hosts]))
        written.append(Written(service, issue(out, service, ca, hosts=names, overwrite=True), names))
    return written


@click.command("certs")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), default=Path("certs"),
              show_default=True, help="Directory to write the CA and the certificates into.")
@click.option("--service", "services", multiple=True, metavar="NAME",
              help=f"A service to issue a certificate for (repeat; default: {' '.join(DEFAULT_SERVICES)}).")
@click.option("--host", "hosts", multiple=True, metavar="HOST",
              help="Another DNS name or IP address every certificate names (repeat).")
@click.option("--new-ca", is_flag=True, help="Replace an existing CA (invalidates its certificates).")
def certs(out: Path, services: tuple[str, ...], hosts: tuple[str, ...], new_ca: bool) -> None:
    """Write a private CA and a TLS certificate per service (for gRPC and NATS TLS and mTLS)."""
    try:
        written = write_certs(out, services or DEFAULT_SERVICES, hosts, new_ca=new_ca)
    except (ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    for item in written:
        if item.name == CA_NAME:
            state = "kept" if item.kept else "new"
            click.echo(f"{item.name}: {item.issued.cert} {item.issued.key} ({state} CA)")
        else:
            click.echo(f"{item.name}: {item.issued.cert} {item.issued.key} for {', '.join(item.hosts)}")
    example = next((w for w in written if w.name != CA_NAME), None)
    if example is not None:
        click.echo(f"use: EVENTSTREAM_TLS_CA={written[0].issued.cert} "
                   f"EVENTSTREAM_TLS_CERT={example.issued.cert} EVENTSTREAM_TLS_KEY={example.issued.key}")
