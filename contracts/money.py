"""Money as it travels in contracts: a Decimal with exactly two places, a decimal string in JSON.

Never a float: a float in input is refused, because 0.1 + 0.2 is not money.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, PlainSerializer, WithJsonSchema

CENT = Decimal("0.01")
MONEY_PATTERN = r"^-?\d+(\.\d{1,2})?$"


def to_money(value: Any) -> Decimal:
    """Parse yuan from a decimal string, an int or a Decimal; at most two decimal places."""
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError("money must be a decimal string such as \"848.00\", not a float")
    if isinstance(value, int):
        value = Decimal(value)
    if isinstance(value, str):
        try:
            value = Decimal(value.strip())
        except InvalidOperation as exc:
            raise ValueError(f"not a decimal amount: {value!r}") from exc
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValueError("money must be a finite decimal amount")
    quantized = value.quantize(CENT)
    if quantized != value:
        raise ValueError(f"money has at most 2 decimal places, got {value}")
    return quantized


def to_fen(amount: Decimal) -> int:
    """Yuan (two places) to integer fen, exactly."""
    return int(to_money(amount) * 100)


def from_fen(fen: int) -> Decimal:
    """Integer fen to yuan with two places."""
    return (Decimal(fen) / 100).quantize(CENT)


Money = Annotated[
    Decimal,
    BeforeValidator(to_money),
    PlainSerializer(lambda d: f"{d:.2f}", return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": MONEY_PATTERN, "examples": ["848.00"]}),
]


MAX_PRICE = Decimal("1000000.00")
"""The highest unit price a request may carry (一百万元). Prices are kept as BIGINT fen, and an
amount is units (below 10⁹) × price: with this bound every amount fits with room to spare."""
_PRICE_PATTERN = r"^\d{1,7}(\.\d{1,2})?$"


def _price(value: Decimal) -> Decimal:
    if not Decimal(0) < value <= MAX_PRICE:
        raise ValueError(f"a price is more than 0.00 and at most {MAX_PRICE}, got {value}")
    return value


def _amount(value: Decimal) -> Decimal:
    if not Decimal(0) <= value <= MAX_PRICE:
        raise ValueError(f"an amount is 0.00 to {MAX_PRICE}, got {value}")
    return value


Price = Annotated[
    Decimal,
    BeforeValidator(to_money),
    AfterValidator(_price),
    PlainSerializer(lambda d: f"{d:.2f}", return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": _PRICE_PATTERN, "examples": ["848.00"],
                    "description": f"yuan, more than 0.00 and at most {MAX_PRICE}"}),
]
"""A unit price in a request: Money, more than zero and at most ``MAX_PRICE``."""

Amount = Annotated[
    Decimal,
    BeforeValidator(to_money),
    AfterValidator(_amount),
    PlainSerializer(lambda d: f"{d:.2f}", return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": _PRICE_PATTERN, "examples": ["50.00"],
                    "description": f"yuan, 0.00 to {MAX_PRICE}"}),
]
"""Money in a request that may be zero (a service price; an order's unit price, which R-CAT-5
compares with the listing price): 0.00 to ``MAX_PRICE``."""
