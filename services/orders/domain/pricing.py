"""R-CAT-5, R-AGR-4, R-AGR-5: order pricing at exactly the listing price, the amount, and the
class an order counts in."""

from __future__ import annotations

from decimal import Decimal, localcontext
from enum import StrEnum

from services.orders.domain.common import (
    CENT,
    _check_count,
    _check_positive,
    _exact,
)
from services.orders.domain.rows import MAX_UNITS
from services.runtime.texts import text

MAX_PRICE = Decimal(10**12)
"""No unit price is this large (yuan); a bigger one is refused rather than computed."""


class PriceMismatch(Exception):
    """R-CAT-5: an order's unit price differs from the listing price (no second negotiation,
    不得再次议价), by any amount."""

    def __init__(self, unit_price: Decimal, listing_price: Decimal) -> None:
        self.unit_price = unit_price
        self.listing_price = listing_price
        super().__init__(text(
            "unit price {unit_price} differs from the listing price {listing_price}: orders are "
            "placed at exactly the listing price (R-CAT-5, no second negotiation)",
            unit_price=unit_price, listing_price=listing_price))


def check_order_price(unit_price: Decimal, listing_price: Decimal) -> None:
    """R-CAT-5: refuse an order whose unit price is not exactly the listing price.

    Compared as numbers (``848`` is ``848.00``); one fen off, or a thousandth, is refused.
    Non-finite or float prices are a ``ValueError``.
    """
    for name, price in (("unit_price", unit_price), ("listing_price", listing_price)):
        if not isinstance(price, Decimal) or not price.is_finite():
            raise ValueError(f"{name} must be a finite Decimal, got {price!r}")
    if unit_price != listing_price:
        raise PriceMismatch(unit_price, listing_price)


def order_amount(units: int, unit_price: Decimal) -> Decimal:
    """Units × unit price in yuan, exactly, with two places (``3 × 848.00 = 2544.00``).

    The price must be a non-negative ``Decimal`` of whole fen; units a whole number >= 0 (0
    gives 0.00, e.g. for an acceptance total). No rounding ever happens: a result that cannot
    be exact is an error.
    """
    _check_count("units", units)
    if not isinstance(unit_price, Decimal) or not unit_price.is_finite():
        raise ValueError(f"unit_price must be a finite Decimal, got {unit_price!r}")
    if not 0 <= unit_price < MAX_PRICE:
        raise ValueError(f"unit_price must be between 0 and {MAX_PRICE}, got {unit_price}")
    if unit_price.quantize(CENT) != unit_price:  # safe: < MAX_PRICE fits any precision
        raise ValueError(f"unit_price has at most 2 decimal places, got {unit_price}")
    if units >= MAX_UNITS:
        raise ValueError(f"units {units} is too large (at most {MAX_UNITS - 1})")
    with localcontext(_exact()):
        return (unit_price * units).quantize(CENT)


class OrderClass(StrEnum):
    """How an order counts (R-AGR-4, R-AGR-5)."""

    WITHIN_AGREEMENT = "within_agreement"
    """A winning product, inside the institution's remaining agreement volume."""
    BEYOND_AGREEMENT = "beyond_agreement"
    """A winning product beyond the agreement volume: still at the winning price (R-AGR-4)."""
    NO_AGREEMENT = "no_agreement"
    """A winning product for an institution without agreement volume: still supplied (R-AGR-4)."""
    NON_WINNING = "non_winning"
    """Another listed product of the category at its listing price, counted apart (R-AGR-5)."""


def classify_order(units: int, agreement_remaining: int | None, winning: bool) -> OrderClass:
    """R-AGR-4 / R-AGR-5: the class of an order placed now.

    ``agreement_remaining`` is the institution's remaining agreement volume with the product's
    enterprise (:func:`remaining`) before this order; ``None`` means it has no agreement volume
    at all (0 means it had one and has completed it). ``winning`` is whether the listing is a
    winning product; a non-winning one is ``non_winning`` whatever the agreement.

    An order that straddles the remaining volume (10 units with 4 remaining) is *not* split
    into two orders: it is one order at one price (the winning price either way) with one
    lifecycle, classed ``beyond_agreement`` because it does not fit. How many of its units
    fall within and beyond is :func:`split_units`, for counting.
    """
    _check_positive("units", units)
    if agreement_remaining is not None:
        _check_count("agreement_remaining", agreement_remaining)
    if not winning:
        return OrderClass.NON_WINNING
    if agreement_remaining is None:
        return OrderClass.NO_AGREEMENT
    if units <= agreement_remaining:
        return OrderClass.WITHIN_AGREEMENT
    return OrderClass.BEYOND_AGREEMENT


def split_units(units: int, agreement_remaining: int | None) -> tuple[int, int]:
    """(units within, units beyond) the remaining agreement volume, for an order of a winning
    product: 10 units with 4 remaining → (4, 6); no agreement (``None``) → (0, units)."""
    _check_positive("units", units)
    if agreement_remaining is None:
        return 0, units
    _check_count("agreement_remaining", agreement_remaining)
    within = min(units, agreement_remaining)
    return within, units - within
