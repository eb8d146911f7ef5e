from dataclasses import dataclass
from decimal import Decimal

import pydantic
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kit import codec, errors


@pydantic.with_config(pydantic.ConfigDict(extra="forbid"))
@dataclass(frozen=True)
class Item:
    code: str
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True)
class Order:
    customer_id: str
    items: list[Item]


def test_round_trip_keeps_exact_decimals():
    order = Order("c1", [Item("x", 2, Decimal("10.10"))])
    raw = codec.dumps(order)
    assert codec.loads(Order, raw) == order
    assert codec.encode(order) == {"customer_id": "c1",
                                   "items": [{"code": "x", "quantity": 2, "unit_price": "10.10"}]}


def test_malformed_json_names_the_body():
    with pytest.raises(errors.InvalidArgument) as info:
        codec.loads(Order, b'{"customer_id": ')
    assert [f.field for f in info.value.fields] == ["body"]


def test_every_bad_field_is_named_with_its_path():
    raw = b'{"customer_id": 5, "items": [{"code": "x", "quantity": "many", "unit_price": "1", "x": 1}]}'
    with pytest.raises(errors.InvalidArgument) as info:
        codec.loads(Order, raw)
    assert {f.field for f in info.value.fields} == {"customer_id", "items.0.quantity", "items.0.x"}


def test_missing_fields_are_named():
    with pytest.raises(errors.InvalidArgument) as info:
        codec.decode(Order, {"items": []})
    assert [f.field for f in info.value.fields] == ["customer_id"]


@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_raise_anything_but_invalid_argument(raw):
    try:
        codec.loads(Order, raw)
    except errors.InvalidArgument as error:
        assert error.fields
