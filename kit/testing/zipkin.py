"""A real Zipkin server for tests, on a free 127.0.0.1 port, with its query API.

``ZipkinServer`` runs the ``io.zipkin:zipkin-server`` executable jar the way ``eventstream up
--trace-ui`` does (``kit.zipkin.server``: in-memory storage, loopback only; https only when given a
key store and the CA that verifies it), waits until
``/health`` says UP, and reads back what it stored through Zipkin's own v2 query API
(``services``, ``traces``, ``trace``). ``running_zipkin()`` is the context manager that always
stops it. ``zipkin_missing()`` says why no server can be started here (the jar or Java is missing),
so a test can skip with the install command, or fail where the server must be present (CI).

The in-memory ``ZipkinCollector`` of ``kit.testing.tracing`` stays the fast stand-in for unit tests.
"""

from __future__ import annotations

import json
import shutil
import signal
import ssl
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from kit.testing.net import free_port
from kit.testing.wait import eventually
from kit.zipkin import server as launcher

Span = dict[str, Any]


def zipkin_missing() -> str | None:
    """Why a Zipkin server cannot be started here, naming the install command; None if it can."""
    return launcher.missing()


class ZipkinServer:
    """A Zipkin server process on ``127.0.0.1:<port>``, its spans in memory."""

    def __init__(self, *, port: int | None = None, tls: launcher.KeyStore | None = None,
                 ca_file: Path | None = None, command: list[str] | None = None) -> None:
        """``tls``: serve https only with this key store; ``ca_file`` verifies it for our own calls.

        ``command``: run this command line instead of ``kit.zipkin.server.command``'s (a
        deployment's own options, say); it must serve ``port``, over https when ``ca_file`` is given.
        """
        self.port = port or free_port()
        self.url = launcher.base_url(self.port, tls=tls is not None or ca_file is not None)
        self.root = Path(tempfile.mkdtemp(prefix="eventstream-zipkin-"))
        self._tls = tls
        self._command = command
        self._context = ssl.create_default_context(cafile=str(ca_file)) if ca_file else None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def ui_url(self) -> str:
        """The UI's address."""
        return launcher.ui_url(self.url)

    def trace_url(self, trace_id: str) -> str:
        """The UI page of one trace."""
        return launcher.trace_url(self.url, trace_id)

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 120.0) -> ZipkinServer:
        """Start the server and return once ``/health`` says UP (a JVM start: seconds)."""
        if self.running:
            return self
        args = self._command or launcher.command(self.port, tls=self._tls)
        log = open(self.root / "zipkin.log", "ab")  # noqa: SIM115 (kept open for the server's life)
        self._process = subprocess.Popen(args, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                         cwd=self.root)
        log.close()
        process = self._process

        def ready() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"zipkin exited with {process.returncode}:\n{self.log()}")
            return launcher.healthy(self.url, context=self._context)

        try:
            eventually(ready, timeout, interval=0.2, describe=lambda: f"zipkin not healthy:\n{self.log()}")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the server (SIGTERM, SIGKILL after 20 s); its spans are gone with it."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def close(self) -> None:
        """Stop the server and delete its directory (the log)."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self, tail: int = 6000) -> str:
        """The server's output so far, its last ``tail`` characters (for failing tests)."""
        path = self.root / "zipkin.log"
        return path.read_text(errors="replace")[-tail:] if path.exists() else ""

    def __enter__(self) -> ZipkinServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    # Zipkin's v2 API: https://zipkin.io/zipkin-api/ (the same file as reference/zipkin2-api.yaml).

    def _get(self, path: str, query: Mapping[str, str | int] | None = None) -> Any:
        url = self.url + path + (f"?{urllib.parse.urlencode(query)}" if query else "")
        with urllib.request.urlopen(url, timeout=10, context=self._context) as response:
            return json.loads(response.read())

    def services(self) -> list[str]:
        """The service names the server has seen (``GET /api/v2/services``)."""
        return list(self._get("/api/v2/services"))

    def traces(self, service_name: str | None = None, *, span_name: str | None = None,
               limit: int = 100, lookback_ms: int = 3_600_000) -> list[list[Span]]:
        """Traces of the last ``lookback_ms`` (``GET /api/v2/traces``), each a list of spans."""
        query: dict[str, str | int] = {"limit": limit, "lookback": lookback_ms}
        if service_name:
            query["serviceName"] = service_name
        if span_name:
            query["spanName"] = span_name
        return [list(trace) for trace in self._get("/api/v2/traces", query)]

    def trace(self, trace_id: str) -> list[Span]:
        """The spans of one trace (``GET /api/v2/trace/{id}``); empty if the server has none."""
        try:
            return list(self._get(f"/api/v2/trace/{trace_id}"))
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return []
            raise

    def post_spans(self, spans: Sequence[Mapping[str, Any]]) -> int:
        """POST spans to ``/api/v2/spans`` as a reporter does; the HTTP status (202 when accepted)."""
        request = urllib.request.Request(self.url + "/api/v2/spans", data=json.dumps(list(spans)).encode(),
                                         method="POST", headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10, context=self._context) as response:
            return int(response.status)


@contextmanager
def running_zipkin() -> Iterator[ZipkinServer]:
    """A started ``ZipkinServer``, stopped and its directory deleted when the block ends."""
    server = ZipkinServer()
    try:
        server.start()
        yield server
    finally:
        server.close()
