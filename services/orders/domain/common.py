"""What the rule modules share: exact money arithmetic, checks of counts and ratios, numbers
shown to people, and the digest that stable ids are made of. No framework imports."""

from __future__ import annotations

import hashlib
from decimal import Context, Decimal, Inexact, InvalidOperation, Overflow
from fractions import Fraction

CENT = Decimal("0.01")


def _exact() -> Context:
    """A context in which any rounding is an error (money arithmetic stays exact)."""
    return Context(prec=60, traps=[Inexact, InvalidOperation, Overflow])


def _check_count(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be a whole number of units, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value}")


def _check_positive(name: str, value: object) -> None:
    _check_count(name, value)
    assert isinstance(value, int)
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")


def _check_ratio(name: str, value: Decimal | None) -> None:
    if value is None:
        return
    if not isinstance(value, Decimal) or not value.is_finite() or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a Decimal between 0 and 1, got {value!r}")


def _plain(number: Decimal) -> str:
    return f"{number.normalize():f}" if number == number.to_integral_value() else f"{number:f}"


def _percent(ratio: Decimal) -> str:
    return f"{(ratio * 100).normalize():f} %"


def _number(value: Fraction) -> str:
    """A fraction for people: whole numbers as such, others to 2 places (display only)."""
    if value.denominator == 1:
        return str(value.numerator)
    shown = Decimal(value.numerator) / Decimal(value.denominator)
    return f"{shown.quantize(CENT):f}"



def _digest(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()
