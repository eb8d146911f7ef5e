"""Generic JSON codecs between wire bytes / dicts and typed request and response dataclasses.

One codec serves every endpoint of every transport, so no service writes per-method encode/decode
boilerplate. Validation is pydantic's (``TypeAdapter`` over plain dataclasses, cached per type); its
errors become ``InvalidArgument`` with one ``FieldViolation`` per bad field, using dotted paths such as
``order_items.0.quantity``. Extra fields are rejected when the dataclass opts in with
``@pydantic.with_config(extra="forbid")``.
"""

from __future__ import annotations

from typing import Any, TypeVar

import pydantic

from kit.errors import FieldViolation, InvalidArgument

T = TypeVar("T")


_ADAPTERS: dict[Any, pydantic.TypeAdapter[Any]] = {}


def _adapter(cls: Any) -> pydantic.TypeAdapter[Any]:
    # A plain dict: types are few and long-lived, and a dict lookup is the cheapest cache.
    adapter = _ADAPTERS.get(cls)
    if adapter is None:
        adapter = _ADAPTERS[cls] = pydantic.TypeAdapter(cls)
    return adapter


def _violations(exc: pydantic.ValidationError) -> list[FieldViolation]:
    violations = []
    for error in exc.errors(include_url=False, include_input=False):
        path = ".".join(str(part) for part in error["loc"])
        violations.append(FieldViolation(path or "body", error["msg"]))
    return violations


def decode(cls: type[T], data: object) -> T:
    """Validate a JSON-like value (dicts, lists, scalars) into ``cls``; bad input raises
    ``InvalidArgument`` naming each field at fault."""
    try:
        return _adapter(cls).validate_python(data)  # type: ignore[no-any-return]
    except pydantic.ValidationError as exc:
        raise InvalidArgument(fields=_violations(exc)) from None


def loads(cls: type[T], raw: bytes | str) -> T:
    """Parse JSON text into ``cls``; malformed JSON or bad fields raise ``InvalidArgument``."""
    try:
        return _adapter(cls).validate_json(raw)  # type: ignore[no-any-return]
    except pydantic.ValidationError as exc:
        violations = _violations(exc)
        if any(v.message.startswith("Invalid JSON") for v in violations):
            raise InvalidArgument("body is not valid JSON", fields=[
                FieldViolation("body", "not valid JSON")
            ]) from None
        raise InvalidArgument(fields=violations) from None


def encode(obj: object) -> Any:
    """Turn a dataclass (or any value pydantic can dump) into JSON-compatible Python values."""
    return _adapter(type(obj)).dump_python(obj, mode="json")


def dumps(obj: object) -> bytes:
    """Serialize a dataclass (or any value pydantic can dump) to compact JSON bytes."""
    return _adapter(type(obj)).dump_json(obj)
