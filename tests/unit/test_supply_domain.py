"""Supply rules as plain values: assignments (R-SUP-1), accounts (R-SUP-2, R-AGR-7), routing and
delivery (R-SUP-3, R-SUP-5, R-AGR-4), violation list (R-SUP-4) and credit bars (R-CRD-3)."""

from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest

from services.runtime.clock import SHANGHAI
from services.supply.domain import (
    BAR_YEARS_2025,
    AccountStatus,
    Assignment,
    Bar,
    CalendarYears,
    DeliveredOrder,
    Distributor,
    DistributorAccount,
    Gap,
    NotYourOrder,
    OpenAccountItem,
    OrderToRoute,
    QuantityError,
    RiskReason,
    Routed,
    Scope,
    ShipmentState,
    SupplyRisk,
    TimeOrderError,
    apply_bar,
    assignment_problems,
    bar_distributor,
    bar_period_for_level,
    credit_bar_until,
    delivery_stats,
    delivery_time,
    hours,
    is_qualified,
    lift_bar,
    open_items,
    resolve_assignment,
    revoke,
    route,
    to_decimal,
    validate_assignment,
)


def sh(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


START = sh(2023, 1, 31)
NOW = sh(2023, 3, 1, 9)
ENT = "E-MICROPORT"
ENT2 = "E-MEDTRONIC"
STENT = "国械注准20163132305"
STENT2 = "国械注进20163130682"
REGION = "重庆"
H1, H2 = "H-1", "H-2"

DISTRIBUTORS = {
    d.distributor_id: d
    for d in (
        Distributor("D-1", "渝药配送"),
        Distributor("D-2", "川渝医械"),
        Distributor("D-3", "西南物流"),
    )
}


def assign(
    assignment_id: str,
    distributor_id: str,
    *,
    institution: str | None = H1,
    region: str | None = None,
    enterprise: str = ENT,
    product: str = STENT,
    valid_from: datetime = START,
    valid_until: datetime | None = None,
    revoked_at: datetime | None = None,
) -> Assignment:
    scope = Scope.INSTITUTION if institution is not None else Scope.REGION
    return Assignment(
        assignment_id, enterprise, product, distributor_id, scope, institution, region,
        valid_from, valid_until, revoked_at,
    )


def regional(assignment_id: str, distributor_id: str, **kw: object) -> Assignment:
    kw.setdefault("region", REGION)
    return assign(assignment_id, distributor_id, institution=None, **kw)  # type: ignore[arg-type]


def order(
    order_id: str = "O-1",
    *,
    institution: str = H1,
    region: str = REGION,
    enterprise: str = ENT,
    product: str = STENT,
    quantity: int = 10,
    placed_at: datetime = NOW,
) -> OrderToRoute:
    return OrderToRoute(order_id, enterprise, product, institution, region, quantity, placed_at)


def resolve(
    assignments: list[Assignment],
    *,
    at: datetime = NOW,
    institution: str | None = H1,
    region: str | None = REGION,
    distributors: dict[str, Distributor] = DISTRIBUTORS,
) -> Assignment | None:
    return resolve_assignment(
        assignments, enterprise_id=ENT, registration_no=STENT, institution_id=institution,
        region=region, at=at, distributors=distributors,
    )


def barred(distributor_id: str, until: datetime, since: datetime | None = None) -> dict[
    str, Distributor
]:
    return {
        **DISTRIBUTORS,
        distributor_id: replace(
            DISTRIBUTORS[distributor_id], barred_from=since, barred_until=until
        ),
    }


# --- distributors and bars (R-SUP-4) ---------------------------------------------------------


def test_r_sup_4_unbarred_distributor_is_qualified() -> None:
    assert is_qualified(Distributor("D-1", "渝药配送", True, None), NOW)


def test_r_sup_4_distributor_without_standing_qualification_is_unqualified() -> None:
    assert not is_qualified(Distributor("D-1", "渝药配送", False, None), NOW)


def test_r_sup_4_barred_distributor_is_unqualified_until_the_bar_ends() -> None:
    d = Distributor("D-1", "渝药配送", True, sh(2024, 3, 1))
    assert not is_qualified(d, NOW)
    assert not is_qualified(d, sh(2024, 2, 29, 23, 59))
    assert is_qualified(d, sh(2024, 3, 1))  # the end is exclusive


def test_r_sup_4_bar_that_has_not_started_does_not_disqualify_yet() -> None:
    d = Distributor("D-1", "渝药配送", True, sh(2024, 3, 1), barred_from=sh(2023, 6, 1))
    assert is_qualified(d, NOW)
    assert not is_qualified(d, sh(2023, 6, 1))


def test_r_sup_4_lifting_restores_qualification_and_keeps_the_bar_history() -> None:
    d = apply_bar(DISTRIBUTORS["D-1"], Bar("D-1", NOW, sh(2026, 3, 1), "违规"))
    lifted = lift_bar(d, sh(2023, 6, 1))
    assert is_qualified(lifted, sh(2023, 6, 1))
    assert not is_qualified(lifted, sh(2023, 5, 1))  # it was barred then
    assert lift_bar(lifted, sh(2023, 7, 1)) == lifted  # lifting twice: nothing new


def test_r_sup_4_lifting_a_bar_not_yet_started_drops_it() -> None:
    d = Distributor("D-1", "渝药配送", True, sh(2024, 3, 1), barred_from=sh(2023, 6, 1))
    lifted = lift_bar(d, NOW)
    assert lifted.barred_from is None and lifted.barred_until is None


def test_r_sup_4_lifting_does_not_grant_standing_qualification() -> None:
    d = Distributor("D-1", "渝药配送", False, sh(2024, 3, 1))
    assert not is_qualified(lift_bar(d, NOW), NOW)


def test_r_sup_4_applying_the_same_bar_twice_changes_nothing() -> None:
    bar = Bar("D-1", NOW, sh(2024, 3, 1), "违规")
    once = apply_bar(DISTRIBUTORS["D-1"], bar)
    assert apply_bar(once, bar) == once


def test_r_sup_4_overlapping_bars_merge_to_the_later_end() -> None:
    once = apply_bar(DISTRIBUTORS["D-1"], Bar("D-1", NOW, sh(2024, 3, 1), "违规"))
    twice = apply_bar(once, Bar("D-1", sh(2023, 4, 1), sh(2026, 4, 1), "失信"))
    assert twice.barred_from == NOW and twice.barred_until == sh(2026, 4, 1)
    shorter = apply_bar(twice, Bar("D-1", sh(2023, 5, 1), sh(2023, 6, 1), "违规"))
    assert shorter.barred_until == sh(2026, 4, 1)


def test_bar_for_another_distributor_is_refused() -> None:
    with pytest.raises(ValueError):
        apply_bar(DISTRIBUTORS["D-1"], Bar("D-2", NOW, sh(2024, 3, 1), "违规"))


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError):
        is_qualified(DISTRIBUTORS["D-1"], datetime(2023, 3, 1))


# --- credit-driven bar periods (R-CRD-3) ------------------------------------------------------


@pytest.mark.parametrize(("level", "years"), [("失信", 1), ("严重失信", 3), ("特别严重失信", 5)])
def test_r_crd_3_bar_period_by_level_2025(level: str, years: int) -> None:
    assert bar_period_for_level(level) == CalendarYears(years)
    assert credit_bar_until(level, NOW) == sh(2023 + years, 3, 1, 9)


def test_r_crd_3_bar_years_are_calendar_years_in_shanghai() -> None:
    # 20:00Z on 28 Feb 2024 is 04:00 on 29 Feb in Shanghai; one year later: 28 Feb 2025 04:00
    until = credit_bar_until("失信", datetime(2024, 2, 28, 20, tzinfo=UTC))
    assert until == sh(2025, 2, 28, 4)
    assert until.tzinfo is UTC


def test_r_crd_3_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="一般"):
        bar_period_for_level("一般")


def test_r_crd_3_table_is_a_profile_parameter() -> None:
    table = {"严重": 2}
    assert bar_period_for_level("严重", table) == CalendarYears(2)
    assert BAR_YEARS_2025 == {"失信": 1, "严重失信": 3, "特别严重失信": 5}
    with pytest.raises(ValueError):
        bar_period_for_level("x", {"x": -1})


# --- resolving assignments (R-SUP-1) ----------------------------------------------------------


def test_r_sup_1_institution_assignment_wins_over_regional() -> None:
    own, region = assign("A-1", "D-1"), regional("A-2", "D-2", valid_from=sh(2023, 2, 1))
    assert resolve([region, own]) == own
    assert resolve([own, region]) == own


def test_r_sup_1_regional_assignment_serves_institutions_without_their_own() -> None:
    region = regional("A-2", "D-2")
    assert resolve([assign("A-1", "D-1"), region], institution=H2) == region


def test_r_sup_1_regional_assignment_serves_only_its_region() -> None:
    assert resolve([regional("A-2", "D-2", region="辽宁")]) is None


def test_r_sup_1_other_enterprise_or_product_is_not_used() -> None:
    assert resolve([assign("A-1", "D-1", enterprise=ENT2), assign("A-2", "D-1",
                                                                  product=STENT2)]) is None


def test_r_sup_1_expired_assignment_is_ignored() -> None:
    old = assign("A-1", "D-1", valid_until=NOW)  # exclusive: over at NOW
    region = regional("A-2", "D-2")
    assert resolve([old]) is None
    assert resolve([old, region]) == region
    assert resolve([old], at=NOW - timedelta(seconds=1)) == old


def test_r_sup_1_not_yet_valid_assignment_is_ignored() -> None:
    later = assign("A-1", "D-1", valid_from=sh(2023, 4, 1))
    assert resolve([later]) is None
    assert resolve([later], at=sh(2023, 4, 1)) == later


def test_r_sup_4_revoked_assignment_is_ignored_from_its_revocation() -> None:
    a = assign("A-1", "D-1", revoked_at=NOW)
    assert resolve([a]) is None
    assert resolve([a], at=NOW - timedelta(microseconds=1)) == a


def test_r_sup_4_barred_distributors_assignment_is_ignored_and_region_takes_over() -> None:
    own, region = assign("A-1", "D-1"), regional("A-2", "D-2")
    distributors = barred("D-1", sh(2024, 3, 1))
    assert resolve([own, region], distributors=distributors) == region
    assert resolve([own], distributors=distributors) is None
    assert resolve([own], distributors=distributors, at=sh(2024, 3, 1)) == own


def test_r_sup_1_unknown_distributor_counts_as_unqualified() -> None:
    assert resolve([assign("A-1", "D-404")]) is None


def test_r_sup_1_tie_break_latest_valid_from_then_greatest_id() -> None:
    early = assign("A-9", "D-1", valid_from=START)
    late = assign("A-1", "D-2", valid_from=sh(2023, 2, 1))
    assert resolve([early, late]) == late
    twin = assign("A-2", "D-3", valid_from=sh(2023, 2, 1))
    assert resolve([twin, late]) == twin
    assert resolve([late, twin]) == twin


def test_r_sup_1_no_institution_looks_at_regional_only() -> None:
    region = regional("A-2", "D-2")
    assert resolve([assign("A-1", "D-1"), region], institution=None) == region
    assert resolve([assign("A-1", "D-1"), region], region=None) == assign("A-1", "D-1")


# --- validating assignments (R-SUP-1) ---------------------------------------------------------


def test_r_sup_1_valid_assignment_has_no_problems() -> None:
    assert validate_assignment(assign("A-1", "D-1"), [], distributors=DISTRIBUTORS) == []
    assert validate_assignment(regional("A-2", "D-2"), [assign("A-1", "D-1")]) == []


def test_r_sup_1_valid_until_must_be_after_valid_from() -> None:
    problems = validate_assignment(assign("A-1", "D-1", valid_until=START), [])
    assert problems == ["valid_until must be after valid_from"]


def test_r_sup_1_scope_fields_must_be_consistent() -> None:
    no_inst = replace(assign("A-1", "D-1"), institution_id=None)
    assert "institution scope needs an institution_id" in validate_assignment(no_inst, [])
    both = replace(regional("A-2", "D-1"), institution_id=H1)
    assert "region scope cannot name an institution_id" in validate_assignment(both, [])
    no_region = replace(regional("A-2", "D-1"), region=None)
    assert "region scope needs a region" in validate_assignment(no_region, [])
    odd = replace(assign("A-1", "D-1"), scope="province")  # type: ignore[arg-type]
    assert any("scope must be" in p for p in validate_assignment(odd, []))


def test_r_sup_1_institution_assignment_may_record_its_region() -> None:
    assert validate_assignment(assign("A-1", "D-1", region=REGION), []) == []


def test_r_sup_1_overlapping_assignment_for_same_target_is_refused() -> None:
    existing = assign("A-1", "D-1")
    problems = validate_assignment(assign("A-2", "D-2", valid_from=sh(2023, 6, 1)), [existing])
    assert len(problems) == 1 and "A-1" in problems[0]


def test_r_sup_1_back_to_back_assignments_are_allowed() -> None:
    ended = assign("A-1", "D-1", valid_until=sh(2023, 6, 1))
    assert validate_assignment(assign("A-2", "D-2", valid_from=sh(2023, 6, 1)), [ended]) == []


def test_r_sup_1_regional_and_institution_assignments_do_not_conflict() -> None:
    assert validate_assignment(regional("A-2", "D-2"), [assign("A-1", "D-1")]) == []
    assert validate_assignment(assign("A-2", "D-2", institution=H2), [assign("A-1", "D-1")]) == []


def test_r_sup_4_revoked_assignment_overlaps_only_until_its_revocation() -> None:
    revoked = assign("A-1", "D-1", revoked_at=NOW)
    assert validate_assignment(assign("A-2", "D-2", valid_from=NOW), [revoked]) == []
    assert validate_assignment(assign("A-3", "D-2", valid_from=sh(2023, 2, 1)), [revoked]) != []


def test_r_sup_1_replaying_the_same_assignment_has_no_problems() -> None:
    a = assign("A-1", "D-1")
    assert validate_assignment(a, [a]) == []
    assert validate_assignment(replace(a, distributor_id="D-2"), [a]) == [
        "assignment id A-1 is already used"
    ]


def test_r_sup_1_new_assignment_cannot_be_born_revoked() -> None:
    assert validate_assignment(assign("A-1", "D-1", revoked_at=NOW), []) == [
        "a new assignment cannot already be revoked"
    ]


def test_r_sup_1_naive_instants_are_problems() -> None:
    problems = validate_assignment(assign("A-1", "D-1", valid_from=datetime(2023, 1, 31)), [])
    assert problems == ["valid_from must be timezone-aware"]


def test_r_sup_4_assigning_an_unknown_or_barred_distributor_is_refused() -> None:
    assert validate_assignment(assign("A-1", "D-404"), [], distributors=DISTRIBUTORS) == [
        "unknown distributor D-404"
    ]
    bars = barred("D-1", sh(2024, 3, 1))
    assert validate_assignment(assign("A-1", "D-1", valid_from=NOW), [], distributors=bars)
    after = assign("A-1", "D-1", valid_from=sh(2024, 3, 1))
    assert validate_assignment(after, [], distributors=bars) == []


# --- routing (R-SUP-1, R-SUP-3, R-SUP-5, R-AGR-4, R-AGR-7) ------------------------------------


def test_r_sup_3_order_routes_to_the_assigned_distributor() -> None:
    assert route(order(), [assign("A-1", "D-1")], DISTRIBUTORS, NOW) == Routed("D-1", "A-1")


def test_r_sup_4_no_assignment_is_a_supply_risk_then_a_late_assignment_routes() -> None:
    assert route(order(), [], DISTRIBUTORS, NOW) == SupplyRisk(
        ENT, STENT, H1, RiskReason.NO_VALID_ASSIGNMENT
    )
    late = assign("A-1", "D-2", valid_from=NOW + timedelta(hours=2))
    assert route(order(), [late], DISTRIBUTORS, NOW + timedelta(hours=2)) == Routed("D-2", "A-1")


def test_r_sup_4_risk_reason_names_a_revoked_assignment() -> None:
    decision = route(order(), [assign("A-1", "D-1", revoked_at=START)], DISTRIBUTORS, NOW)
    assert isinstance(decision, SupplyRisk)
    assert decision.reason is RiskReason.ASSIGNMENT_REVOKED


def test_r_sup_4_risk_reason_names_a_barred_distributor() -> None:
    decision = route(order(), [assign("A-1", "D-1")], barred("D-1", sh(2024, 3, 1)), NOW)
    assert isinstance(decision, SupplyRisk)
    assert decision.reason is RiskReason.DISTRIBUTOR_NOT_QUALIFIED


def test_r_sup_5_orders_beyond_the_agreement_volume_route_the_same() -> None:
    # nothing about agreement volume can reach routing: the order carries no such field
    names = {f.name for f in fields(OrderToRoute)}
    assert not {n for n in names if "agreement" in n or "volume" in n or "account" in n}
    assignments = [assign("A-1", "D-1"), regional("A-2", "D-2")]
    within = route(order("O-1", quantity=5), assignments, DISTRIBUTORS, NOW)
    # the 200th, 10 000-unit order of a hospital long past its agreement volume (R-AGR-4)
    beyond = route(order("O-200", quantity=10_000), assignments, DISTRIBUTORS, NOW)
    assert within == beyond == Routed("D-1", "A-1")
    # and a participating institution with no agreement volume at all
    assert route(order("O-3", institution="H-NO-AGREEMENT"), assignments, DISTRIBUTORS,
                 NOW) == Routed("D-2", "A-2")


def test_r_sup_2_r_agr_7_unopened_account_never_blocks_routing() -> None:
    assignments = [assign("A-1", "D-1")]
    accounts = [DistributorAccount(H1, "D-1", AccountStatus.REQUESTED)]
    assert open_items(accounts, assignments, at=NOW) == [
        OpenAccountItem(H1, "D-1", AccountStatus.REQUESTED)
    ]
    assert route(order(), assignments, DISTRIBUTORS, NOW) == Routed("D-1", "A-1")


# --- shipment and delivery (R-SUP-3) ----------------------------------------------------------


def routed_state(quantity: int = 10) -> ShipmentState:
    return ShipmentState.for_routed(order(quantity=quantity), Routed("D-1", "A-1"))


def test_r_sup_3_routed_distributor_ships_and_delivers() -> None:
    s = routed_state().ship("D-1", 10, NOW + timedelta(hours=1))
    s = s.deliver("D-1", 10, NOW + timedelta(hours=5))
    assert (s.shipped_quantity, s.delivered_quantity) == (10, 10)
    assert s.delivered_at == NOW + timedelta(hours=5)
    assert s.delivered() == DeliveredOrder("D-1", ENT, NOW, NOW + timedelta(hours=5))


def test_r_sup_3_another_distributor_cannot_ship_the_order() -> None:
    with pytest.raises(NotYourOrder):
        routed_state().ship("D-2", 1, NOW)


def test_r_sup_3_another_distributor_cannot_deliver_the_order() -> None:
    s = routed_state().ship("D-1", 10, NOW)
    with pytest.raises(NotYourOrder):
        s.deliver("D-2", 10, NOW)


def test_r_sup_3_over_shipping_is_refused() -> None:
    with pytest.raises(QuantityError):
        routed_state().ship("D-1", 11, NOW)
    s = routed_state().ship("D-1", 6, NOW)
    with pytest.raises(QuantityError):
        s.ship("D-1", 5, NOW)
    assert s.ship("D-1", 4, NOW).shipped_quantity == 10


def test_r_sup_3_delivering_more_than_shipped_is_refused() -> None:
    s = routed_state().ship("D-1", 4, NOW)
    with pytest.raises(QuantityError):
        s.deliver("D-1", 5, NOW + timedelta(hours=1))
    with pytest.raises(QuantityError):
        routed_state().deliver("D-1", 1, NOW)


def test_r_sup_3_non_positive_quantity_is_refused() -> None:
    with pytest.raises(QuantityError):
        routed_state().ship("D-1", 0, NOW)


def test_r_sup_3_shipping_before_placement_is_refused() -> None:
    with pytest.raises(TimeOrderError):
        routed_state().ship("D-1", 1, NOW - timedelta(seconds=1))


def test_r_sup_3_delivery_before_its_shipment_is_refused() -> None:
    s = routed_state().ship("D-1", 5, NOW + timedelta(hours=3))
    with pytest.raises(TimeOrderError):
        s.deliver("D-1", 5, NOW + timedelta(hours=2))


def test_r_sup_3_partial_steps_reported_out_of_order_are_accepted_when_consistent() -> None:
    s = routed_state().ship("D-1", 5, NOW + timedelta(hours=1))
    s = s.ship("D-1", 5, NOW + timedelta(hours=4))
    s = s.deliver("D-1", 5, NOW + timedelta(hours=6))
    s = s.deliver("D-1", 5, NOW + timedelta(hours=2))  # reported late, happened earlier
    assert s.delivered_at == NOW + timedelta(hours=6)
    with pytest.raises(TimeOrderError):
        # only 5 shipped by hour 3, and 5 delivered already at hour 2
        routed_state().ship("D-1", 5, NOW + timedelta(hours=1)).ship(
            "D-1", 5, NOW + timedelta(hours=4)
        ).deliver("D-1", 5, NOW + timedelta(hours=2)).deliver("D-1", 5, NOW + timedelta(hours=3))


def test_r_sup_3_partially_delivered_order_has_no_delivery_time_yet() -> None:
    s = routed_state().ship("D-1", 10, NOW).deliver("D-1", 9, NOW + timedelta(hours=1))
    assert s.delivered_at is None and s.delivered() is None


def test_r_sup_3_delivery_time_is_from_order_to_delivery() -> None:
    assert delivery_time(NOW, NOW + timedelta(hours=30)) == timedelta(hours=30)
    with pytest.raises(TimeOrderError):
        delivery_time(NOW, NOW - timedelta(minutes=1))


def test_r_sup_3_delivery_stats_per_distributor_and_enterprise_are_exact() -> None:
    records = [
        DeliveredOrder("D-1", ENT, NOW, NOW + timedelta(hours=h)) for h in (1, 2, 4)
    ] + [DeliveredOrder("D-1", ENT2, NOW, NOW + timedelta(minutes=20))]
    stats = delivery_stats(records)
    assert list(stats) == [("D-1", ENT2), ("D-1", ENT)]
    one = stats[("D-1", ENT)]
    assert (one.count, one.mean_hours, one.p90_hours) == (3, Fraction(7, 3), Fraction(4))
    assert stats[("D-1", ENT2)].mean_hours == Fraction(1, 3)
    assert to_decimal(one.mean_hours) == Decimal("2.33")


@pytest.mark.parametrize(("n", "p90"), [(1, 1), (9, 9), (10, 9), (11, 10), (20, 18), (21, 19)])
def test_r_sup_3_p90_is_nearest_rank(n: int, p90: int) -> None:
    records = [DeliveredOrder("D-1", ENT, NOW, NOW + timedelta(hours=h)) for h in range(n, 0, -1)]
    assert delivery_stats(records)[("D-1", ENT)].p90_hours == p90


def test_r_sup_3_hours_keep_microseconds_exactly() -> None:
    assert hours(timedelta(hours=1, microseconds=1)) == 1 + Fraction(1, 3_600_000_000)
    assert to_decimal(Fraction(1, 8), 2) == Decimal("0.13")  # half up


# --- violation list (R-SUP-4) -----------------------------------------------------------------

UNTIL = sh(2024, 3, 1)


def test_r_sup_4_bar_revokes_every_live_assignment_of_the_distributor() -> None:
    current = assign("A-1", "D-1")
    future = assign("A-2", "D-1", institution=H2, valid_from=sh(2023, 6, 1))
    expired = assign("A-3", "D-1", product=STENT2, valid_until=sh(2023, 2, 1))
    other = regional("A-4", "D-2")
    outcome = bar_distributor(
        "D-1", NOW, UNTIL, "违规", [current, future, expired, other], [],
        distributors=DISTRIBUTORS,
    )
    assert outcome.revoked == (revoke(current, NOW), revoke(future, NOW))
    assert all(a.revoked_at == NOW for a in outcome.revoked)
    assert outcome.bar == Bar("D-1", NOW, UNTIL, "违规")


def test_r_sup_4_bar_keeps_shipped_orders_and_reroutes_unshipped_ones() -> None:
    assignments = [assign("A-1", "D-1"), regional("A-2", "D-2")]
    unshipped = routed_state()
    shipped = ShipmentState.for_routed(order("O-2"), Routed("D-1", "A-1")).ship("D-1", 3, NOW)
    elsewhere = ShipmentState.for_routed(order("O-3"), Routed("D-3", "A-9"))
    outcome = bar_distributor(
        "D-1", NOW + timedelta(hours=1), UNTIL, "违规", assignments,
        [unshipped, shipped, elsewhere], distributors=DISTRIBUTORS,
    )
    assert outcome.taken_back == ("O-1",)
    assert outcome.kept == ("O-2",)
    assert [(r.order_id, r.decision) for r in outcome.reroutes] == [("O-1", Routed("D-2", "A-2"))]


def test_r_sup_4_taken_back_order_without_replacement_is_a_supply_risk() -> None:
    outcome = bar_distributor(
        "D-1", NOW, UNTIL, "违规", [assign("A-1", "D-1")], [routed_state()],
        distributors=DISTRIBUTORS,
    )
    (reroute,) = outcome.reroutes
    assert reroute.decision == SupplyRisk(ENT, STENT, H1, RiskReason.ASSIGNMENT_REVOKED)
    (contingency,) = outcome.contingencies
    assert contingency.enterprise_id == ENT
    assert contingency.registration_nos == (STENT,)
    assert contingency.gaps == (Gap(STENT, Scope.INSTITUTION, H1),)


def test_r_sup_4_reroute_skips_another_barred_distributor() -> None:
    assignments = [assign("A-1", "D-1"), regional("A-2", "D-2")]
    outcome = bar_distributor(
        "D-1", NOW, UNTIL, "违规", assignments, [routed_state()],
        distributors=barred("D-2", UNTIL),
    )
    (reroute,) = outcome.reroutes
    assert isinstance(reroute.decision, SupplyRisk)


def test_r_sup_4_delivered_orders_are_not_taken_back() -> None:
    done = routed_state().ship("D-1", 10, NOW).deliver("D-1", 10, NOW)
    outcome = bar_distributor(
        "D-1", NOW, UNTIL, "违规", [assign("A-1", "D-1")], [done], distributors=DISTRIBUTORS
    )
    assert outcome.taken_back == () and outcome.kept == ()


def test_r_sup_4_contingency_per_enterprise_lists_products_lacking_an_assignment() -> None:
    assignments = [
        assign("A-1", "D-1"),  # ENT, STENT at H1: no replacement
        assign("A-2", "D-1", product=STENT2, region=REGION),  # ENT, STENT2 at H1: region covers
        regional("A-3", "D-2", product=STENT2),
        regional("A-4", "D-1", enterprise=ENT2),  # ENT2's region: no replacement
    ]
    outcome = bar_distributor("D-1", NOW, UNTIL, "违规", assignments, [],
                              distributors=DISTRIBUTORS)
    by_enterprise = {c.enterprise_id: c for c in outcome.contingencies}
    assert by_enterprise[ENT].gaps == (Gap(STENT, Scope.INSTITUTION, H1),)
    assert by_enterprise[ENT2].gaps == (Gap(STENT, Scope.REGION, REGION),)


def test_r_sup_4_enterprise_with_full_cover_still_gets_a_contingency_item() -> None:
    assignments = [assign("A-1", "D-1", region=REGION), regional("A-2", "D-2")]
    outcome = bar_distributor("D-1", NOW, UNTIL, "违规", assignments, [],
                              distributors=DISTRIBUTORS)
    (contingency,) = outcome.contingencies
    assert contingency.enterprise_id == ENT and contingency.gaps == ()


def test_r_sup_4_barring_twice_yields_nothing_new() -> None:
    assignments = [assign("A-1", "D-1"), regional("A-2", "D-2")]
    first = bar_distributor(
        "D-1", NOW, UNTIL, "违规", assignments, [routed_state()], distributors=DISTRIBUTORS
    )
    assert not first.changes_nothing
    after = first.apply_to(assignments)
    (reroute,) = first.reroutes
    assert isinstance(reroute.decision, Routed)
    rerouted = ShipmentState.for_routed(order(), reroute.decision)
    distributors = {**DISTRIBUTORS, "D-1": apply_bar(DISTRIBUTORS["D-1"], first.bar)}
    second = bar_distributor(
        "D-1", NOW + timedelta(minutes=5), UNTIL, "违规", after, [rerouted],
        distributors=distributors,
    )
    assert second.changes_nothing
    assert second.apply_to(after) == after
    assert apply_bar(distributors["D-1"], second.bar) == distributors["D-1"]


def test_r_sup_4_lifting_the_bar_does_not_restore_revoked_assignments() -> None:
    assignments = [assign("A-1", "D-1")]
    outcome = bar_distributor("D-1", NOW, UNTIL, "违规", assignments, [],
                              distributors=DISTRIBUTORS)
    after = outcome.apply_to(assignments)
    lifted_at = sh(2023, 6, 1)
    distributors = {
        **DISTRIBUTORS,
        "D-1": lift_bar(apply_bar(DISTRIBUTORS["D-1"], outcome.bar), lifted_at),
    }
    assert is_qualified(distributors["D-1"], lifted_at)
    assert route(order(), after, distributors, lifted_at) == SupplyRisk(
        ENT, STENT, H1, RiskReason.ASSIGNMENT_REVOKED
    )
    # the enterprise assigns it again (R-SUP-1) and orders flow
    again = assign("A-5", "D-1", valid_from=lifted_at)
    assert validate_assignment(again, after, distributors=distributors) == []
    assert route(order(), [*after, again], distributors, lifted_at) == Routed("D-1", "A-5")


def test_r_crd_3_credit_bar_puts_the_distributor_on_the_violation_list() -> None:
    until = credit_bar_until("严重失信", NOW)
    outcome = bar_distributor("D-1", NOW, until, "信用评价: 严重失信", [assign("A-1", "D-1")],
                              [], distributors=DISTRIBUTORS)
    d = apply_bar(DISTRIBUTORS["D-1"], outcome.bar)
    assert not is_qualified(d, sh(2026, 3, 1, 8, 59))
    assert is_qualified(d, sh(2026, 3, 1, 9))


def test_r_sup_4_bar_must_end_after_it_starts_and_have_a_reason() -> None:
    with pytest.raises(ValueError):
        bar_distributor("D-1", NOW, NOW, "违规", [], [], distributors=DISTRIBUTORS)
    with pytest.raises(ValueError):
        bar_distributor("D-1", NOW, UNTIL, " ", [], [], distributors=DISTRIBUTORS)


# --- account opening (R-SUP-2) ----------------------------------------------------------------


def test_r_sup_2_assigned_pairs_without_an_opened_account_are_open_items() -> None:
    assignments = [assign("A-1", "D-1"), assign("A-2", "D-2", institution=H2),
                   assign("A-3", "D-3", product=STENT2)]
    accounts = [
        DistributorAccount(H1, "D-1", AccountStatus.REQUESTED),
        DistributorAccount(H1, "D-1", AccountStatus.OPENED),
        DistributorAccount(H2, "D-2", AccountStatus.REQUESTED),
    ]
    assert open_items(accounts, assignments, at=NOW) == [
        OpenAccountItem(H1, "D-3", None),
        OpenAccountItem(H2, "D-2", AccountStatus.REQUESTED),
    ]


def test_r_sup_2_regional_assignments_expand_to_the_regions_institutions() -> None:
    assignments = [regional("A-1", "D-2"), assign("A-2", "D-1")]
    regions = {H1: REGION, H2: REGION, "H-LN": "辽宁"}
    assert open_items([], assignments, at=NOW, institution_regions=regions) == [
        OpenAccountItem(H1, "D-1", None),  # H1 has its own assignment: D-2 not needed there
        OpenAccountItem(H2, "D-2", None),
    ]
    assert open_items([], [regional("A-1", "D-2")]) == []  # no institutions known


def test_r_sup_2_revoked_and_expired_assignments_need_no_account() -> None:
    assignments = [
        assign("A-1", "D-1", revoked_at=START),
        assign("A-2", "D-2", valid_until=sh(2023, 2, 1)),
        assign("A-3", "D-3", institution=H2, valid_from=sh(2023, 6, 1)),  # upcoming: needed
    ]
    assert open_items([], assignments, at=NOW) == [OpenAccountItem(H2, "D-3", None)]
    assert [i.distributor_id for i in open_items([], assignments)] == ["D-2", "D-3"]


def test_r_sup_4_a_backdated_assignment_needs_a_distributor_qualified_when_it_starts() -> None:
    """Qualified at ``valid_from`` but barred now: recorded now, it would start distributing
    now, so it is refused; the same assignment recorded before the bar is accepted."""
    backdated = assign("A-1", "D-1", valid_from=START)
    distributors = barred("D-1", sh(2024, 1, 1), since=sh(2023, 2, 1))
    assert validate_assignment(backdated, [], distributors=distributors) == []
    problems = assignment_problems(backdated, [], distributors=distributors, now=NOW)
    assert problems == [f"distributor D-1 is not qualified at {NOW.isoformat()} (R-SUP-4)"]
    assert assignment_problems(backdated, [], distributors=distributors,
                               now=sh(2023, 1, 31, 12)) == []
    future = assign("A-2", "D-1", valid_from=sh(2024, 1, 1))
    assert assignment_problems(future, [], distributors=distributors, now=NOW) == []
