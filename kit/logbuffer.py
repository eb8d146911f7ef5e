"""A log handler that batches lines and writes them from a background thread.

A plain ``StreamHandler`` writes and flushes every line, and each write releases the interpreter lock
for a system call; under a threaded server that hand-off costs more than formatting the line. This
handler formats in the caller (so the line carries the caller's context, such as the trace id),
appends it to a buffer, and a daemon thread writes the buffer out every ``interval`` seconds.
WARNING and above, and a full buffer, are written at once; the buffer is flushed at exit. The price
is that a process killed with SIGKILL may lose up to ``interval`` seconds of INFO lines.

Callers take no lock: ``logging.Handler.handle`` would hold the handler's lock while formatting, so
request threads queue up behind each other's formatting. Lines go into a deque (appends and pops are
atomic under the interpreter lock) and only the writers of the stream serialise.
"""

from __future__ import annotations

import atexit
import collections
import logging
import threading
from typing import IO


class BufferedStreamHandler(logging.Handler):
    """Buffers formatted lines and writes them to ``stream`` in batches."""

    def __init__(self, stream: IO[str], *, interval: float = 0.2, max_lines: int = 1000,
                 immediate_level: int = logging.WARNING) -> None:
        super().__init__()
        self.stream = stream
        self.interval = interval
        self.max_lines = max_lines
        self.immediate_level = immediate_level
        self._lines: collections.deque[str] = collections.deque()
        self._write_lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="log-writer", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def handle(self, record: logging.LogRecord) -> bool:
        """Filter and emit ``record`` without taking the handler's lock (see the module docstring)."""
        passed: object = self.filter(record)
        if isinstance(passed, logging.LogRecord):
            record = passed  # a filter may hand back a replacement record (Python 3.12+)
        if passed:
            self.emit(record)
        return bool(passed)

    def emit(self, record: logging.LogRecord) -> None:
        """Format the record now; write it with the next batch (at once if urgent)."""
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        lines = self._lines
        lines.append(line)
        if record.levelno >= self.immediate_level or len(lines) >= self.max_lines:
            self.flush()

    def flush(self) -> None:
        """Write every buffered line now."""
        with self._write_lock:
            lines = self._lines
            count = len(lines)
            if not count:
                return
            popleft = lines.popleft
            text = "\n".join([popleft() for _ in range(count)]) + "\n"
            try:
                self.stream.write(text)
                self.stream.flush()
            except (OSError, ValueError):
                pass  # a closed or broken stream must never break the program that logs

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self.interval)
            self.flush()

    def close(self) -> None:
        """Flush what is left and stop the writer thread."""
        if not self._closed:
            self._closed = True
            self._wake.set()
            self.flush()
        super().close()
