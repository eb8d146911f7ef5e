"""A local Zipkin server (the ``io.zipkin:zipkin-server`` executable jar): where it is, how to run it.

Shared by ``eventstream up --trace-ui`` and the test fixture ``kit.testing.zipkin``, so both start
the same server the same way: in-memory storage, listening on 127.0.0.1 alone, over HTTP or, given
a PKCS#12 key store (``KeyStore``, e.g. from ``kit.certs.pkcs12``), over https only. The jar is
looked up in this order:

1. ``EVENTSTREAM_ZIPKIN_JAR`` (a path; when set, nothing else is tried);
2. ``~/.cache/eventstream/zipkin-server-<version>-exec.jar`` (where ``.ci/run`` and the README's
   install command put it; ``$XDG_CACHE_HOME`` replaces ``~/.cache`` when set);
3. the local Maven repository (``~/.m2/repository/io/zipkin/zipkin-server/<version>/``).

Java 17 or newer runs it: ``$JAVA_HOME/bin/java`` when set, else ``java`` on ``PATH``.
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ZIPKIN_VERSION = "3.5.1"
JAR_ENV = "EVENTSTREAM_ZIPKIN_JAR"
JAR_NAME = f"zipkin-server-{ZIPKIN_VERSION}-exec.jar"
ARTIFACT = f"io.zipkin:zipkin-server:{ZIPKIN_VERSION}:jar:exec"
DEFAULT_PORT = 9411
# A small heap and quick start-up: a local server for one developer or one test, not a cluster.
JVM_OPTIONS = ("-Xms32m", "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")


@dataclass(frozen=True)
class KeyStore:
    """The PKCS#12 key store (certificate and key) a server presents when it serves https."""

    path: Path
    password: str

    def options(self) -> list[str]:
        """The server options that serve https only, with this store (Armeria's TLS settings)."""
        return ["--armeria.ports[0].protocols[0]=https", "--armeria.ssl.enabled=true",
                f"--armeria.ssl.key-store=file:{self.path}", "--armeria.ssl.key-store-type=PKCS12",
                f"--armeria.ssl.key-store-password={self.password}"]


class ZipkinNotInstalled(RuntimeError):
    """The Zipkin server jar or a Java runtime is missing; the message says how to install it."""


def cache_dir() -> Path:
    """Where the install command puts the jar: ``~/.cache/eventstream``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "eventstream"


def install_command() -> str:
    """The one command that fetches the jar from Maven Central into ``cache_dir()``."""
    return f"mvn -q dependency:copy -Dartifact={ARTIFACT} -DoutputDirectory={cache_dir()}"


def install_hint() -> str:
    """One line saying how to get the server."""
    return (f"the Zipkin server is not installed: run `{install_command()}` (needs Java 17+ and "
            f"Maven), or set {JAR_ENV} to a zipkin-server exec jar")


def find_jar() -> Path | None:
    """The Zipkin server jar, or None if none is installed (see the module's lookup order)."""
    configured = os.environ.get(JAR_ENV)
    if configured:
        path = Path(configured).expanduser()
        return path if path.is_file() else None
    maven = Path.home() / ".m2" / "repository" / "io" / "zipkin" / "zipkin-server" / ZIPKIN_VERSION
    for candidate in (cache_dir() / JAR_NAME, maven / JAR_NAME):
        if candidate.is_file():
            return candidate
    return None


def find_java() -> str | None:
    """The ``java`` program: ``$JAVA_HOME/bin/java``, else the one on ``PATH``; None if neither."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


def missing() -> str | None:
    """Why the server cannot be started here (one line), or None when it can."""
    if find_jar() is None:
        configured = os.environ.get(JAR_ENV)
        if configured:
            return f"{JAR_ENV}={configured} names no file; {install_hint()}"
        return install_hint()
    if find_java() is None:
        return ("Java is not installed (the Zipkin server needs Java 17+):"
                " apt-get install -y openjdk-17-jre-headless")
    return None


def command(port: int, *, jar: Path | None = None, java: str | None = None,
            tls: KeyStore | None = None) -> list[str]:
    """The command that runs the server on ``127.0.0.1:port`` with in-memory storage.

    With ``tls`` the port serves https only, presenting that key store. Raises
    ``ZipkinNotInstalled`` (with the install hint) when the jar or Java is missing.
    """
    jar = jar or find_jar()
    java = java or find_java()
    if jar is None or java is None:
        raise ZipkinNotInstalled(missing() or install_hint())
    return [
        java, *JVM_OPTIONS, "-jar", str(jar),
        # Armeria serves the UI, the query API and the span intake on this one port.
        "--armeria.ports[0].ip=127.0.0.1", f"--armeria.ports[0].port={port}",
        *(tls.options() if tls else ["--armeria.ports[0].protocols[0]=http"]),
        "--zipkin.storage.type=mem", "--zipkin.self-tracing.enabled=false",
        # Quiet start-up: no banner, and no warning about the server's own metrics wiring.
        "--spring.main.banner-mode=off", "--logging.level.io.micrometer=ERROR",
    ]


def base_url(port: int, *, tls: bool = False) -> str:
    """The server's URL: where spans are POSTed (``--zipkin-url``) and the API is queried."""
    return f"{'https' if tls else 'http'}://127.0.0.1:{port}"


def ui_url(base: str) -> str:
    """The Zipkin UI's address under a server's base URL."""
    return base.rstrip("/") + "/zipkin/"


def trace_url(base: str, trace_id: str) -> str:
    """The UI page of one trace."""
    return base.rstrip("/") + f"/zipkin/traces/{trace_id}"


def healthy(base: str, timeout: float = 1.0, *, context: ssl.SSLContext | None = None) -> bool:
    """Whether the server at ``base`` answers ``GET /health`` with status UP (its storage is ready).

    ``context`` verifies an https server (default: the system's trusted roots).
    """
    try:
        with urllib.request.urlopen(base.rstrip("/") + "/health", timeout=timeout,
                                    context=context) as response:
            return response.status == 200 and bool(json.loads(response.read()).get("status") == "UP")
    except (OSError, ValueError):
        return False
