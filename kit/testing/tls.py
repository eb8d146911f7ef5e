"""A throw-away PKI for TLS tests: one CA with a server and a client certificate, and a stranger.

``make_pki(tmp_path)`` writes, with ``kit.certs``:

- ``ca``: the CA both sides trust;
- ``server`` and ``client``: leaf certificates signed by ``ca`` for ``localhost`` / ``127.0.0.1``
  (each usable on either TLS side);
- ``other_ca`` and ``stranger``: a second CA and a client certificate it signed, which a server
  trusting only ``ca`` must refuse.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kit.certs import Issued, issue, make_ca


@dataclass(frozen=True)
class TestPKI:
    """The certificates ``make_pki`` wrote (PEM files)."""

    __test__ = False  # not a pytest test class, despite its name

    ca: Issued
    server: Issued
    client: Issued
    other_ca: Issued
    stranger: Issued


def make_pki(directory: Path) -> TestPKI:
    """Write a CA, a server and a client certificate it signs, another CA and its ``stranger``."""
    directory = Path(directory)
    ca = make_ca(directory, "ca")
    other_ca = make_ca(directory, "other-ca")
    return TestPKI(
        ca=ca,
        server=issue(directory, "server", ca),
        client=issue(directory, "client", ca),
        other_ca=other_ca,
        stranger=issue(directory, "stranger", other_ca),
    )
