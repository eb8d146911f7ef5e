"""The embedded PostgreSQL helper where its binaries sit out of the server user's reach.

As root the server runs as an unprivileged user; a virtualenv under root's home (mode 0700) holds
binaries that user cannot execute. The helper then runs them from a copy it can reach.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import psycopg
import pytest

from kit.testing import pginstall, postgres

pytestmark = pytest.mark.integration


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs the server as another user")
def test_a_server_starts_from_an_installation_under_a_private_home(tmp_path: Path) -> None:
    home = tmp_path / "root-home"
    home.mkdir(mode=0o700)
    private = home / "pginstall"
    private.symlink_to(pginstall.wheel_install())  # reached only through the 0700 directory
    uid, gid = pginstall.run_as()
    assert uid is not None and gid is not None
    assert not pginstall.runs_as(private, uid, gid)

    copy = Path(tempfile.gettempdir()) / f"eventstream-pginstall-{os.stat(private).st_ino}"
    existed = copy.exists()
    server = postgres.EmbeddedPostgres(install=private)
    try:
        server.start()
        with psycopg.connect(server.dsn()) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        server.stop()
        if not existed:
            shutil.rmtree(copy, ignore_errors=True)
