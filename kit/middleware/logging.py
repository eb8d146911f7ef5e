"""Request logging as endpoint middleware: one structured line per call.

Each line carries ``method``, ``duration_ms``, ``outcome`` (``ok`` or the lower-case error code
name), ``error`` (the error's message, never the request or response payload) and ``trace_id`` of
the current span. Format and level come from ``kit.logs.configure``. When the logger's level is
disabled, a call costs one ``isEnabledFor`` check; unexpected (non-kit) errors are still logged at
ERROR with their traceback, because they are bugs someone must see.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any, TypeVar

from kit import context as kit_context
from kit import errors
from kit.endpoint import Endpoint, Middleware
from kit.logs import REQUEST_FIELDS
from kit.middleware.metrics import outcome

Req = TypeVar("Req")
Resp = TypeVar("Resp")

# What ``logging.LogRecord.__init__`` sets; a record built from a template must carry exactly these.
_RECORD_ATTRS = frozenset((
    "name", "msg", "args", "levelname", "levelno", "pathname", "filename", "module", "exc_info",
    "exc_text", "stack_info", "lineno", "funcName", "created", "msecs", "relativeCreated", "thread",
    "threadName", "processName", "process",
))
_new_object = object.__new__
_current_thread = threading.current_thread
_get_ident = threading.get_ident


def _trace_id() -> str | None:
    trace = kit_context.current().trace
    return None if trace is None else trace.trace_id


def _standard_record(logger: logging.Logger, level: int, method: str, fields: dict[str, object],
                     exc_info: Any = None) -> logging.LogRecord:
    """A request record made by ``Logger.makeRecord``, marked with its fields for the formatters."""
    # Records are built directly: ``Logger.log`` would walk the stack to find the caller, which
    # costs more than the rest of the line, and the caller is always this middleware anyway.
    record = logger.makeRecord(logger.name, level, __file__, 0, "request", (), exc_info, method, fields)
    record.__dict__[REQUEST_FIELDS] = (fields, len(record.__dict__) + 1)
    return record


class _RecordMaker:
    """Builds the request records of one logger and level, as ``Logger.makeRecord`` would.

    ``LogRecord.__init__`` recomputes file names, the process and more on every call; a request line
    only differs in its time, its thread and its fields, so the rest is copied from a template record.
    The template is made by ``makeRecord`` itself; when that record has attributes this class does
    not know (another Python version, a custom record factory) every record goes through
    ``makeRecord``.
    """

    __slots__ = ("_level", "_logger", "_method", "_start", "_template")

    def __init__(self, logger: logging.Logger, level: int, method: str) -> None:
        self._logger = logger
        self._level = level
        self._method = method
        self._template: dict[str, Any] | None = None
        self._start = 0.0

    def _refresh(self) -> dict[str, Any] | None:
        template = dict(vars(_standard_record(self._logger, self._level, self._method, {})))
        del template[REQUEST_FIELDS]
        usable = (type(self._logger).makeRecord is logging.Logger.makeRecord
                  and set(template) == _RECORD_ATTRS and template["process"] == os.getpid())
        self._start = template["created"] - template["relativeCreated"] / 1000
        self._template = template if usable else None
        return self._template

    def make(self, fields: dict[str, object]) -> logging.LogRecord:
        """A record of the middleware's level whose extra attributes are ``fields``."""
        template = self._template
        if (template is None or template["process"] != os.getpid()
                or logging.getLogRecordFactory() is not logging.LogRecord):
            # After a fork the process id differs; anything unusual takes the standard path.
            template = self._refresh()
            if template is None:
                return _standard_record(self._logger, self._level, self._method, fields)
        record: logging.LogRecord = _new_object(logging.LogRecord)
        attrs = record.__dict__
        attrs.update(template)
        created = time.time()
        attrs["created"] = created
        attrs["msecs"] = int((created - int(created)) * 1000) + 0.0
        attrs["relativeCreated"] = (created - self._start) * 1000
        if template["thread"] is not None:
            attrs["thread"] = _get_ident()
            attrs["threadName"] = _current_thread().name
        attrs.update(fields)
        attrs[REQUEST_FIELDS] = (fields, len(attrs) + 1)
        return record


def logging_middleware(
    logger: logging.Logger, method: str, *, level: int = logging.INFO
) -> Middleware[Req, Resp]:
    """Middleware logging every call of ``method`` to ``logger`` at ``level``."""
    perf_counter = time.perf_counter
    records = _RecordMaker(logger, level, method)
    handle = logger.handle

    def log_unexpected(exc: Exception, started: float | None) -> None:
        fields: dict[str, object] = {"method": method}
        if started is not None:
            fields["duration_ms"] = round((perf_counter() - started) * 1000, 3)
        fields["outcome"] = outcome(exc)
        fields["error"] = f"{type(exc).__name__}: {exc}"
        fields["trace_id"] = _trace_id()
        if logger.isEnabledFor(logging.ERROR):
            handle(_standard_record(logger, logging.ERROR, method, fields,
                                    (type(exc), exc, exc.__traceback__)))

    def middleware(endpoint: Endpoint[Req, Resp]) -> Endpoint[Req, Resp]:
        def logged(request: Req) -> Resp:
            if not logger.isEnabledFor(level):
                try:
                    return endpoint(request)
                except errors.KitError:
                    raise
                except Exception as exc:
                    log_unexpected(exc, None)
                    raise
            started = perf_counter()
            try:
                response = endpoint(request)
            except errors.KitError as exc:
                fields: dict[str, object] = {
                    "method": method,
                    "duration_ms": round((perf_counter() - started) * 1000, 3),
                    "outcome": outcome(exc),
                    "error": exc.message,
                    "trace_id": _trace_id(),
                }
                handle(records.make(fields))
                raise
            except Exception as exc:
                log_unexpected(exc, started)
                raise
            fields = {
                "method": method,
                "duration_ms": round((perf_counter() - started) * 1000, 3),
                "outcome": "ok",
                "trace_id": _trace_id(),
            }
            handle(records.make(fields))
            return response

        return logged

    return middleware
