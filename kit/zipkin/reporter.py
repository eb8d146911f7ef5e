"""Background delivery of spans to a Zipkin collector: bounded queue, batches, never blocks callers.

``HTTPReporter.report`` only appends to a bounded queue (a deque; appends are atomic under the GIL,
so no lock is taken on the request path). A daemon thread wakes every ``flush_interval`` or when a
batch is full, encodes the whole batch at once and POSTs them as Zipkin v2 JSON to
``<zipkin-url>/api/v2/spans`` with short timeouts (over https, the server's certificate is verified
against the system's roots or a given CA file). When the collector is down or slow the queue
fills and further spans are dropped and counted (``kit_tracing_spans_dropped_total{reason}`` and
``HTTPReporter.dropped``); requests never wait for Zipkin.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import urllib3
from prometheus_client import REGISTRY, CollectorRegistry, Counter
from py_zipkin.transport import BaseTransportHandler

from kit.registries import per_registry
from kit.zipkin.encoding import encode_batch, span_dict
from kit.zipkin.span import ZipkinSpan

log = logging.getLogger(__name__)

@per_registry
def dropped_counter(registry: CollectorRegistry = REGISTRY) -> Counter:
    """The ``kit_tracing_spans_dropped_total{reason}`` counter of ``registry`` (created once)."""
    return Counter(
        "kit_tracing_spans_dropped",
        "Spans dropped before reaching Zipkin (queue full, send failed, closed).",
        ["reason"],
        registry=registry,
    )


def spans_endpoint(zipkin_url: str) -> str:
    """The span intake URL for a Zipkin base URL (``http://zipkin:9411`` -> ``.../api/v2/spans``)."""
    url = zipkin_url.rstrip("/")
    return url if url.endswith("/api/v2/spans") else url + "/api/v2/spans"


class HTTPTransport(BaseTransportHandler):
    """POSTs encoded span batches to Zipkin over HTTP(S) with short timeouts and no retries.

    An https URL is verified (certificate chain and host name) against ``ca_file`` when given,
    else against the system's trusted roots.
    """

    def __init__(self, zipkin_url: str, *, timeout: float = 2.0, ca_file: str | None = None) -> None:
        super().__init__()
        self.url = spans_endpoint(zipkin_url)
        self._pool = urllib3.PoolManager(
            num_pools=1,
            maxsize=1,
            timeout=urllib3.Timeout(connect=min(timeout, 1.0), read=timeout),
            retries=False,
            cert_reqs="CERT_REQUIRED",
            ca_certs=ca_file,
        )

    def get_max_payload_bytes(self) -> int | None:
        """No payload limit: batches are bounded by span count instead."""
        return None

    def send(self, payload: bytes | str) -> None:
        """POST one batch; raise on a transport error or a non-2xx answer."""
        body = payload.encode("utf-8") if isinstance(payload, str) else payload
        response = self._pool.request(
            "POST", self.url, body=body, headers={"Content-Type": "application/json"}
        )
        if not 200 <= response.status < 300:
            raise OSError(f"zipkin answered {response.status} to POST {self.url}")

    def close(self) -> None:
        """Close pooled connections."""
        self._pool.clear()


class HTTPReporter:
    """Queues finished spans and delivers them in batches from a background thread.

    ``transport`` is called with each encoded batch (default: ``HTTPTransport(zipkin_url)``,
    verifying an https server against ``ca_file`` when given).
    ``dropped`` and ``sent`` count spans for tests and diagnostics.
    """

    def __init__(
        self,
        zipkin_url: str = "",
        *,
        transport: Callable[[bytes], None] | None = None,
        queue_size: int = 5000,
        batch_size: int = 500,
        flush_interval: float = 0.5,
        timeout: float = 2.0,
        ca_file: str | None = None,
        registry: CollectorRegistry = REGISTRY,
    ) -> None:
        if transport is None:
            if not zipkin_url:
                raise ValueError("HTTPReporter needs a zipkin_url or a transport")
            transport = HTTPTransport(zipkin_url, timeout=timeout, ca_file=ca_file)
        self._transport = transport
        self._queue: collections.deque[ZipkinSpan] = collections.deque()
        self._queue_size = queue_size
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._wake = threading.Event()
        self._idle = threading.Condition()
        self._in_flight = 0
        self._closed = False
        counter = dropped_counter(registry)
        self._dropped_full = counter.labels(reason="queue_full")
        self._dropped_failed = counter.labels(reason="send_failed")
        self._dropped_closed = counter.labels(reason="closed")
        self._count_lock = threading.Lock()
        self.dropped = 0
        self.sent = 0
        self._thread = threading.Thread(target=self._run, name="zipkin-reporter", daemon=True)
        self._thread.start()

    def report(self, span: ZipkinSpan) -> None:
        """Queue a finished span; drop and count it if the queue is full or the reporter closed."""
        queue = self._queue
        if self._closed:
            self._drop(1, self._dropped_closed)
            return
        if len(queue) >= self._queue_size:
            self._drop(1, self._dropped_full)
            return
        queue.append(span)
        if len(queue) >= self._batch_size and not self._wake.is_set():
            self._wake.set()

    def _drop(self, count: int, reason: Counter) -> None:
        # Dropping is the unusual path (Zipkin down or slow), so a lock here costs requests nothing.
        with self._count_lock:
            self.dropped += count
        reason.inc(count)

    def _take_batch(self) -> list[ZipkinSpan]:
        with self._idle:
            batch: list[ZipkinSpan] = []
            queue = self._queue
            while queue and len(batch) < self._batch_size:
                batch.append(queue.popleft())
            self._in_flight = len(batch)
            return batch

    def _send(self, batch: list[ZipkinSpan]) -> None:
        encoded: list[dict[str, Any]] = []
        for span in batch:
            try:
                encoded.append(span_dict(span))
            except Exception:
                log.warning("dropping a span that cannot be encoded: %r", span, exc_info=True)
                self._drop(1, self._dropped_failed)
        if not encoded:
            return
        body: bytes | None
        try:
            body = encode_batch(encoded)
        except (TypeError, ValueError):
            body = self._encode_one_by_one(encoded)
        if body is None:
            return
        try:
            self._transport(body)
            self.sent += len(encoded)
        except Exception as exc:
            log.warning("zipkin unreachable, dropping %d spans: %s", len(encoded), exc)
            self._drop(len(encoded), self._dropped_failed)

    def _encode_one_by_one(self, encoded: list[dict[str, Any]]) -> bytes | None:
        """The batch without the spans JSON cannot hold (a tag set to an odd value), which are dropped."""
        kept: list[dict[str, Any]] = []
        for span in encoded:
            try:
                encode_batch((span,))
            except (TypeError, ValueError):
                log.warning("dropping a span that cannot be encoded: %r", span)
                self._drop(1, self._dropped_failed)
                continue
            kept.append(span)
        encoded[:] = kept
        return encode_batch(kept) if kept else None

    def _run(self) -> None:
        while True:
            self._wake.wait(self._flush_interval)
            self._wake.clear()
            while True:
                batch = self._take_batch()
                if batch:
                    self._send(batch)
                with self._idle:
                    self._in_flight = 0
                    self._idle.notify_all()
                if not batch or (self._closed and not self._queue):
                    break
            if self._closed and not self._queue:
                return

    def flush(self, timeout: float = 5.0) -> bool:
        """Send everything queued now; wait up to ``timeout`` seconds. True if all was handled."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._queue or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._thread.is_alive():
                    return False
                self._wake.set()
                self._idle.wait(min(remaining, 0.05))
        return True

    def close(self, timeout: float = 5.0) -> bool:
        """Flush, then stop the background thread; later spans are dropped.

        True if nothing was left queued (spans a failed send dropped count as handled).
        """
        flushed = self.flush(timeout)
        self._closed = True
        self._wake.set()
        self._thread.join(timeout)
        close = getattr(self._transport, "close", None)
        if callable(close):
            close()
        return flushed and not self._queue
