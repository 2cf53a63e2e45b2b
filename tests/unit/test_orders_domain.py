"""Orders rules as plain values: R-PRG-2 agreement years, R-AGR-1 imports, R-AGR-2 renewal
(EXAMPLES.md), R-AGR-3 progress, R-AGR-6 pacing (EXAMPLES.md), R-AGR-8 lifecycle, R-CAT-5 /
R-AGR-4 / R-AGR-5 pricing and order classes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from itertools import pairwise

import pytest

from contracts import profiles
from services.orders.domain import (
    CHONGQING_RENEWAL,
    COUNTS_TOWARD_PROGRESS,
    FINAL_STATUSES,
    TRANSITIONS,
    AgreementRow,
    AgreementYear,
    IllegalTransition,
    InvalidAcceptance,
    OrderAction,
    OrderClass,
    OrderStatus,
    PacingPolicy,
    PacingWarning,
    PriceMismatch,
    RenewalFailure,
    RenewalPolicy,
    RowError,
    accept,
    agreement_year_of,
    agreement_years,
    certificate_key,
    check_order_price,
    check_renewal,
    classify_order,
    order_amount,
    pacing_warnings,
    parse_units,
    progress,
    rejection_reason,
    remaining,
    renewal_allowed,
    required_units,
    split_units,
    transition,
    validate_agreement_rows,
)
from services.runtime.clock import SHANGHAI


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


# --------------------------------------------------------------------------------------------
# R-PRG-2 agreement years

CQ_START = sh(2023, 1, 31)
LN_START = sh(2021, 10, 15)


def test_r_prg_2_chongqing_three_agreement_years() -> None:
    assert agreement_years(CQ_START, 3) == [
        AgreementYear(1, sh(2023, 1, 31), sh(2024, 1, 31)),
        AgreementYear(2, sh(2024, 1, 31), sh(2025, 1, 31)),
        AgreementYear(3, sh(2025, 1, 31), sh(2026, 1, 31)),
    ]


def test_r_prg_2_liaoning_two_agreement_years() -> None:
    assert agreement_years(LN_START, 2) == [
        AgreementYear(1, sh(2021, 10, 15), sh(2022, 10, 15)),
        AgreementYear(2, sh(2022, 10, 15), sh(2023, 10, 15)),
    ]


def test_r_prg_2_years_are_back_to_back_and_in_shanghai_time() -> None:
    years = agreement_years(CQ_START, 5)
    assert [y.index for y in years] == [1, 2, 3, 4, 5]
    for before, after in pairwise(years):
        assert before.end == after.start
    assert all(y.start.tzinfo is SHANGHAI and y.end.tzinfo is SHANGHAI for y in years)


def test_r_prg_2_start_given_in_utc_is_the_same_instant() -> None:
    # 2023-01-30T16:00Z is 2023-01-31 00:00 in Shanghai
    years = agreement_years(datetime(2023, 1, 30, 16, tzinfo=UTC), 1)
    assert years == [AgreementYear(1, CQ_START, sh(2024, 1, 31))]


def test_r_prg_2_leap_day_start_clamps_each_year_from_the_start() -> None:
    years = agreement_years(sh(2024, 2, 29), 4)
    assert [y.end for y in years] == [
        sh(2025, 2, 28), sh(2026, 2, 28), sh(2027, 2, 28), sh(2028, 2, 29),
    ]


@pytest.mark.parametrize("cycle", [0, -1, True, 51, 10**9])
def test_r_prg_2_cycle_must_be_one_to_fifty_years(cycle: int) -> None:
    with pytest.raises(ValueError):
        agreement_years(CQ_START, cycle)


def test_r_prg_2_naive_start_is_refused() -> None:
    with pytest.raises(ValueError):
        agreement_years(datetime(2023, 1, 31), 3)


@pytest.mark.parametrize(
    ("instant", "year"),
    [
        (sh(2023, 1, 30, 23, 59, 59), None),  # before the execution start
        (sh(2023, 1, 31), 1),  # start inclusive
        (sh(2023, 6, 1), 1),
        (sh(2024, 1, 30, 23, 59, 59), 1),
        (sh(2024, 1, 31), 2),  # end exclusive: the next year begins
        (sh(2025, 12, 31), 3),
        (sh(2026, 1, 30, 23, 59, 59), 3),
        (sh(2026, 1, 31), None),  # the cycle has ended
        # 2024-01-30T16:00Z is 2024-01-31 00:00 in Shanghai: year 2 already
        (datetime(2024, 1, 30, 16, tzinfo=UTC), 2),
        (datetime(2024, 1, 30, 15, 59, 59, tzinfo=UTC), 1),
    ],
)
def test_r_prg_2_agreement_year_of(instant: datetime, year: int | None) -> None:
    assert agreement_year_of(instant, CQ_START, 3) == year


def test_r_prg_2_agreement_year_of_liaoning_start_at_midnight() -> None:
    assert agreement_year_of(sh(2021, 10, 14, 23, 59), LN_START, 2) is None
    assert agreement_year_of(sh(2021, 10, 15), LN_START, 2) == 1
    assert agreement_year_of(sh(2023, 10, 15) - timedelta(microseconds=1), LN_START, 2) == 2
    assert agreement_year_of(sh(2023, 10, 15), LN_START, 2) is None


# --------------------------------------------------------------------------------------------
# R-AGR-1 agreement import rows

CERT_A = "国械注准20163132305"
CERT_B = "国械注进20163130682"
PRODUCTS = {CERT_A: "E-A", CERT_B: "E-B"}
REGION = {"H1", "H2", "H3"}


def row(
    institution: str = "H1",
    kind: str = "public",
    enterprise: str | None = "E-A",
    cert: str = CERT_A,
    units: object = 100,
) -> AgreementRow:
    return AgreementRow(institution, kind, enterprise, cert, units)


def test_r_agr_1_good_rows_have_no_errors() -> None:
    rows = [
        row(),
        row(cert=CERT_B, enterprise="E-B"),
        row("H2", "military", None, CERT_A, "40"),
        row("H3", "private", "", CERT_B, 0),
    ]
    assert validate_agreement_rows(rows, known_products=PRODUCTS, region_institutions=REGION) == []


def test_r_agr_1_unknown_product_for_the_program() -> None:
    errors = validate_agreement_rows(
        [row(), row(cert="国械注准20990000000")], known_products=PRODUCTS, region_institutions=None
    )
    assert errors == [
        RowError(2, "registration_no",
                 "product '国械注准20990000000' is not a winning product of this program"),
    ]


def test_r_agr_1_certificate_spacing_is_normalised_for_matching() -> None:
    assert certificate_key("国械注准 20163132305") == CERT_A
    assert validate_agreement_rows(
        [row(cert="国械注准 20163132305")], known_products=PRODUCTS, region_institutions=None
    ) == []


def test_r_agr_1_enterprise_must_be_the_products_winning_enterprise() -> None:
    errors = validate_agreement_rows(
        [row(enterprise="E-B")], known_products=PRODUCTS, region_institutions=None
    )
    assert errors == [
        RowError(1, "enterprise_id",
                 f"product '{CERT_A}' is supplied by enterprise 'E-A', not 'E-B'"),
    ]


@pytest.mark.parametrize(
    ("units", "reason"),
    [
        (-1, "units -1 must not be negative"),
        ("-5", "units -5 must not be negative"),
        ("2.5", "units 2.5 is not a whole number"),
        (Decimal("0.5"), "units 0.5 is not a whole number"),
        (2.5, "units 2.5 is not a whole number"),
        ("十", "units '十' is not a number"),
        ("", "units is missing"),
        (None, "units None is not a number"),
        (True, "units True is not a number"),
        (float("nan"), "units nan is not a number"),
        (10**9, "units 1000000000 is too large (at most 999999999)"),
    ],
)
def test_r_agr_1_negative_or_non_integer_units(units: object, reason: str) -> None:
    errors = validate_agreement_rows(
        [row(units=units)], known_products=PRODUCTS, region_institutions=None
    )
    assert errors == [RowError(1, "units", reason)]


@pytest.mark.parametrize(
    ("value", "units"),
    [(0, 0), (30, 30), ("30", 30), (" 30 ", 30), ("30.0", 30), (30.0, 30),
     (Decimal("30.00"), 30), ("３０", 30)],
)
def test_r_agr_1_units_accepted_forms(value: object, units: int) -> None:
    assert parse_units(value) == units


def test_r_agr_1_duplicate_institution_and_product_names_both_rows() -> None:
    rows = [row(), row(cert=CERT_B, enterprise="E-B"), row("H2"), row(units=5)]
    errors = validate_agreement_rows(rows, known_products=PRODUCTS, region_institutions=None)
    assert errors == [
        RowError(4, None, f"institution 'H1' and product '{CERT_A}' appear twice: rows 1 and 4"),
    ]


def test_r_agr_1_duplicate_is_found_through_certificate_spacing() -> None:
    rows = [row(), row(cert="国械注准 20163132305")]
    errors = validate_agreement_rows(rows, known_products=PRODUCTS, region_institutions=None)
    assert [(e.row, e.field) for e in errors] == [(2, None)]


def test_r_agr_1_institution_outside_the_region() -> None:
    errors = validate_agreement_rows(
        [row("H9")], known_products=PRODUCTS, region_institutions=REGION
    )
    assert errors == [
        RowError(1, "institution_id",
                 "institution 'H9' is not an institution of the program's region"),
    ]


def test_r_agr_1_region_is_not_checked_without_the_set() -> None:
    assert validate_agreement_rows(
        [row("H9")], known_products=PRODUCTS, region_institutions=None
    ) == []


@pytest.mark.parametrize("kind", ["Public", "公立", "", "charity", "voluntary"])
def test_r_prg_3_institution_type_must_be_public_military_or_private(kind: str) -> None:
    errors = validate_agreement_rows(
        [row(kind=kind)], known_products=PRODUCTS, region_institutions=None
    )
    assert errors == [
        RowError(1, "institution_type",
                 f"institution type {kind!r} must be one of public, military, private (R-PRG-3)"),
    ]


def test_r_agr_1_missing_institution_and_product() -> None:
    errors = validate_agreement_rows(
        [row(institution=" ", cert="")], known_products=PRODUCTS, region_institutions=REGION
    )
    assert errors == [
        RowError(1, "institution_id", "institution id is missing"),
        RowError(1, "registration_no", "registration_no is missing"),
    ]


def test_r_agr_1_every_bad_row_is_reported_in_row_order() -> None:
    rows = [
        row(),
        row("H9", "hospital", None, "国械注准20990000000", -3),
        row(units="1.5"),
        row("H2", "military", None, CERT_B, 7),
    ]
    errors = validate_agreement_rows(rows, known_products=PRODUCTS, region_institutions=REGION)
    assert [(e.row, e.field) for e in errors] == [
        (2, "institution_id"),
        (2, "institution_type"),
        (2, "registration_no"),
        (2, "units"),
        (3, "units"),
        (3, None),  # H1 + CERT_A again
    ]


# --------------------------------------------------------------------------------------------
# R-AGR-2 renewal (EXAMPLES.md: last year accepted E1 120 + E2 80 = 200; agreements 100, 100)

LAST_ACCEPTED = 200
LAST_AGREEMENT = {"E1": 100, "E2": 100}


def test_r_agr_2_example_demand_190_is_accepted() -> None:
    assert check_renewal({"E1": 90, "E2": 100}, LAST_ACCEPTED, LAST_AGREEMENT,
                         CHONGQING_RENEWAL) == []


def test_r_agr_2_example_total_189_is_refused() -> None:
    failures = check_renewal({"E1": 90, "E2": 99}, LAST_ACCEPTED, LAST_AGREEMENT,
                             CHONGQING_RENEWAL)
    assert failures == [
        RenewalFailure(
            check="total", enterprise_id=None, ratio=Decimal("0.95"), basis=200,
            required=190, offered=189,
            message="total demand 189 is below 95 % of last year's accepted purchases 200: "
            "at least 190 needed",
        )
    ]


def test_r_agr_2_example_enterprise_89_is_refused() -> None:
    failures = check_renewal({"E1": 89, "E2": 110}, LAST_ACCEPTED, LAST_AGREEMENT,
                             CHONGQING_RENEWAL)
    assert failures == [
        RenewalFailure(
            check="per_enterprise", enterprise_id="E1", ratio=Decimal("0.90"), basis=100,
            required=90, offered=89,
            message="demand 89 for enterprise E1 is below 90 % of last year's agreement volume "
            "100: at least 90 needed",
        )
    ]


def test_r_agr_2_total_exactly_at_threshold_accepted_one_below_refused() -> None:
    at = check_renewal({"E1": 95, "E2": 95}, LAST_ACCEPTED, LAST_AGREEMENT, CHONGQING_RENEWAL)
    below = check_renewal({"E1": 95, "E2": 94}, LAST_ACCEPTED, LAST_AGREEMENT, CHONGQING_RENEWAL)
    assert at == []
    assert [(f.check, f.required, f.offered) for f in below] == [("total", 190, 189)]


def test_r_agr_2_enterprise_exactly_at_threshold_accepted_one_below_refused() -> None:
    assert check_renewal({"E1": 90, "E2": 200}, LAST_ACCEPTED, LAST_AGREEMENT,
                         CHONGQING_RENEWAL) == []
    below = check_renewal({"E1": 200, "E2": 89}, LAST_ACCEPTED, LAST_AGREEMENT,
                          CHONGQING_RENEWAL)
    assert [(f.check, f.enterprise_id, f.required, f.offered) for f in below] == [
        ("per_enterprise", "E2", 90, 89)
    ]


def test_r_agr_2_units_are_whole_so_190_95_needs_191() -> None:
    assert required_units(Decimal("0.95"), 201) == 191
    policy = RenewalPolicy(total_min_ratio=Decimal("0.95"))
    assert check_renewal({"E1": 191}, 201, {}, policy) == []
    failures = check_renewal({"E1": 190}, 201, {}, policy)
    assert [(f.required, f.offered) for f in failures] == [(191, 190)]
    assert "at least 191 needed" in failures[0].message


def test_r_agr_2_enterprise_threshold_rounds_up_too() -> None:
    # 90 % of 95 = 85.5 → 86
    policy = RenewalPolicy(per_enterprise_min_ratio=Decimal("0.90"))
    assert check_renewal({"E1": 86}, 0, {"E1": 95}, policy) == []
    assert [f.required for f in check_renewal({"E1": 85}, 0, {"E1": 95}, policy)] == [86]


def test_r_agr_2_enterprise_missing_from_demand_counts_as_zero() -> None:
    failures = check_renewal({"E1": 200}, LAST_ACCEPTED, LAST_AGREEMENT, CHONGQING_RENEWAL)
    assert [(f.check, f.enterprise_id, f.required, f.offered) for f in failures] == [
        ("per_enterprise", "E2", 90, 0)
    ]


def test_r_agr_2_new_enterprise_has_no_threshold() -> None:
    assert check_renewal({"E1": 90, "E2": 90, "E3": 10}, LAST_ACCEPTED, LAST_AGREEMENT,
                         CHONGQING_RENEWAL) == []


def test_r_agr_2_both_checks_fail_total_first_then_enterprises_by_id() -> None:
    failures = check_renewal({"E1": 10}, LAST_ACCEPTED, {"E2": 100, "E1": 100},
                             CHONGQING_RENEWAL)
    assert [(f.check, f.enterprise_id) for f in failures] == [
        ("total", None), ("per_enterprise", "E1"), ("per_enterprise", "E2"),
    ]


@pytest.mark.parametrize("policy", [None, RenewalPolicy(), profiles.RenewalPolicy()])
def test_r_agr_2_no_profile_or_no_ratios_means_no_failures(
    policy: RenewalPolicy | None,
) -> None:
    assert check_renewal({}, LAST_ACCEPTED, LAST_AGREEMENT, policy) == []


def test_r_agr_2_the_contracts_profile_fits_as_it_is() -> None:
    policy = profiles.RenewalPolicy(total_min_ratio="0.95", per_enterprise_min_ratio="0.90")
    failures = check_renewal({"E1": 89, "E2": 110}, LAST_ACCEPTED, LAST_AGREEMENT, policy)
    assert [(f.check, f.enterprise_id) for f in failures] == [("per_enterprise", "E1")]


def test_r_agr_2_first_year_with_nothing_last_year_passes() -> None:
    assert check_renewal({}, 0, {}, CHONGQING_RENEWAL) == []


@pytest.mark.parametrize(
    ("demand", "accepted", "agreement"),
    [({"E1": -1}, 200, {}), ({}, -1, {}), ({}, 200, {"E1": -5}), ({"E1": 1.5}, 200, {})],
)
def test_r_agr_2_negative_or_non_integer_inputs_are_errors(
    demand: dict[str, int], accepted: int, agreement: dict[str, int]
) -> None:
    with pytest.raises(ValueError):
        check_renewal(demand, accepted, agreement, CHONGQING_RENEWAL)


@pytest.mark.parametrize("ratio", [Decimal("-0.1"), Decimal("1.01"), Decimal("NaN")])
def test_r_agr_2_policy_ratios_are_between_zero_and_one(ratio: Decimal) -> None:
    with pytest.raises(ValueError):
        RenewalPolicy(total_min_ratio=ratio)


def test_r_agr_2_failing_renewal_needs_an_approved_exception_with_a_reason() -> None:
    failures = check_renewal({"E1": 89, "E2": 110}, LAST_ACCEPTED, LAST_AGREEMENT,
                             CHONGQING_RENEWAL)
    assert renewal_allowed([]) is True
    assert renewal_allowed(failures) is False
    assert renewal_allowed(failures, approved_exception_reason="  ") is False
    assert renewal_allowed(failures, approved_exception_reason="科室撤并") is True
    assert renewal_allowed(failures, approved_exception_reason="科室撤并",
                           exceptions_allowed=False) is False


# --------------------------------------------------------------------------------------------
# R-AGR-3 progress


@pytest.mark.parametrize(
    ("accepted", "agreement", "ratio"),
    [
        (0, 100, Decimal("0.0000")),
        (50, 100, Decimal("0.5000")),
        (100, 100, Decimal("1.0000")),
        (120, 100, Decimal("1.2000")),  # beyond the agreement (R-AGR-4): not capped
        (1, 3, Decimal("0.3333")),
        (2, 3, Decimal("0.6666")),  # truncated, not rounded
        (9_999, 10_000, Decimal("0.9999")),
        (99_999, 100_000, Decimal("0.9999")),  # never shown as complete before it is
    ],
)
def test_r_agr_3_progress_ratio_four_places(accepted: int, agreement: int, ratio: Decimal) -> None:
    result = progress(accepted, agreement)
    assert result == ratio
    assert result is not None and result.as_tuple().exponent == -4


def test_r_agr_3_progress_without_agreement_volume_is_none() -> None:
    assert progress(0, 0) is None
    assert progress(5, 0) is None


@pytest.mark.parametrize(("accepted", "agreement"), [(-1, 10), (1, -10), (True, 10)])
def test_r_agr_3_progress_refuses_bad_counts(accepted: int, agreement: int) -> None:
    with pytest.raises(ValueError):
        progress(accepted, agreement)


@pytest.mark.parametrize(
    ("accepted", "agreement", "left"),
    [(0, 100, 100), (40, 100, 60), (100, 100, 0), (130, 100, 0), (0, 0, 0), (5, 0, 0)],
)
def test_r_agr_3_remaining_never_below_zero(accepted: int, agreement: int, left: int) -> None:
    assert remaining(accepted, agreement) == left


# --------------------------------------------------------------------------------------------
# R-AGR-6 pacing (EXAMPLES.md: annual 240, even line 20 a month, tolerance 60 units)


def test_r_agr_6_example_40_40_40_no_warning() -> None:
    assert pacing_warnings(240, [40, 40, 40], PacingPolicy()) == []


def test_r_agr_6_example_month_4_another_40_one_warning() -> None:
    warnings = pacing_warnings(240, [40, 40, 40, 40], PacingPolicy())
    assert warnings == [
        PacingWarning(
            month=4, check="cumulative", ordered=40, cumulative=160, even_line=Fraction(80),
            deviation=Fraction(80), limit=Fraction(60),
            reason="month 4: cumulative 160 is 80 ahead of the even line 80, more than the "
            "tolerance 60 (25 % of 240)",
        )
    ]


def test_r_agr_6_example_41_in_month_1_warns() -> None:
    warnings = pacing_warnings(240, [41], PacingPolicy())
    assert warnings == [
        PacingWarning(
            month=1, check="monthly", ordered=41, cumulative=41, even_line=Fraction(20),
            deviation=Fraction(21), limit=Fraction(40),
            reason="month 1: 41 ordered, above 2 × monthly share 20 = 40",
        )
    ]


def test_r_agr_6_exactly_twice_the_share_is_allowed() -> None:
    assert pacing_warnings(240, [40]) == []


def test_r_agr_6_nothing_ordered_in_month_1_is_not_a_behind_warning() -> None:
    # month-1 line 20 → 20 behind ≤ 60
    assert pacing_warnings(240, [0], PacingPolicy()) == []


def test_r_agr_6_behind_the_line_warns_from_month_4_when_nothing_is_ordered() -> None:
    assert pacing_warnings(240, [0, 0, 0]) == []  # 60 behind at month 3: not more than 60
    warnings = pacing_warnings(240, [0, 0, 0, 0])
    assert [(w.month, w.check, w.deviation) for w in warnings] == [
        (4, "cumulative", Fraction(-80))
    ]
    assert warnings[0].reason == (
        "month 4: cumulative 0 is 80 behind the even line 80, more than the tolerance 60 "
        "(25 % of 240)"
    )


def test_r_agr_6_behind_counts_after_a_bunched_start_too() -> None:
    # 60 in month 1 (monthly warning), then nothing: behind from month 7 (line 140, 80 behind)
    warnings = pacing_warnings(240, [60, 0, 0, 0, 0, 0, 0])
    assert [(w.month, w.check) for w in warnings] == [(1, "monthly"), (7, "cumulative")]
    assert warnings[1].deviation == Fraction(-80)


def test_r_agr_6_one_month_can_raise_both_warnings() -> None:
    warnings = pacing_warnings(240, [100])
    assert [(w.month, w.check) for w in warnings] == [(1, "monthly"), (1, "cumulative")]


def test_r_agr_6_even_orders_all_year_never_warn() -> None:
    assert pacing_warnings(240, [20] * 12) == []


def test_r_agr_6_uneven_share_uses_exact_fractions() -> None:
    # annual 100: share 25/3, monthly limit 50/3 = 16.67; tolerance 25
    assert pacing_warnings(100, [16]) == []
    warnings = pacing_warnings(100, [17])
    assert [(w.check, w.limit) for w in warnings] == [("monthly", Fraction(50, 3))]
    assert warnings[0].reason == "month 1: 17 ordered, above 2 × monthly share 8.33 = 16.67"


def test_r_agr_6_cumulative_edge_exactly_at_tolerance_is_allowed_one_more_warns() -> None:
    # annual 120: line 10 a month, monthly limit 20, tolerance 30
    assert pacing_warnings(120, [20, 20, 20]) == []  # 60 vs line 30: exactly 30 ahead
    assert pacing_warnings(120, [20, 20, 20, 10]) == []  # 70 vs 40: exactly 30 ahead
    warnings = pacing_warnings(120, [20, 20, 20, 11])  # 71 vs 40: 31 ahead
    assert [(w.month, w.check, w.deviation) for w in warnings] == [
        (4, "cumulative", Fraction(31))
    ]


def test_r_agr_6_policy_parameters_are_used() -> None:
    strict = PacingPolicy(monthly_multiple=Decimal("1.5"), cumulative_tolerance=Decimal("0.1"))
    # annual 240: monthly limit 30, tolerance 24
    assert pacing_warnings(240, [30], strict) == []
    assert [w.check for w in pacing_warnings(240, [31], strict)] == ["monthly"]
    assert [w.check for w in pacing_warnings(240, [0, 0], strict)] == ["cumulative"]  # 40 behind


def test_r_agr_6_the_contracts_profile_fits_as_it_is() -> None:
    policy = profiles.PacingPolicy(enabled=True)
    assert [w.month for w in pacing_warnings(240, [40, 40, 40, 40], policy)] == [4]


def test_r_agr_6_no_agreement_volume_no_pacing() -> None:
    assert pacing_warnings(0, [5, 10, 0]) == []


@pytest.mark.parametrize(
    ("annual", "orders"), [(240, [0] * 13), (240, [-1]), (-240, [1]), (240, [1.5])]
)
def test_r_agr_6_refuses_bad_inputs(annual: int, orders: list[int]) -> None:
    with pytest.raises(ValueError):
        pacing_warnings(annual, orders)


@pytest.mark.parametrize(
    ("multiple", "tolerance"),
    [(Decimal("0.5"), Decimal("0.25")), (Decimal(2), Decimal("1.5")), (Decimal(2), Decimal(-1))],
)
def test_r_agr_6_policy_is_validated(multiple: Decimal, tolerance: Decimal) -> None:
    with pytest.raises(ValueError):
        PacingPolicy(monthly_multiple=multiple, cumulative_tolerance=tolerance)


# --------------------------------------------------------------------------------------------
# R-AGR-8 order lifecycle

S, A = OrderStatus, OrderAction
LEGAL: dict[tuple[OrderStatus, OrderAction], OrderStatus] = {
    (S.PLACED, A.ROUTE): S.ROUTED,
    (S.ROUTED, A.ROUTE): S.ROUTED,  # re-route before shipping (R-SUP-4)
    (S.ROUTED, A.SHIP): S.SHIPPED,
    (S.SHIPPED, A.DELIVER): S.DELIVERED,
    (S.DELIVERED, A.ACCEPT): S.ACCEPTED,
    (S.DELIVERED, A.ACCEPT_PARTIALLY): S.PARTIALLY_ACCEPTED,
    (S.DELIVERED, A.REJECT): S.REJECTED,
    (S.PLACED, A.CANCEL): S.CANCELLED,
    (S.ROUTED, A.CANCEL): S.CANCELLED,
}
ALL_PAIRS = [(s, a) for s in OrderStatus for a in OrderAction]


def test_r_agr_8_transition_table_is_exactly_the_legal_moves() -> None:
    assert dict(TRANSITIONS) == LEGAL


@pytest.mark.parametrize(("current", "action"), ALL_PAIRS, ids=[f"{s}-{a}" for s, a in ALL_PAIRS])
def test_r_agr_8_every_status_and_action(current: OrderStatus, action: OrderAction) -> None:
    expected = LEGAL.get((current, action))
    if expected is not None:
        assert transition(current, action) is expected
    else:
        with pytest.raises(IllegalTransition) as info:
            transition(current, action)
        assert info.value.current is current
        assert info.value.action is action


@pytest.mark.parametrize(
    ("current", "action", "message"),
    [
        (S.SHIPPED, A.CANCEL, "cannot cancel an order that is shipped: cancel is allowed only "
         "when the order is placed or routed"),
        (S.ROUTED, A.ACCEPT, "cannot accept an order that is routed: accept is allowed only "
         "when the order is delivered"),
        (S.CANCELLED, A.ROUTE, "cannot route an order that is cancelled: the order is already "
         "cancelled, which is final"),
        (S.ACCEPTED, A.REJECT, "cannot reject an order that is accepted: the order is already "
         "accepted, which is final"),
    ],
)
def test_r_agr_8_illegal_transition_message(
    current: OrderStatus, action: OrderAction, message: str
) -> None:
    with pytest.raises(IllegalTransition, match="^" + message + "$"):
        transition(current, action)


def test_r_agr_8_statuses_and_actions_accept_their_string_values() -> None:
    assert transition("delivered", "accept") is S.ACCEPTED  # type: ignore[arg-type]


def test_r_agr_8_final_statuses_allow_nothing() -> None:
    for status in FINAL_STATUSES:
        assert not any(s is status for s, _ in TRANSITIONS)


def test_r_agr_8_only_acceptance_counts_toward_progress() -> None:
    assert COUNTS_TOWARD_PROGRESS == {S.ACCEPTED, S.PARTIALLY_ACCEPTED}


def test_r_agr_8_happy_path() -> None:
    status = S.PLACED
    for action in (A.ROUTE, A.SHIP, A.DELIVER, accept(10, 10, 10).action):
        status = transition(status, action)
    assert status is S.ACCEPTED


@pytest.mark.parametrize(
    ("ordered", "delivered", "accepted", "status", "refused", "undelivered"),
    [
        (10, 10, 10, S.ACCEPTED, 0, 0),
        (10, 10, 7, S.PARTIALLY_ACCEPTED, 3, 0),  # 3 refused on inspection
        (10, 8, 8, S.PARTIALLY_ACCEPTED, 0, 2),  # short delivery, all of it accepted
        (10, 8, 5, S.PARTIALLY_ACCEPTED, 3, 2),
        (1, 1, 1, S.ACCEPTED, 0, 0),
    ],
)
def test_r_agr_8_accept_quantities(
    ordered: int, delivered: int, accepted: int, status: OrderStatus, refused: int,
    undelivered: int,
) -> None:
    result = accept(ordered, delivered, accepted)
    assert result.status is status
    assert transition(S.DELIVERED, result.action) is status
    assert (result.accepted_units, result.refused_units, result.undelivered_units) == (
        accepted, refused, undelivered,
    )


@pytest.mark.parametrize(
    ("ordered", "delivered", "accepted"),
    [
        (10, 10, 0),  # accepting nothing is a rejection
        (10, 10, -1),
        (10, 10, 11),  # more than delivered
        (10, 5, 6),
        (10, 11, 10),  # delivered more than ordered
        (10, -1, 1),
        (0, 0, 0),
        (10, 0, 1),
        (10, 10, True),
        (10.0, 10, 10),
    ],
)
def test_r_agr_8_accept_refuses_impossible_quantities(
    ordered: int, delivered: int, accepted: int
) -> None:
    with pytest.raises(InvalidAcceptance):
        accept(ordered, delivered, accepted)


def test_r_agr_8_accepting_nothing_points_to_rejection() -> None:
    with pytest.raises(InvalidAcceptance, match="reject the order with a reason"):
        accept(10, 10, 0)


def test_r_agr_8_rejection_needs_a_reason() -> None:
    assert rejection_reason("  包装破损 ") == "包装破损"
    for blank in ("", "   ", None):
        with pytest.raises(InvalidAcceptance):
            rejection_reason(blank)


# --------------------------------------------------------------------------------------------
# R-CAT-5 price, R-AGR-4 / R-AGR-5 order classes


@pytest.mark.parametrize(
    ("unit", "listing"),
    [(Decimal("848.00"), Decimal("848.00")), (Decimal("848"), Decimal("848.00"))],
)
def test_r_cat_5_order_at_exactly_the_listing_price(unit: Decimal, listing: Decimal) -> None:
    check_order_price(unit, listing)


@pytest.mark.parametrize(
    "unit", [Decimal("847.99"), Decimal("848.01"), Decimal("848.001"), Decimal("800.00")]
)
def test_r_cat_5_any_difference_is_refused(unit: Decimal) -> None:
    with pytest.raises(PriceMismatch) as info:
        check_order_price(unit, Decimal("848.00"))
    assert info.value.unit_price == unit
    assert "no second negotiation" in str(info.value)


@pytest.mark.parametrize("unit", [Decimal("NaN"), Decimal("Infinity"), 848.0])
def test_r_cat_5_non_finite_or_float_price_is_an_error(unit: Decimal) -> None:
    with pytest.raises(ValueError):
        check_order_price(unit, Decimal("848.00"))


@pytest.mark.parametrize(
    ("units", "price", "amount"),
    [
        (3, Decimal("848.00"), "2544.00"),
        (30, Decimal("800.00"), "24000.00"),  # EXAMPLES.md R-PAY-2: product #5 × 30
        (1, Decimal("0.01"), "0.01"),
        (7, Decimal("0.1"), "0.70"),
        (0, Decimal("848.00"), "0.00"),
        # the largest allowed: 22 digits, beyond the default 28-digit context only in theory
        (999_999_999, Decimal("999999999999.99"), "999999998999990000000.01"),
    ],
)
def test_order_amount_is_exact(units: int, price: Decimal, amount: str) -> None:
    result = order_amount(units, price)
    assert result == Decimal(amount)
    assert str(result) == amount


@pytest.mark.parametrize(
    ("units", "price"),
    [
        (1, Decimal("848.001")),
        (1, Decimal("-1.00")),
        (-1, Decimal("848.00")),
        (1.0, Decimal("848.00")),
        (1, 848.0),
        (1, Decimal("NaN")),
        (1, Decimal("1e12")),
        (10**9, Decimal("1.00")),
    ],
)
def test_order_amount_refuses_bad_inputs(units: int, price: Decimal) -> None:
    with pytest.raises(ValueError):
        order_amount(units, price)


@pytest.mark.parametrize(
    ("units", "left", "winning", "kind"),
    [
        (10, 100, True, OrderClass.WITHIN_AGREEMENT),
        (10, 10, True, OrderClass.WITHIN_AGREEMENT),  # exactly fills the agreement
        (11, 10, True, OrderClass.BEYOND_AGREEMENT),  # straddles: one order, classed beyond
        (1, 0, True, OrderClass.BEYOND_AGREEMENT),  # R-AGR-4: completed, still supplied
        (5, None, True, OrderClass.NO_AGREEMENT),  # R-AGR-4: no agreement volume, supplied
        (5, 100, False, OrderClass.NON_WINNING),  # R-AGR-5: another listed product
        (5, None, False, OrderClass.NON_WINNING),
        (5, 0, False, OrderClass.NON_WINNING),
    ],
)
def test_r_agr_4_r_agr_5_classify_order(
    units: int, left: int | None, winning: bool, kind: OrderClass
) -> None:
    assert classify_order(units, left, winning) is kind


@pytest.mark.parametrize(("units", "left"), [(0, 10), (-1, 10), (5, -1), (True, 10)])
def test_classify_order_refuses_bad_counts(units: int, left: int) -> None:
    with pytest.raises(ValueError):
        classify_order(units, left, True)


@pytest.mark.parametrize(
    ("units", "left", "split"),
    [(10, 4, (4, 6)), (10, 10, (10, 0)), (10, 100, (10, 0)), (10, 0, (0, 10)),
     (10, None, (0, 10))],
)
def test_r_agr_4_split_units_within_and_beyond(
    units: int, left: int | None, split: tuple[int, int]
) -> None:
    assert split_units(units, left) == split


def test_r_agr_4_straddling_order_counts_exactly_what_remains() -> None:
    left = remaining(accepted=96, agreement=100)
    assert classify_order(10, left, True) is OrderClass.BEYOND_AGREEMENT
    assert split_units(10, left) == (4, 6)
