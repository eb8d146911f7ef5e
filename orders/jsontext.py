"""JSON text with exact money: numbers parse as ``Decimal`` and ``Decimal`` values print as numbers.

The standard ``json`` module reads ``12.50`` as a float and cannot write a ``Decimal`` as a number;
the Go original's order JSON (and its workers) expect money as JSON numbers. ``loads`` keeps every
number's digits (``parse_float=Decimal``) and ``dumps`` writes ``Decimal`` as its exact decimal text,
so an amount crosses JSON without ever becoming a float.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

_encode_string = json.encoder.encode_basestring_ascii


class JSONDecodeFailure(ValueError):
    """The text is not JSON this module accepts (malformed, too deep, NaN / Infinity, huge ints)."""


def _reject_constant(name: str) -> Any:
    raise JSONDecodeFailure(f"{name} is not a JSON number")


def loads(text: str | bytes) -> Any:
    """Parse JSON text; non-integral numbers become ``Decimal`` (exact), integers ``int``."""
    try:
        return json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
    except JSONDecodeFailure:
        raise
    except (ValueError, RecursionError, UnicodeDecodeError) as exc:
        # ValueError covers malformed text and integers too long to convert; RecursionError a
        # document nested deeper than the parser can follow.
        raise JSONDecodeFailure(f"not valid JSON: {type(exc).__name__}") from None


def timestamp(value: datetime) -> str:
    """RFC 3339 UTC text with microseconds (``2024-05-01T12:00:00.000000Z``), as Go's time parses."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _scalar(value: Any) -> str | None:
    """The JSON text of a scalar, or None for a container."""
    kind = type(value)
    if kind is str:
        return str(_encode_string(value))
    if kind is Decimal:
        if not value.is_finite():
            raise ValueError(f"{value} cannot be written as a JSON number")
        return f"{value:f}"
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if kind is int:
        return int.__repr__(value)
    if isinstance(value, datetime):
        return str(_encode_string(timestamp(value)))
    if isinstance(value, str):  # subclasses, e.g. str-valued enums: their value, not their name
        return str(_encode_string(value))
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, Decimal):
        return _scalar(Decimal(value))
    return None


def _write(value: Any, out: list[str]) -> None:
    # Scalars are written inline, without a recursive call: most values of an order are scalars.
    text = _scalar(value)
    if text is not None:
        out.append(text)
    elif isinstance(value, Mapping):
        out.append("{")
        first = True
        for key, item in value.items():
            out.append(_encode_string(str(key)) + ":" if first else "," + _encode_string(str(key)) + ":")
            first = False
            text = _scalar(item)
            if text is None:
                _write(item, out)
            else:
                out.append(text)
        out.append("}")
    elif isinstance(value, Sequence):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            text = _scalar(item)
            if text is None:
                _write(item, out)
            else:
                out.append(text)
        out.append("]")
    else:
        raise TypeError(f"cannot write {type(value).__name__} as JSON")


def dumps(value: Any) -> str:
    """Compact JSON text of dicts, lists, strings, ints, bools, None, ``Decimal`` and ``datetime``.

    Floats are refused on purpose: money must never pass through one.
    """
    out: list[str] = []
    _write(value, out)
    return "".join(out)
