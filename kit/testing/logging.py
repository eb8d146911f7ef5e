"""Logging test helpers: a logger that writes nothing, and a capture of formatted structured lines."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kit.logs import formatter, parse_logfmt


def nop_logger(name: str = "kit.nop") -> logging.Logger:
    """A logger that drops everything, cheaply (disabled, not propagating, a NullHandler)."""
    logger = logging.getLogger(name)
    logger.handlers[:] = [logging.NullHandler()]
    logger.propagate = False
    logger.disabled = True
    return logger


class LogCapture(logging.Handler):
    """A handler that keeps each record and its formatted line (logfmt or JSON)."""

    def __init__(self, fmt: str = "logfmt") -> None:
        super().__init__(logging.DEBUG)
        self.fmt = fmt
        self.setFormatter(formatter(fmt))
        self.records: list[logging.LogRecord] = []
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the record and its formatted line."""
        self.records.append(record)
        self.lines.append(self.format(record))

    def fields(self) -> list[dict[str, Any]]:
        """Every captured line parsed back into its fields."""
        if self.fmt == "json":
            return [json.loads(line) for line in self.lines]
        return [dict(parse_logfmt(line)) for line in self.lines]


@contextmanager
def capture_logs(
    logger: logging.Logger | str, *, fmt: str = "logfmt", level: int = logging.DEBUG
) -> Iterator[LogCapture]:
    """Capture what ``logger`` writes at ``level`` and above while the block runs."""
    target = logging.getLogger(logger) if isinstance(logger, str) else logger
    capture = LogCapture(fmt)
    previous_level, previous_propagate = target.level, target.propagate
    target.addHandler(capture)
    target.setLevel(level)
    target.propagate = False
    try:
        yield capture
    finally:
        target.removeHandler(capture)
        target.setLevel(previous_level)
        target.propagate = previous_propagate
