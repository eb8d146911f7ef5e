"""What the deploy/ tests share: where deploy/ is, and running its init-secrets for real."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"


@dataclass(frozen=True)
class Generated:
    """The directories init-secrets wrote: the CA, the certificates and the secrets (only
    init-secrets mounts these) and the per-role copies the containers mount."""

    ca: Path
    certs: Path
    secrets: Path
    identities: Path

    def run(self) -> subprocess.CompletedProcess[str]:
        """Run deploy/init-secrets.py on these directories (again); its output."""
        return subprocess.run([sys.executable, str(DEPLOY / "init-secrets.py"), "--ca", str(self.ca),
                               "--certs", str(self.certs), "--secrets", str(self.secrets),
                               "--identities", str(self.identities)],
                              check=True, capture_output=True, text=True)


def init_secrets(root: Path) -> Generated:
    """Run init-secrets into fresh directories under ``root``."""
    generated = Generated(root / "ca", root / "certs", root / "secrets", root / "identities")
    generated.run()
    return generated
