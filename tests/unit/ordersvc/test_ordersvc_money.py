"""Exact money: parsing, totals, cents, and JSON text that never passes through a float."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orders import jsontext, money

prices = st.decimals(min_value=0, max_value=money.MAX_UNIT_PRICE, places=2, allow_nan=False,
                     allow_infinity=False)
quantities = st.integers(min_value=1, max_value=1000)


def test_totals_are_exact_where_floats_are_not() -> None:
    assert 0.1 * 3 != 0.3
    assert money.total([(Decimal("0.10"), 3)]) == Decimal("0.30")
    assert money.format_amount(money.total([(Decimal("19.99"), 3), (Decimal("0.01"), 1)])) == "59.98"


@pytest.mark.parametrize("text", ["12.5", "12.50", "0", "1E+2", "999999.99"])
def test_parse_accepts_amounts_with_at_most_two_places(text: str) -> None:
    assert money.parse(text) == Decimal(text)
    assert money.parse(text).as_tuple().exponent == -2


@pytest.mark.parametrize("text", ["12.345", "NaN", "Infinity", "abc", "", "0.001"])
def test_parse_refuses_what_is_not_money(text: str) -> None:
    with pytest.raises(ValueError):
        money.parse(text)


def test_unit_price_rules() -> None:
    assert money.check_unit_price(Decimal("0")) is None
    assert money.check_unit_price(Decimal("-0.01")) == "must not be negative"
    assert "2 decimal places" in (money.check_unit_price(Decimal("1.001")) or "")
    assert "exceed" in (money.check_unit_price(money.MAX_UNIT_PRICE + Decimal("0.01")) or "")
    assert money.check_unit_price(Decimal("1.10000")) is None  # trailing zeros are still cents


@given(st.lists(st.tuples(prices, quantities), min_size=1, max_size=100))
def test_total_is_the_exact_sum_of_lines(lines: list[tuple[Decimal, int]]) -> None:
    total = money.total(lines)
    assert total == sum((p * q for p, q in lines), Decimal(0))
    assert total == sum((money.line_total(p, q) for p, q in lines), Decimal(0))
    assert money.is_money(total)


@given(prices, quantities)
def test_cents_round_trip(price: Decimal, quantity: int) -> None:
    amount = money.line_total(price, quantity)
    assert money.from_cents(money.to_cents(amount)) == amount
    assert isinstance(money.to_cents(amount), int)


@given(st.lists(st.tuples(prices, quantities), min_size=1, max_size=100))
def test_json_text_keeps_every_digit(lines: list[tuple[Decimal, int]]) -> None:
    total = money.total(lines)
    text = jsontext.dumps({"amount": total})
    parsed = jsontext.loads(text)["amount"]
    assert parsed == total
    assert text == '{"amount":' + money.format_amount(total) + "}"


def test_json_text_refuses_floats_and_non_finite_numbers() -> None:
    with pytest.raises(TypeError):
        jsontext.dumps({"amount": 1.5})
    with pytest.raises(ValueError):
        jsontext.dumps(Decimal("NaN"))


@pytest.mark.parametrize("text", ["{", "[" * 100_000, "NaN", '{"a": Infinity}', "1" * 5000, b"\xff"])
def test_json_text_loads_refuses_bad_documents_with_value_error(text: str | bytes) -> None:
    with pytest.raises(ValueError):
        jsontext.loads(text)
