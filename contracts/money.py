"""Money as it travels in contracts: a Decimal with exactly two places, a decimal string in JSON.

Never a float: a float in input is refused, because 0.1 + 0.2 is not money.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

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
