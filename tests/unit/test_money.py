"""contracts.money: yuan as exact two-place decimals, decimal strings on the wire."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from pydantic import BaseModel, ValidationError

from contracts.money import MONEY_PATTERN, Money, from_fen, to_fen, to_money


class Priced(BaseModel):
    amount: Money


@pytest.mark.parametrize("value", [848.0, 0.1, 730.5, float("nan")])
def test_floats_are_refused(value: float) -> None:
    with pytest.raises(ValidationError, match="not a float"):
        Priced(amount=value)  # type: ignore[arg-type]


def test_json_number_with_a_fraction_is_refused() -> None:
    with pytest.raises(ValidationError):
        Priced.model_validate_json('{"amount": 848.00}')


def test_bool_is_refused() -> None:
    with pytest.raises(ValidationError):
        Priced(amount=True)  # type: ignore[arg-type]


def test_decimal_string_round_trips() -> None:
    priced = Priced.model_validate_json('{"amount": "848.00"}')
    assert priced.amount == Decimal("848.00")
    assert json.loads(priced.model_dump_json()) == {"amount": "848.00"}
    assert Priced.model_validate_json(priced.model_dump_json()) == priced


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("848", "848.00"),
        ("848.1", "848.10"),
        (" 12.34 ", "12.34"),
        (730, "730.00"),
        (Decimal("0.5"), "0.50"),
        ("-3.20", "-3.20"),
    ],
)
def test_accepted_amounts_get_two_places(value: object, expected: str) -> None:
    assert str(to_money(value)) == expected


@pytest.mark.parametrize("value", ["848.005", "0.001", Decimal("1.999")])
def test_three_decimal_places_are_refused(value: object) -> None:
    with pytest.raises(ValueError, match="at most 2 decimal places"):
        to_money(value)
    with pytest.raises(ValidationError):
        Priced(amount=value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["abc", "", "Infinity", "NaN", None, [1]])
def test_non_amounts_are_refused(value: object) -> None:
    with pytest.raises(ValueError):
        to_money(value)


def test_fen_conversions_are_exact() -> None:
    assert to_fen(Decimal("0.10") + Decimal("0.20")) == 30
    assert to_fen(Decimal("848.00")) == 84800
    assert to_fen(Decimal("0.01")) == 1
    assert to_fen(Decimal("-3.20")) == -320
    assert to_fen(Decimal("12345678901234567.89")) == 1234567890123456789
    assert from_fen(1) == Decimal("0.01")
    assert str(from_fen(84800)) == "848.00"
    assert str(from_fen(-320)) == "-3.20"
    assert from_fen(1234567890123456789) == Decimal("12345678901234567.89")
    for fen in (0, 1, 99, 100, 73000, 10**15 + 7):
        assert to_fen(from_fen(fen)) == fen


def test_to_fen_refuses_sub_fen_amounts() -> None:
    with pytest.raises(ValueError):
        to_fen(Decimal("0.005"))


def test_json_serialisation_gives_a_two_place_string() -> None:
    priced = Priced(amount=Decimal("730"))
    assert priced.model_dump_json() == '{"amount":"730.00"}'
    assert priced.model_dump(mode="json") == {"amount": "730.00"}
    assert priced.model_dump() == {"amount": Decimal("730.00")}


def test_json_schema_is_a_decimal_string() -> None:
    schema = Priced.model_json_schema(mode="serialization")["properties"]["amount"]
    assert schema["type"] == "string"
    assert schema["pattern"] == MONEY_PATTERN
