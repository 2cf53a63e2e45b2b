"""Listing prices and payment standards as plain code (R-CAT-6, R-CAT-7). No framework imports.

* The **national lowest price** (全国最低价) of a product is the lowest current price on any
  provincial-level centralised procurement platform; self-reported (自报价) and filing (备案价)
  prices do not count (R-CAT-6).
* A non-winning product is listed at **no more than** that price: a listing request above it is
  refused, and when a lower price is recorded anywhere the local listing price is lowered to
  match (同步调整); a higher one never raises it.
* A winning product's **payment standard** is its winning price, or the profile's category cap
  when that is lower (R-CAT-7).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

from contracts.money import to_money
from contracts.profiles import PaymentStandardPolicy, PolicyProfile

SourceType = Literal["platform", "self_reported", "filing"]
Coverage = Literal["full", "capped"]

ELIGIBLE_SOURCES: frozenset[str] = frozenset({"platform"})
"""R-CAT-6: only provincial-platform prices count toward the national lowest price."""


@dataclass(frozen=True)
class PriceObservation:
    """A price of one product seen on one provincial platform (or reported, or filed)."""

    platform: str
    price: Decimal
    observed_on: date
    source_type: SourceType = "platform"

    def __post_init__(self) -> None:
        if not self.platform.strip():
            raise ValueError("a price observation needs the platform it was seen on")
        price = to_money(self.price)
        if price <= 0:
            raise ValueError(f"a price must be positive, got {price}")
        object.__setattr__(self, "price", price)


class ListingPriceAboveNationalLowest(ValueError):
    """R-CAT-6: a non-winning product cannot be listed above the national lowest price."""

    problem_type = "listing-price-above-national-lowest"

    def __init__(self, requested: Decimal, national_lowest: Decimal) -> None:
        super().__init__(
            f"R-CAT-6: requested listing price {requested:.2f} is above the national lowest "
            f"price {national_lowest:.2f}; a non-winning product is listed at no more than "
            "the national lowest price"
        )
        self.requested = requested
        self.national_lowest = national_lowest


def national_lowest(observations: Iterable[PriceObservation]) -> Decimal | None:
    """R-CAT-6: the lowest current provincial-platform price, or None when there is none.

    Self-reported and filing prices are left out. Each platform counts with its latest
    observation (its current price; several on that day: the lowest of them), so a platform
    that raised its price no longer sets the lowest. Listing prices never rise with it:
    see :func:`price_after_observation`.
    """
    latest: dict[str, tuple[date, Decimal]] = {}
    for obs in observations:
        if obs.source_type not in ELIGIBLE_SOURCES:
            continue
        seen = latest.get(obs.platform)
        if (
            seen is None
            or obs.observed_on > seen[0]
            or (obs.observed_on == seen[0] and obs.price < seen[1])
        ):
            latest[obs.platform] = (obs.observed_on, obs.price)
    if not latest:
        return None
    return min(price for _, price in latest.values())


def capped_listing_price(requested: Decimal, national_lowest: Decimal | None) -> Decimal:
    """R-CAT-6: the listing price of a non-winning product, checked against the national lowest.

    At or below the national lowest price the requested price is the listing price; above it
    the request is refused (:class:`ListingPriceAboveNationalLowest`), never silently capped.
    With no eligible observation (``None``) there is nothing to cap against.
    """
    price = to_money(requested)
    if price <= 0:
        raise ValueError(f"a listing price must be positive, got {price}")
    if national_lowest is not None and price > national_lowest:
        raise ListingPriceAboveNationalLowest(price, to_money(national_lowest))
    return price


def price_after_observation(current: Decimal, new_lowest: Decimal | None) -> Decimal | None:
    """R-CAT-6 同步调整: the lowered listing price when a new national lowest undercuts the
    current one; None when nothing changes (no lowest, an equal one, or a higher one)."""
    if new_lowest is None:
        return None
    lowest = to_money(new_lowest)
    return lowest if lowest < to_money(current) else None


@dataclass(frozen=True)
class PaymentStandard:
    """R-CAT-7: the amount up to which the insurance fund pays for a winning product."""

    amount: Decimal
    coverage: Coverage
    note: str


def payment_standard(
    winning_price: Decimal, profile: PolicyProfile | PaymentStandardPolicy
) -> PaymentStandard:
    """R-CAT-7: a winning product's payment standard under the profile.

    'winning_price': the winning price, fully covered. 'category_cap': the winning price, or
    the cap when that is lower (Liaoning guide wires, cap 720.00: 730.00 -> 720.00 capped,
    690.00 -> 690.00 full).
    """
    policy = profile.payment_standard if isinstance(profile, PolicyProfile) else profile
    price = to_money(winning_price)
    if price <= 0:
        raise ValueError(f"a winning price must be positive, got {price}")
    cap = policy.cap if policy.rule == "category_cap" else None
    if cap is not None and cap < price:
        return PaymentStandard(
            amount=cap,
            coverage="capped",
            note=f"R-CAT-7: winning price {price:.2f} is above the category cap {cap:.2f}; "
            "the payment standard is the cap",
        )
    if cap is not None:
        note = f"R-CAT-7: winning price {price:.2f} is within the category cap {cap:.2f}"
    else:
        note = f"R-CAT-7: the payment standard is the winning price {price:.2f}, fully covered"
    return PaymentStandard(amount=price, coverage="full", note=note)
