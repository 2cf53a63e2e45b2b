"""Placing an order decided with plain values (issue #13 item 2): ``domain.decide_order`` reads
the context and the earlier orders of the transaction and returns a decision or raises a
domain refusal; nothing is written (R-CAT-5, R-CAT-8, R-PRG-2, R-PRG-3, R-AGR-4/5/6)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal

import pytest

from services.orders import errors
from services.orders.domain import (
    AgreementVolume,
    Earlier,
    InstitutionNotInRegion,
    ListingFacts,
    ListingSuspended,
    OrderClass,
    OutsideCycle,
    PacingPolicy,
    PlacementContext,
    PlaceOrder,
    PriceMismatch,
    ProgramFacts,
    UnknownListing,
    UnknownProgram,
    decide_order,
)
from services.runtime.clock import SHANGHAI

START = datetime(2023, 1, 31, tzinfo=SHANGHAI)
NOW = datetime(2023, 3, 10, 9, 0, tzinfo=SHANGHAI)  # agreement year 1, month 2 (02-28…03-31)
PRICE = Decimal("848.00")
LISTING = ListingFacts(listing_id="L-1", program_id="P-CQ", status="listed",
                       suspended_reason=None, listing_price=PRICE, registration_no="国械注准1",
                       enterprise_id="E-1", winning=True)
PROGRAM = ProgramFacts(program_id="P-CQ", region="重庆", execution_start=START, cycle_years=3,
                       pacing=None)


def context(*, listing: ListingFacts | None = LISTING, program: ProgramFacts | None = PROGRAM,
            now: datetime = NOW, volumes: dict[int, AgreementVolume] | None = None,
            institution_region: str | None = None,
            region_has_register: bool = False) -> PlacementContext:
    return PlacementContext(now=now, listing=listing, program=program,
                            institution_region=institution_region,
                            region_has_register=region_has_register, volumes=volumes or {})


def order(units: int = 10, price: Decimal = PRICE) -> PlaceOrder:
    return PlaceOrder(institution_id="H-1", listing_id="L-1", units=units, unit_price=price)


def volume(units: int, *, ordered: dict[int, int] | None = None, committed: int = 0,
           warned: int | None = None) -> AgreementVolume:
    return AgreementVolume(units=units, ordered=ordered or {}, committed=committed,
                           last_warned_month=warned)


def test_within_the_remaining_agreement_volume() -> None:
    """R-AGR-4: 10 units fit in 100 − 30 committed."""
    decision = decide_order(context(volumes={1: volume(100, committed=30)}), order(), Earlier())
    assert decision.order_class is OrderClass.WITHIN_AGREEMENT
    assert (decision.month.year, decision.month.month) == (1, 2)
    assert (decision.units_within, decision.units_beyond) == (10, 0)
    assert decision.amount == Decimal("8480.00")
    assert decision.key == ("H-1", "P-CQ", "国械注准1", 1)


def test_an_order_straddling_the_remaining_volume_is_beyond_and_split_for_counting() -> None:
    """R-AGR-4: one order, one price; 4 units within, 6 beyond."""
    decision = decide_order(context(volumes={1: volume(100, committed=96)}), order(), Earlier())
    assert decision.order_class is OrderClass.BEYOND_AGREEMENT
    assert (decision.units_within, decision.units_beyond) == (4, 6)
    assert decision.unit_price == PRICE


def test_no_agreement_this_year_and_non_winning() -> None:
    """R-AGR-4: no volume this year (only another year's) is no_agreement; R-AGR-5: a
    non-winning listing counts apart whatever the agreement."""
    assert decide_order(context(volumes={2: volume(100)}), order(), Earlier()
                        ).order_class is OrderClass.NO_AGREEMENT
    non_winning = replace(LISTING, winning=False)
    decision = decide_order(context(listing=non_winning, volumes={1: volume(100)}), order(),
                            Earlier())
    assert decision.order_class is OrderClass.NON_WINNING
    assert (decision.units_within, decision.units_beyond) == (0, 0)


def test_earlier_orders_of_the_transaction_spend_the_volume() -> None:
    """R-AGR-4: ten open orders cannot all be within: the second sees the first's units."""
    earlier = Earlier()
    ctx = context(volumes={1: volume(15)})
    first = decide_order(ctx, order(10), earlier)
    earlier.add(first, warned=False)
    second = decide_order(ctx, order(10), earlier)
    assert first.order_class is OrderClass.WITHIN_AGREEMENT
    assert second.order_class is OrderClass.BEYOND_AGREEMENT
    assert (second.units_within, second.units_beyond) == (5, 5)


@pytest.mark.parametrize(("ctx", "command", "refusal", "problem"), [
    (context(listing=None), order(), UnknownListing, errors.UNKNOWN_LISTING),
    (context(program=None), order(), UnknownProgram, errors.UNKNOWN_PROGRAM),
    (context(listing=replace(LISTING, status="suspended", suspended_reason="recall")),
     order(), ListingSuspended, errors.LISTING_SUSPENDED),
    (context(), order(price=Decimal("847.99")), PriceMismatch, errors.PRICE_MISMATCH),
    (context(region_has_register=True, institution_region="四川"), order(),
     InstitutionNotInRegion, errors.INSTITUTION_NOT_IN_REGION),
    (context(region_has_register=True, institution_region=None), order(),
     InstitutionNotInRegion, errors.INSTITUTION_NOT_IN_REGION),
    (context(now=datetime(2026, 1, 31, tzinfo=SHANGHAI)), order(), OutsideCycle,
     errors.OUTSIDE_CYCLE),
    (context(now=datetime(2023, 1, 30, 23, 59, tzinfo=SHANGHAI)), order(), OutsideCycle,
     errors.OUTSIDE_CYCLE),
])
def test_refusals_are_domain_errors_mapped_to_their_problems(
        ctx: PlacementContext, command: PlaceOrder, refusal: type[Exception],
        problem: errors.Refusal) -> None:
    """R-CAT-5 (listed, exact price), R-CAT-8 (suspended), R-PRG-3 (register), R-PRG-2
    (cycle bounds: start inclusive, end exclusive)."""
    with pytest.raises(refusal) as raised:
        decide_order(ctx, command, Earlier())
    answer = errors.placement_refused(raised.value)  # type: ignore[arg-type]
    assert (answer.status, answer.type, answer.title) == (problem.status, problem.slug,
                                                          problem.title)
    assert answer.detail == str(raised.value)


def test_a_registered_institution_of_the_region_may_order() -> None:
    """R-PRG-3: the register's own institutions are taken."""
    decision = decide_order(context(region_has_register=True, institution_region="重庆"),
                            order(), Earlier())
    assert decision.order_class is OrderClass.NO_AGREEMENT


PACED = replace(PROGRAM, pacing=PacingPolicy())


def test_pacing_judges_the_open_month_with_the_order_in_it() -> None:
    """R-AGR-6: annual 120 → monthly share 10, limit 2 × 10 = 20; 15 already this month plus
    10 is 25 > 20: a monthly breach (and 25 + 0 ahead of the line 20 by 5, within 30)."""
    ctx = context(program=PACED, volumes={1: volume(120, ordered={2: 15}, committed=15)})
    decision = decide_order(ctx, order(10), Earlier())
    assert [w.check for w in decision.pacing_warnings] == ["monthly"]
    assert decision.monthly_orders == (0, 25)
    assert decision.annual_units == 120


def test_pacing_is_not_judged_again_for_a_month_already_warned() -> None:
    """R-AGR-6: one warning per month, whichever path comes first."""
    ctx = context(program=PACED, volumes={1: volume(120, ordered={2: 15}, committed=15,
                                                    warned=2)})
    assert decide_order(ctx, order(10), Earlier()).pacing_warnings == ()
    earlier = Earlier()
    fresh = context(program=PACED, volumes={1: volume(120, ordered={2: 15}, committed=15)})
    first = decide_order(fresh, order(10), earlier)
    earlier.add(first, warned=True)
    assert decide_order(fresh, order(10), earlier).pacing_warnings == ()


def test_pacing_is_not_judged_without_policy_volume_or_winning_product() -> None:
    """R-AGR-6: only profiles with pacing, winning products with an agreement volume."""
    busy = {1: volume(120, ordered={2: 15}, committed=15)}
    assert decide_order(context(volumes=busy), order(10), Earlier()).pacing_warnings == ()
    assert decide_order(context(program=PACED), order(50), Earlier()).pacing_warnings == ()
