"""Listing prices and payment standards as plain values: R-CAT-6 and R-CAT-7 (EXAMPLES.md)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from contracts.profiles import PaymentStandardPolicy
from services.catalog.presets import CHONGQING_STENTS_2023, LIAONING_GUIDE_WIRES_2021
from services.catalog.pricing import (
    ListingPriceAboveNationalLowest,
    PaymentStandard,
    PriceObservation,
    capped_listing_price,
    national_lowest,
    payment_standard,
    price_after_observation,
)

D = Decimal
DAY = date(2024, 3, 1)


def obs(platform: str, price: str, source: str = "platform", on: date = DAY) -> PriceObservation:
    return PriceObservation(platform, D(price), on, source)  # type: ignore[arg-type]


# --- R-CAT-6 national lowest price -------------------------------------------------------------


def test_r_cat_6_example_self_reported_and_filing_prices_do_not_count() -> None:
    observations = [
        obs("A", "1000.00"),
        obs("self", "950.00", "self_reported"),
        obs("B", "980.00"),
        obs("filing", "960.00", "filing"),
    ]
    assert national_lowest(observations) == D("980.00")
    assert str(national_lowest(observations)) == "980.00"


def test_no_eligible_observation_gives_none() -> None:
    assert national_lowest([]) is None
    assert national_lowest([obs("s", "950.00", "self_reported"), obs("f", "960", "filing")]) is None


def test_equal_prices_on_two_platforms() -> None:
    assert national_lowest([obs("A", "980.00"), obs("B", "980")]) == D("980.00")


def test_each_platform_counts_with_its_latest_price() -> None:
    observations = [
        obs("A", "900.00", on=date(2024, 1, 1)),
        obs("A", "1000.00", on=date(2024, 2, 1)),  # A raised its price
        obs("B", "980.00", on=date(2024, 1, 15)),
    ]
    assert national_lowest(observations) == D("980.00")
    # two prices on A the same day: the lower one
    assert national_lowest([obs("A", "990"), obs("A", "970")]) == D("970.00")


def test_observations_refuse_floats_and_non_positive_prices() -> None:
    with pytest.raises(ValueError, match="float"):
        PriceObservation("A", 980.0, DAY)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive"):
        obs("A", "0")
    with pytest.raises(ValueError, match="2 decimal places"):
        obs("A", "980.001")
    with pytest.raises(ValueError, match="platform"):
        obs(" ", "980")


def test_capped_listing_price_accepts_at_or_below_the_national_lowest() -> None:
    assert capped_listing_price(D("980.00"), D("980.00")) == D("980.00")
    assert capped_listing_price(D("950"), D("980.00")) == D("950.00")
    assert capped_listing_price(D("1200.00"), None) == D("1200.00")


def test_capped_listing_price_refuses_above_the_national_lowest() -> None:
    with pytest.raises(ListingPriceAboveNationalLowest) as info:
        capped_listing_price(D("980.01"), D("980.00"))
    assert info.value.requested == D("980.01")
    assert info.value.national_lowest == D("980.00")
    assert "980.01" in str(info.value) and "980.00" in str(info.value)
    assert info.value.problem_type == "listing-price-above-national-lowest"


def test_a_lower_observation_lowers_the_listing_price() -> None:
    assert price_after_observation(D("980.00"), D("975.50")) == D("975.50")


def test_an_equal_or_higher_observation_changes_nothing() -> None:
    assert price_after_observation(D("980.00"), D("980.00")) is None
    assert price_after_observation(D("980.00"), D("1000.00")) is None
    assert price_after_observation(D("980.00"), None) is None


# --- R-CAT-7 payment standard ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("winning", "amount", "coverage"),
    [("730.00", "720.00", "capped"), ("690.00", "690.00", "full"), ("720.00", "720.00", "full")],
)
def test_r_cat_7_liaoning_category_cap(winning: str, amount: str, coverage: str) -> None:
    standard = payment_standard(D(winning), LIAONING_GUIDE_WIRES_2021)
    assert standard.amount == D(amount)
    assert standard.coverage == coverage
    assert "R-CAT-7" in standard.note


def test_r_cat_7_chongqing_winning_price_is_fully_covered() -> None:
    standard = payment_standard(D("848.00"), CHONGQING_STENTS_2023)
    assert standard == PaymentStandard(
        amount=D("848.00"), coverage="full",
        note="R-CAT-7: the payment standard is the winning price 848.00, fully covered")


def test_payment_standard_takes_the_policy_alone() -> None:
    policy = PaymentStandardPolicy(rule="category_cap", cap=D("720.00"))
    assert payment_standard(D("730"), policy).amount == D("720.00")
