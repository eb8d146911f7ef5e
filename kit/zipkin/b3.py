"""B3 propagation: read and write a span context in carrier headers.

Both B3 forms are understood: the multi-header form (``X-B3-TraceId``, ``X-B3-SpanId``,
``X-B3-ParentSpanId``, ``X-B3-Sampled``, ``X-B3-Flags``) and the single ``b3`` header
(``{traceid}-{spanid}[-{sampled}[-{parentspanid}]]``, or a bare decision ``0``, ``1``, ``d``).
When both are present the single header wins, as in Brave. Keys are matched case-insensitively, so
the same functions serve HTTP header views, lower-case gRPC metadata and NATS message headers (plain
``dict[str, str]`` with keys in any case). Headers are written with lower-case keys, which every
carrier accepts (gRPC metadata requires them).

``extract`` never raises: malformed input yields ``EMPTY`` and the caller starts a new trace.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import NamedTuple

from kit.context import TraceContext

TRACE_ID = "x-b3-traceid"
SPAN_ID = "x-b3-spanid"
PARENT_SPAN_ID = "x-b3-parentspanid"
SAMPLED = "x-b3-sampled"
FLAGS = "x-b3-flags"
SINGLE = "b3"

_FIRST = frozenset("bBxX")
_HEX = frozenset("0123456789abcdef")
_SAMPLED_VALUES: Mapping[str, bool] = {"1": True, "0": False, "true": True, "false": False}


class Extracted(NamedTuple):
    """What incoming B3 headers carried: a span context, or only a sampling decision, or nothing.

    ``context`` is the caller's span (its ``span_id`` becomes the parent of the span opened here).
    ``sampled`` is the caller's decision (None: decide here); ``debug`` forces sampling.
    """

    context: TraceContext | None = None
    sampled: bool | None = None
    debug: bool = False


EMPTY = Extracted()


def _valid_id(value: str, *, trace: bool = False) -> bool:
    """Whether ``value`` is a lower-hex 64-bit id (or 64/128-bit for a trace id), not all zeros."""
    if len(value) != 16 and not (trace and len(value) == 32):
        return False
    return _HEX.issuperset(value) and value.strip("0") != ""


def _b3_items(headers: Mapping[str, str]) -> dict[str, str]:
    """The B3 entries of ``headers`` with lower-cased keys and stripped, lower-cased values.

    The carrier is read in one pass over its items, so any key case matches. Asking a header view
    for each B3 key instead costs more: most requests carry none, and a ``Mapping.get`` that misses
    raises and catches a KeyError inside (the HTTP adapter's WSGI view builds its items in one pass
    over the environ for exactly this reader).
    """
    found: dict[str, str] = {}
    for key, value in headers.items():
        # Most carrier keys start with neither "b" nor "x": skip them before lower-casing.
        if not isinstance(key, str) or key[:1] not in _FIRST or not isinstance(value, str):
            continue
        lowered = key.lower()
        if lowered == SINGLE or lowered.startswith("x-b3-"):
            found[lowered] = value.strip().lower()
    return found


def _parse_single(value: str) -> Extracted:
    """Parse the single ``b3`` header value."""
    if value in ("0", "1", "d"):
        return Extracted(sampled=value != "0", debug=value == "d")
    parts = value.split("-")
    if len(parts) < 2 or len(parts) > 4:
        return EMPTY
    trace_id, span_id = parts[0], parts[1]
    if not (_valid_id(trace_id, trace=True) and _valid_id(span_id)):
        return EMPTY
    sampled: bool | None = None
    debug = False
    if len(parts) >= 3:
        flag = parts[2]
        if flag == "d":
            sampled, debug = True, True
        elif flag in ("0", "1"):
            sampled = flag == "1"
        else:
            return EMPTY
    parent_id = None
    if len(parts) == 4:
        parent_id = parts[3]
        if not _valid_id(parent_id):
            return EMPTY
    context = TraceContext(trace_id, span_id, parent_id, sampled, debug)
    return Extracted(context=context, sampled=sampled, debug=debug)


def _parse_multi(found: Mapping[str, str]) -> Extracted:
    """Parse the ``X-B3-*`` headers (already lower-cased by ``_b3_items``)."""
    debug = found.get(FLAGS) == "1"
    raw_sampled = found.get(SAMPLED)
    sampled = _SAMPLED_VALUES.get(raw_sampled) if raw_sampled is not None else None
    if debug:
        sampled = True
    trace_id = found.get(TRACE_ID)
    span_id = found.get(SPAN_ID)
    if trace_id is None and span_id is None:
        return Extracted(sampled=sampled, debug=debug) if sampled is not None else EMPTY
    if trace_id is None or span_id is None:
        return EMPTY
    if not (_valid_id(trace_id, trace=True) and _valid_id(span_id)):
        return EMPTY
    parent_id = found.get(PARENT_SPAN_ID) or None
    if parent_id is not None and not _valid_id(parent_id):
        return EMPTY
    context = TraceContext(trace_id, span_id, parent_id, sampled, debug)
    return Extracted(context=context, sampled=sampled, debug=debug)


def extract(headers: Mapping[str, str] | None) -> Extracted:
    """Read a B3 context from ``headers`` (any key case); malformed or absent input gives ``EMPTY``."""
    if headers is None:
        return EMPTY
    try:
        found = _b3_items(headers)
        if not found:
            return EMPTY
        single = found.get(SINGLE)
        if single is not None:
            parsed = _parse_single(single)
            if parsed is not EMPTY:
                return parsed
        return _parse_multi(found)
    except Exception:
        # A carrier that misbehaves while being read must never fail the request it came with.
        return EMPTY


def _sampled_flag(context: TraceContext) -> str | None:
    if context.debug:
        return "d"
    if context.sampled is None:
        return None
    return "1" if context.sampled else "0"


def inject(context: TraceContext, headers: MutableMapping[str, str]) -> None:
    """Write ``context`` as multi-header B3 (lower-case keys) into ``headers``."""
    headers[TRACE_ID] = context.trace_id
    headers[SPAN_ID] = context.span_id
    if context.parent_id is not None:
        headers[PARENT_SPAN_ID] = context.parent_id
    if context.debug:
        headers[FLAGS] = "1"
    elif context.sampled is not None:
        headers[SAMPLED] = "1" if context.sampled else "0"


def single_header(context: TraceContext) -> str:
    """The single ``b3`` header value for ``context``."""
    value = f"{context.trace_id}-{context.span_id}"
    flag = _sampled_flag(context)
    if flag is not None:
        value += f"-{flag}"
        if context.parent_id is not None:
            value += f"-{context.parent_id}"
    return value


def inject_single(context: TraceContext, headers: MutableMapping[str, str]) -> None:
    """Write ``context`` as the single ``b3`` header into ``headers`` (compact, for messaging)."""
    headers[SINGLE] = single_header(context)
