"""Request logging as endpoint middleware: one structured line per call.

Each line carries ``method``, ``duration_ms``, ``outcome`` (``ok`` or the lower-case error code
name), ``error`` (the error's message, never the request or response payload) and ``trace_id`` of
the current span. Format and level come from ``kit.logs.configure``. When the logger's level is
disabled, a call costs one ``isEnabledFor`` check; unexpected (non-kit) errors are still logged at
ERROR with their traceback, because they are bugs someone must see.
"""

from __future__ import annotations

import logging
import time
from typing import TypeVar

from kit import context as kit_context
from kit import errors
from kit.endpoint import Endpoint, Middleware
from kit.middleware.metrics import outcome

Req = TypeVar("Req")
Resp = TypeVar("Resp")


def _trace_id() -> str | None:
    trace = kit_context.current().trace
    return None if trace is None else trace.trace_id


def logging_middleware(
    logger: logging.Logger, method: str, *, level: int = logging.INFO
) -> Middleware[Req, Resp]:
    """Middleware logging every call of ``method`` to ``logger`` at ``level``."""
    perf_counter = time.perf_counter

    def emit(record_level: int, fields: dict[str, object], exc: BaseException | None = None) -> None:
        # Records are built directly: ``Logger.log`` would walk the stack to find the caller, which
        # costs more than the rest of the line, and the caller is always this middleware anyway.
        exc_info = None if exc is None else (type(exc), exc, exc.__traceback__)
        logger.handle(logger.makeRecord(logger.name, record_level, __file__, 0, "request", (),
                                        exc_info, method, fields))

    def log_unexpected(exc: Exception, started: float | None) -> None:
        fields: dict[str, object] = {"method": method}
        if started is not None:
            fields["duration_ms"] = round((perf_counter() - started) * 1000, 3)
        fields["outcome"] = outcome(exc)
        fields["error"] = f"{type(exc).__name__}: {exc}"
        fields["trace_id"] = _trace_id()
        if logger.isEnabledFor(logging.ERROR):
            emit(logging.ERROR, fields, exc)

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
                emit(level, {
                    "method": method,
                    "duration_ms": round((perf_counter() - started) * 1000, 3),
                    "outcome": outcome(exc),
                    "error": exc.message,
                    "trace_id": _trace_id(),
                })
                raise
            except Exception as exc:
                log_unexpected(exc, started)
                raise
            emit(level, {
                "method": method,
                "duration_ms": round((perf_counter() - started) * 1000, 3),
                "outcome": "ok",
                "trace_id": _trace_id(),
            })
            return response

        return logged

    return middleware
