"""Tracing test helpers: an in-memory span collector, a recording tracer, a real Zipkin collector.

- ``SpanCollector`` is a reporter sink: give it to a ``ZipkinTracer`` and assert on ``spans``.
- ``RecordingTracer`` is a ``ZipkinTracer`` wired to its own ``SpanCollector`` (100% sampling).
- ``ZipkinCollector`` is a tiny HTTP server on a free 127.0.0.1 port that accepts
  ``POST /api/v2/spans`` like Zipkin and records every batch; ``delay`` makes it slow on purpose.
- ``SpanSchema`` checks span JSON against the ``Span`` definition of Zipkin's official API file
  (``zipkin2-api.yaml``), loaded as it is published (needs ``pyyaml`` and ``jsonschema``).

These are the fast stand-ins; ``kit.testing.zipkin`` runs the real Zipkin server and its UI.
"""

from __future__ import annotations

import importlib
import json
import os
import threading
import time
from collections.abc import Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from kit.testing.net import free_port
from kit.tracing import SpanKind
from kit.zipkin.span import ZipkinSpan
from kit.zipkin.tracer import ZipkinTracer


class SpanCollector:
    """Collects finished spans in memory, in the order they finished (children before parents)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spans: list[ZipkinSpan] = []

    def report(self, span: ZipkinSpan) -> None:
        """Record a finished span."""
        with self._lock:
            self._spans.append(span)

    @property
    def spans(self) -> list[ZipkinSpan]:
        """A snapshot of the spans recorded so far."""
        with self._lock:
            return list(self._spans)

    def by_kind(self, kind: SpanKind) -> list[ZipkinSpan]:
        """The recorded spans of one kind."""
        return [span for span in self.spans if span.kind is kind]

    def named(self, name: str) -> ZipkinSpan:
        """The one recorded span called ``name``; AssertionError if there is not exactly one."""
        found = [span for span in self.spans if span.name == name]
        assert len(found) == 1, f"expected one span named {name!r}, got {found!r}"
        return found[0]

    def clear(self) -> None:
        """Forget every recorded span."""
        with self._lock:
            self._spans.clear()

    def flush(self, timeout: float = 0.0) -> bool:
        """Nothing to deliver: spans are recorded as they finish."""
        del timeout
        return True

    def close(self, timeout: float = 0.0) -> bool:
        """Nothing to release."""
        del timeout
        return True


class RecordingTracer(ZipkinTracer):
    """A ``ZipkinTracer`` that records into an in-memory ``SpanCollector`` (``self.collector``)."""

    def __init__(self, service_name: str = "test", *, sample_rate: float = 1.0,
                 ip: str | None = "127.0.0.1", port: int | None = None) -> None:
        self.collector = SpanCollector()
        super().__init__(service_name, self.collector, sample_rate=sample_rate, ip=ip, port=port)

    @property
    def spans(self) -> list[ZipkinSpan]:
        """The finished, sampled spans so far."""
        return self.collector.spans


class _Handler(BaseHTTPRequestHandler):
    # Keep connections open between batches, as Zipkin does.
    protocol_version = "HTTP/1.1"
    server: _CollectorServer

    def do_POST(self) -> None:
        """Record a span batch and answer 202 like Zipkin, after the collector's delay."""
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        owner = self.server.owner
        if owner.delay:
            time.sleep(owner.delay)
        if self.path != "/api/v2/spans":
            self.send_response(404)
        else:
            owner.record(body)
            self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet in test output."""
        del format, args


class _CollectorServer(ThreadingHTTPServer):
    daemon_threads = True
    owner: ZipkinCollector


class ZipkinCollector:
    """A real HTTP Zipkin span intake on a free port, recording each POSTed batch.

    Use as a context manager (starts and stops the server). ``url`` is the base URL to give a
    reporter; ``batches`` holds the decoded JSON lists; ``spans()`` flattens them.
    """

    def __init__(self, *, delay: float = 0.0, port: int | None = None) -> None:
        self.delay = delay
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.batches: list[list[dict[str, Any]]] = []
        self._cond = threading.Condition()
        self._server: _CollectorServer | None = None
        self._thread: threading.Thread | None = None

    def record(self, body: bytes) -> None:
        """Store one POSTed batch."""
        batch = json.loads(body)
        with self._cond:
            self.batches.append(batch)
            self._cond.notify_all()

    def spans(self) -> list[dict[str, Any]]:
        """Every span received so far, across batches."""
        with self._cond:
            return [span for batch in self.batches for span in batch]

    def wait_for_spans(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Block until at least ``count`` spans arrived; AssertionError after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while sum(len(batch) for batch in self.batches) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"expected {count} spans, collector got {self.batches!r}")
                self._cond.wait(remaining)
        return self.spans()

    def start(self) -> ZipkinCollector:
        """Listen on 127.0.0.1:``port`` in a background thread."""
        server = _CollectorServer(("127.0.0.1", self.port), _Handler)
        server.owner = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="zipkin-collector",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening (requests still sleeping in ``delay`` finish on their own)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> ZipkinCollector:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()


class SpanSchema:
    """Validates Zipkin v2 span JSON against the ``Span`` definition of ``zipkin2-api.yaml``.

    The Swagger file's ``#/definitions/...`` references resolve inside the loaded document; formats
    (``ipv4``, ``ipv6``) are checked too.
    """

    def __init__(self, api_yaml: str | os.PathLike[str]) -> None:
        # Imported by name: test-only libraries, whose type stubs kit does not require.
        jsonschema = importlib.import_module("jsonschema")
        yaml = importlib.import_module("yaml")

        path = Path(api_yaml)
        if not path.is_file():
            raise FileNotFoundError(f"Zipkin API schema not found at {path}")
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        definitions = document["definitions"]
        checker = jsonschema.Draft4Validator.FORMAT_CHECKER
        self._span = jsonschema.Draft4Validator(
            {"$ref": "#/definitions/Span", "definitions": definitions}, format_checker=checker)
        self._list = jsonschema.Draft4Validator(
            {"$ref": "#/definitions/ListOfSpans", "definitions": definitions},
            format_checker=checker)

    def errors(self, span: Mapping[str, Any]) -> list[str]:
        """Every way ``span`` breaks the schema (empty when it is valid)."""
        return [f"{'/'.join(map(str, e.absolute_path)) or '<span>'}: {e.message}"
                for e in self._span.iter_errors(dict(span))]

    def validate(self, span: Mapping[str, Any]) -> None:
        """Raise AssertionError naming each violation if ``span`` is not a valid Zipkin v2 span."""
        problems = self.errors(span)
        assert not problems, f"span {span!r} breaks the Zipkin schema: {problems}"

    def validate_list(self, spans: Iterable[Mapping[str, Any]]) -> None:
        """Validate a POST body (``ListOfSpans``) and each span in it."""
        body = [dict(span) for span in spans]
        problems = [error.message for error in self._list.iter_errors(body)]
        assert not problems, f"span list breaks the Zipkin schema: {problems}"
        for span in body:
            self.validate(span)
