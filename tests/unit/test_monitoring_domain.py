"""Monitoring's rules with plain values: credit schemes, ratings and measures (R-CRD-2/3),
repair (R-CRD-4), proposal thresholds (R-CRD-1), monthly figures (R-MON-1), the annual
assessment (R-MON-2) and completion risk."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from contracts.profiles import AssessmentWeights, MonitoringPolicy
from services.catalog.presets import (
    CHONGQING_STENTS_2023,
    NATIONAL_CREDIT_2020,
    NATIONAL_CREDIT_2025,
)
from services.monitoring import errors
from services.monitoring.domain import assessment, credit, reports, risk
from services.monitoring.domain.credit import Measure, Record, RepairState
from services.runtime.clock import SHANGHAI
from services.runtime.problems import Problem, Refusal

T0 = datetime(2025, 3, 1, tzinfo=SHANGHAI)
POLICY = MonitoringPolicy()


@contextmanager
def refused(refusal: Refusal, match: str | None = None) -> Iterator[None]:
    """The block is refused with ``refusal`` (a problem of its status, type and title)."""
    with pytest.raises(Problem, match=match) as info:
        yield
    assert refusal.refused(info.value), info.value.body()


# --- schemes, ratings, measures (R-CRD-2/3) ----------------------------------------------------


def test_r_crd_2_both_schemes_ship_as_profile_tables() -> None:
    assert [lv.name for lv in NATIONAL_CREDIT_2020.levels] == ["一般", "中等", "严重", "特别严重"]
    assert [lv.name for lv in NATIONAL_CREDIT_2025.levels] == ["失信", "严重失信", "特别严重失信"]
    assert CHONGQING_STENTS_2023.credit.scheme == "national-2020"
    assert CHONGQING_STENTS_2023.monitoring == MonitoringPolicy()


def test_r_crd_2_unknown_level_is_refused_naming_the_scheme_levels() -> None:
    with refused(errors.UNKNOWN_LEVEL, match="严重失信"):
        credit.level_of(NATIONAL_CREDIT_2020, "严重失信")
    assert credit.level_of(NATIONAL_CREDIT_2025, "seriously_dishonest").name == "严重失信"


def test_r_crd_2_rating_is_the_worst_active_record() -> None:
    records = [Record("r1", "一般", True, ("A",)), Record("r2", "严重", True, ("B",)),
               Record("r3", "特别严重", False, ("C",)), Record("r4", "中等", True)]
    r = credit.rating(NATIONAL_CREDIT_2020, records)
    assert r.level is not None and r.level.name == "严重"
    assert r.active_records == 3
    assert r.registration_nos == ("A", "B")  # the repaired record's product is not involved


def test_r_crd_2_no_active_record_no_rating() -> None:
    r = credit.rating(NATIONAL_CREDIT_2025, [Record("r1", "失信", False)])
    assert r.level is None and r.active_records == 0


@pytest.mark.parametrize(("scheme", "level", "kinds"), [
    (NATIONAL_CREDIT_2020, "一般", ["reminder"]),
    (NATIONAL_CREDIT_2020, "中等", ["reminder", "warning"]),
    (NATIONAL_CREDIT_2020, "严重", ["warning", "restrict_listing", "suspend_listing_involved",
                                  "suspend_distribution_involved", "public_disclosure"]),
    (NATIONAL_CREDIT_2020, "特别严重", ["warning", "restrict_listing",
                                    "suspend_listing_involved", "suspend_distribution_involved",
                                    "suspend_all_products_region", "public_disclosure"]),
    (NATIONAL_CREDIT_2025, "失信", ["reminder", "warning"]),
    (NATIONAL_CREDIT_2025, "严重失信", ["warning", "restrict_listing",
                                    "suspend_listing_involved", "suspend_distribution_involved",
                                    "public_disclosure"]),
    (NATIONAL_CREDIT_2025, "特别严重失信", ["warning", "restrict_listing",
                                      "suspend_listing_involved",
                                      "suspend_distribution_involved",
                                      "suspend_all_products_region", "public_disclosure"]),
])
def test_r_crd_3_each_levels_measures_for_an_enterprise(scheme: object, level: str,
                                                        kinds: list[str]) -> None:
    rating = credit.rating(scheme, [Record("r", level, True, ("P",))])  # type: ignore[arg-type]
    planned = credit.measures_for(rating, "enterprise", T0)
    assert [m.measure for m in planned] == kinds
    for m in planned:
        assert m.level == level
        if m.measure == "suspend_all_products_region":
            assert m.scope == "all_everywhere"
        else:
            assert m.scope == "involved"


@pytest.mark.parametrize(("level", "years"), [("失信", 1), ("严重失信", 3), ("特别严重失信", 5)])
def test_r_crd_3_distributor_bar_period_by_level_2025(level: str, years: int) -> None:
    rating = credit.rating(NATIONAL_CREDIT_2025, [Record("r", level, True, ("P",))])
    planned = credit.measures_for(rating, "distributor", T0)
    bars = [m for m in planned if m.measure == "distributor_bar"]
    assert len(bars) == 1
    assert bars[0].effective_until == datetime(2025 + years, 3, 1, tzinfo=SHANGHAI)
    # no listing measures against a distributor; no product named on its measures
    assert not {m.measure for m in planned} & credit.ENTERPRISE_ONLY
    assert all(m.registration_nos == () for m in planned)


def test_r_crd_3_the_2020_scheme_bars_no_distributor() -> None:
    rating = credit.rating(NATIONAL_CREDIT_2020, [Record("r", "特别严重", True)])
    kinds = [m.measure for m in credit.measures_for(rating, "distributor", T0)]
    assert kinds == ["warning", "public_disclosure"]


def test_r_crd_3_replan_keeps_what_stays_lifts_what_goes() -> None:
    serious = credit.rating(NATIONAL_CREDIT_2020, [Record("r", "严重", True, ("P",))])
    held = [(f"M{i}", m) for i, m in enumerate(credit.measures_for(serious, "enterprise", T0))]
    moderate = credit.rating(NATIONAL_CREDIT_2020, [Record("r2", "中等", True)])
    plan = credit.plan_measures(held, credit.measures_for(moderate, "enterprise", T0))
    assert [m.measure for m in plan.apply] == ["reminder", "warning"]  # new level's name
    assert sorted(plan.lift) == [mid for mid, _ in held]
    same = credit.plan_measures(held, [m for _, m in held])
    assert same.apply == [] and same.lift == []
    nothing = credit.plan_measures(held, [])
    assert len(nothing.lift) == len(held)


def test_r_crd_3_another_product_involved_replaces_the_measure() -> None:
    a = Measure("suspend_listing_involved", "严重", "involved", ("A",))
    ab = Measure("suspend_listing_involved", "严重", "involved", ("A", "B"))
    plan = credit.plan_measures([("M1", a)], [ab])
    assert plan.apply == [ab] and plan.lift == ["M1"]


# --- repair (R-CRD-4) ------------------------------------------------------------------------


def state(**kw: object) -> RepairState:
    values: dict[str, object] = {"status": "active", "effective_from": T0, "pending": False,
                                 "last_refused_at": None}
    values.update(kw)
    return RepairState(**values)  # type: ignore[arg-type]


def test_r_crd_4_apply_only_for_an_active_record_without_a_pending_application() -> None:
    credit.check_repair_application(state(), POLICY, T0)
    with refused(errors.RECORD_NOT_ACTIVE):
        credit.check_repair_application(state(status="repaired"), POLICY, T0)
    with refused(errors.REPAIR_PENDING):
        credit.check_repair_application(state(pending=True), POLICY, T0)


def test_r_crd_4_reapply_window_after_a_refusal() -> None:
    after_refusal = state(last_refused_at=T0)
    with refused(errors.REPAIR_REAPPLY_TOO_SOON):
        credit.check_repair_application(after_refusal, POLICY, T0 + timedelta(days=29))
    credit.check_repair_application(after_refusal, POLICY, T0 + timedelta(days=30))


def test_r_crd_4_minimum_period_from_the_level_or_the_policy() -> None:
    level = NATIONAL_CREDIT_2020.level("严重")  # sets none: the policy's 3 months
    pending = state(pending=True)
    with refused(errors.REPAIR_TOO_EARLY):
        credit.check_repair_approval(pending, level, POLICY, datetime(2025, 5, 31, 23,
                                                                      tzinfo=SHANGHAI))
    credit.check_repair_approval(pending, level, POLICY, datetime(2025, 6, 1, tzinfo=SHANGHAI))
    longer = level.model_copy(update={"repair_min_months": 12})
    with refused(errors.REPAIR_TOO_EARLY):
        credit.check_repair_approval(pending, longer, POLICY, datetime(2026, 2, 28,
                                                                       tzinfo=SHANGHAI))
    with refused(errors.REPAIR_NOT_PENDING):
        credit.check_repair_approval(state(), level, POLICY, datetime(2030, 1, 1, tzinfo=UTC))


# --- proposals (R-CRD-1) ---------------------------------------------------------------------


def test_r_crd_1_proposal_thresholds_come_from_the_profile() -> None:
    assert not credit.is_late_delivery(72 * 3600, POLICY)
    assert credit.is_late_delivery(72 * 3600 + 1, POLICY)
    strict = POLICY.model_copy(update={"late_delivery_hours": 24})
    assert credit.is_late_delivery(24 * 3600 + 1, strict)
    assert credit.is_unfilled(T0, T0 + timedelta(days=15), POLICY)
    assert not credit.is_unfilled(T0, T0 + timedelta(days=14, hours=23), POLICY)
    assert credit.is_risk_left_open(T0, T0 + timedelta(days=7), POLICY)
    assert not credit.is_risk_left_open(T0, T0 + timedelta(days=6), POLICY)
    three = [T0 - timedelta(days=d) for d in (1, 30, 89)]
    assert credit.repeated_rejections(three, T0, POLICY)
    assert not credit.repeated_rejections([*three[:2], T0 - timedelta(days=91)], T0, POLICY)
    assert credit.proposed_level(NATIONAL_CREDIT_2025).name == "失信"


# --- monthly figures (R-MON-1) ----------------------------------------------------------------


def test_r_prg_4_months_are_shanghai_months() -> None:
    # 2023-03-31T20:00Z is 2023-04-01 04:00 in Shanghai: April
    assert str(reports.Month.of(datetime(2023, 3, 31, 20, tzinfo=UTC))) == "2023-04"
    m = reports.Month.parse("2023-12")
    assert m.start == datetime(2023, 12, 1, tzinfo=SHANGHAI)
    assert m.end == datetime(2024, 1, 1, tzinfo=SHANGHAI)
    for bad in ("2023-13", "2023", "x-y"):
        with refused(errors.BAD_MONTH):
            reports.Month.parse(bad)


def grain(inst: str, ent: str, dist: str | None, **figures: object) -> reports.Grain:
    return reports.Grain("P1", "重庆市", inst, ent, "N1", dist,
                         reports.Figures(**figures))  # type: ignore[arg-type]


def test_r_mon_1_roll_up_sums_then_derives_ratios() -> None:
    grains = [
        grain("H1", "E1", "D1", agreement_units=240, expected_units=Decimal(20),
              accepted_units_ytd=30, orders_delivered=2, delivery_seconds=2 * 36 * 3600),
        grain("H2", "E1", None, agreement_units=60, expected_units=Decimal(5),
              accepted_units_ytd=0, ordered_units=7),
    ]
    lines = reports.report_lines(reports.Month(2025, 3), grains)
    by = {(ln["dimension"], ln["key"]): ln for ln in lines}
    e1 = by[("enterprise", "E1")]
    assert e1["agreement_units"] == 300 and e1["accepted_units_ytd"] == 30
    assert e1["progress"] == Decimal("0.1000")  # 30 / 300, not the mean of 0.125 and 0
    assert e1["pacing"] == Decimal("1.2000")  # 30 / 25
    assert e1["mean_delivery_hours"] == Decimal("36.00")
    assert ("distributor", "D1") in by and len([k for k in by if k[0] == "distributor"]) == 1
    assert by[("institution", "H2")]["progress"] == Decimal("0.0000")
    assert e1["settlements_overdue"] == 0  # no payable of E1 came to an outcome this month
    assert [c.name for c in reports.COLUMNS] == list(e1)


def test_r_mon_1_even_line_share_of_the_year() -> None:
    start = datetime(2025, 1, 1, tzinfo=SHANGHAI)
    end = datetime(2026, 1, 1, tzinfo=SHANGHAI)
    assert reports.year_fraction(start, end, start) == 0
    assert reports.year_fraction(start, end, end + timedelta(days=3)) == 1
    half = reports.year_fraction(start, end, start + (end - start) / 2)
    assert half == Decimal("0.5")


# --- annual assessment (R-MON-2) ----------------------------------------------------------------


def test_r_mon_2_score_from_weighted_parts_each_explained() -> None:
    weights = AssessmentWeights()
    a = assessment.assess(weights, accepted_units=90, agreement_units=100, warned_months=3,
                          elapsed_months=12, settlements_on_time=8, settlements_due=10)
    # 100 × (0.5 × 0.9 + 0.2 × 0.75 + 0.3 × 0.8) = 84
    assert a.score == Decimal("84.00")
    parts = {p.name: p for p in a.parts}
    assert parts["progress"].points == Decimal("45.00")
    assert parts["pacing"].points == Decimal("15.00")
    assert parts["repayment"].points == Decimal("24.00")
    assert "90 accepted of 100" in parts["progress"].explanation


def test_r_mon_2_unmeasured_part_is_left_out_and_said_so() -> None:
    a = assessment.assess(AssessmentWeights(), accepted_units=150, agreement_units=100,
                          warned_months=0, elapsed_months=6, settlements_on_time=0,
                          settlements_due=0)
    # progress capped at 1; no settlement came due: weights 0.5/0.7 and 0.2/0.7
    assert a.score == Decimal("100.00")
    rep = {p.name: p for p in a.parts}["repayment"]
    assert rep.value is None and "no settlement came due" in rep.explanation
    assert "scaled" in {p.name: p for p in a.parts}["progress"].explanation


def test_r_mon_2_weights_must_sum_to_one() -> None:
    with pytest.raises(ValueError, match="sum to exactly 1"):
        AssessmentWeights(progress=Decimal("0.5"), pacing=Decimal("0.5"),
                          repayment=Decimal("0.5"))


# --- completion risk ----------------------------------------------------------------------------


def test_completion_risk_projects_the_pace_to_the_years_end() -> None:
    start = datetime(2025, 1, 1, tzinfo=SHANGHAI)
    end = datetime(2026, 1, 1, tzinfo=SHANGHAI)
    mid = start + (end - start) / 2
    slow = risk.project(units_so_far=30, agreement_units=100, year_start=start, year_end=end,
                        now=mid, threshold=Decimal("0.8"))
    assert slow is not None and slow.projected_progress == Decimal("0.6000") and slow.at_risk
    fine = risk.project(units_so_far=45, agreement_units=100, year_start=start, year_end=end,
                        now=mid, threshold=Decimal("0.8"))
    assert fine is not None and not fine.at_risk  # 0.90
    assert risk.project(units_so_far=0, agreement_units=0, year_start=start, year_end=end,
                        now=mid, threshold=Decimal("0.8")) is None
