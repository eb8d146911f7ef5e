"""Exact money: ``Decimal`` amounts with at most two decimal places, never ``float``.

Prices and totals are plain ``Decimal`` values. Storage keeps them as whole cents (integers are exact
on every SQL backend, unlike SQLite's REAL-backed NUMERIC); the wire shows them as decimal text
with exactly two places (``"12.50"`` in protobuf, ``12.50`` as a JSON number).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
MAX_UNIT_PRICE = Decimal("1000000.00")
"""The largest unit price accepted; with ``domain.MAX_QUANTITY`` and ``domain.MAX_ITEMS`` it bounds
an order's amount to fifteen significant digits."""


def is_money(value: Decimal) -> bool:
    """Whether ``value`` is a finite amount with at most two decimal places."""
    if not value.is_finite():
        return False
    exponent = value.normalize().as_tuple().exponent
    return isinstance(exponent, int) and exponent >= -2


def check_unit_price(value: Decimal) -> str | None:
    """Why ``value`` is not an acceptable unit price, or None if it is."""
    if not is_money(value):
        return "must be a number with at most 2 decimal places"
    if value < 0:
        return "must not be negative"
    if value > MAX_UNIT_PRICE:
        return f"must not exceed {MAX_UNIT_PRICE}"
    return None


def parse(text: str) -> Decimal:
    """Parse decimal text (``"12.5"``) into an amount; ValueError unless finite with <= 2 places."""
    try:
        value = Decimal(text)
    except (InvalidOperation, TypeError):
        raise ValueError(f"not a decimal number: {text!r}") from None
    if not is_money(value):
        raise ValueError(f"not an amount with at most 2 decimal places: {text!r}")
    return quantize(value)


def quantize(value: Decimal) -> Decimal:
    """The amount with exactly two decimal places (``12.5`` -> ``12.50``); exact for money values."""
    return value.quantize(CENT)


def line_total(unit_price: Decimal, quantity: int) -> Decimal:
    """The price of ``quantity`` units: exact, two decimal places."""
    return quantize(unit_price * quantity)


def total(lines: Iterable[tuple[Decimal, int]]) -> Decimal:
    """The sum of ``unit_price x quantity`` over ``(unit_price, quantity)`` pairs."""
    return quantize(sum((unit_price * quantity for unit_price, quantity in lines), ZERO))


def to_cents(value: Decimal) -> int:
    """An amount as whole cents (``12.50`` -> ``1250``); ValueError for sub-cent amounts."""
    cents = value * 100
    if cents != cents.to_integral_value():
        raise ValueError(f"{value} has fractions of a cent")
    return int(cents)


def from_cents(cents: int) -> Decimal:
    """Whole cents as an amount (``1250`` -> ``12.50``)."""
    return quantize(Decimal(cents) / 100)


def format_amount(value: Decimal) -> str:
    """Decimal text with exactly two places, never in exponent form (``1E+2`` -> ``"100.00"``)."""
    return f"{quantize(value):f}"
