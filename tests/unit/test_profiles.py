"""Policy profiles as plain values: the seed presets, derived dates, and refused profiles.

R-AGR-2, R-AGR-3, R-AGR-6, R-PAY-1..5, R-CAT-7, R-CRD-2/3, R-SUP-6; numbers from EXAMPLES.md.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from contracts.profiles import (
    CreditLevel,
    CreditScheme,
    PaymentStandardPolicy,
    PolicyProfile,
    PrepaymentPolicy,
    ProgramProfileChange,
    RenewalPolicy,
)
from services.catalog.presets import (
    CHONGQING_STENTS_2023,
    CHONGQING_STENTS_2023_PROGRAM,
    CREDIT_SCHEMES,
    LIAONING_GUIDE_WIRES_2021,
    LIAONING_GUIDE_WIRES_2021_PROGRAM,
    NATIONAL_CREDIT_2020,
    NATIONAL_CREDIT_2025,
    PRESETS,
    PROGRAM_PRESETS,
    installment_due_dates,
    settlement_due,
    stock_preparation_date,
)
from services.runtime.clock import SHANGHAI


def sh(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=SHANGHAI)


def chongqing_json() -> dict[str, Any]:
    data: dict[str, Any] = CHONGQING_STENTS_2023.model_dump(mode="json")
    return data


# --- the presets -------------------------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(PRESETS))
def test_presets_validate_again_from_their_own_json(key: str) -> None:
    profile = PRESETS[key]
    assert PolicyProfile.model_validate(profile.model_dump()) == profile
    assert PolicyProfile.model_validate_json(profile.model_dump_json()) == profile


def test_presets_and_program_presets_agree() -> None:
    assert set(PRESETS) == set(PROGRAM_PRESETS) == {
        "chongqing-stents-2023", "liaoning-guide-wires-2021"}
    for key, program in PROGRAM_PRESETS.items():
        assert program.key == key
        assert PRESETS[key] is program.profile


def test_r_prg_1_chongqing_program_facts() -> None:
    program = CHONGQING_STENTS_2023_PROGRAM
    assert program.notice_no == "渝医保办〔2023〕3号"
    assert program.category == "冠脉支架"
    assert program.organiser == "national"
    assert program.execution_start == datetime.fromisoformat("2023-01-31T00:00:00+08:00")
    assert program.cycle_years == 3
    assert program.cycle_end == sh(2026, 1, 31)
    body = program.program_in()
    assert body.program_id == "CQ-STENT-2023"
    assert body.execution_start == sh(2023, 1, 31)


def test_r_prg_1_liaoning_program_facts() -> None:
    program = LIAONING_GUIDE_WIRES_2021_PROGRAM
    assert program.notice_no == "辽医保〔2021〕87号"
    assert program.category == "冠脉导引导丝"
    assert program.organiser == "alliance"
    assert program.procurement_doc_no == "SJLM-14-HC2021-1"
    assert program.execution_start == datetime.fromisoformat("2021-10-15T00:00:00+08:00")
    assert program.cycle_years == 2
    assert program.cycle_end == sh(2023, 10, 15)
    assert program.program_in("LN-1").program_id == "LN-1"


def test_chongqing_profile_numbers() -> None:
    p = CHONGQING_STENTS_2023
    assert p.version == 1
    assert p.renewal.total_min_ratio == Decimal("0.95")
    assert p.renewal.per_enterprise_min_ratio == Decimal("0.90")
    assert p.completion_scope == "agreement_year"
    assert p.pacing.enabled is False
    assert p.prepayment.mode == "prepay_institution"
    assert p.prepayment.amount_share == Decimal(1)
    assert [i.share for i in p.prepayment.installments] == [Decimal("0.5"), Decimal("0.5")]
    assert p.offset is not None and p.offset.starts_after == "agreement_year"
    assert p.offset.method == "monthly_fund_deduction"
    assert p.payment_standard.rule == "winning_price"
    assert p.payment_standard.cap is None
    assert p.payment_standard.non_winning == "keep_previous"
    assert p.credit.scheme == "national-2020"
    assert p.stock_preparation_days_before_start is None


def test_liaoning_profile_numbers() -> None:
    p = LIAONING_GUIDE_WIRES_2021
    assert p.renewal.total_min_ratio is None
    assert p.renewal.per_enterprise_min_ratio is None
    assert p.completion_scope == "cycle"
    assert p.pacing.enabled is True
    assert p.pacing.monthly_multiple == Decimal(2)
    assert p.pacing.cumulative_tolerance == Decimal("0.25")
    assert p.prepayment.mode == "prepay_institution"
    assert p.prepayment.minimum_share == Decimal("0.5")
    assert p.prepayment.amount_share == Decimal("0.5")
    assert p.offset is not None and p.offset.starts_after == "cycle"
    assert p.payment_standard.rule == "category_cap"
    assert p.payment_standard.cap == Decimal("720.00")
    assert p.credit.scheme == "national-2020"


# --- dates derived from a profile --------------------------------------------------------------


def test_r_pay_2_chongqing_installment_due_dates() -> None:
    dues = installment_due_dates(CHONGQING_STENTS_2023, sh(2023, 1, 31))
    assert dues == [
        datetime.fromisoformat("2023-03-01T00:00:00+08:00"),  # end of February, exclusive
        datetime.fromisoformat("2023-07-31T00:00:00+08:00"),  # start + 6 months
    ]


def test_r_pay_2_due_dates_use_the_shanghai_month() -> None:
    # 2023-01-31T16:00Z is 2023-02-01 00:00 in Shanghai: February is the start month.
    dues = installment_due_dates(CHONGQING_STENTS_2023, datetime(2023, 1, 31, 16, tzinfo=UTC))
    assert dues == [sh(2023, 4, 1), sh(2023, 8, 1)]


def test_r_pay_3_liaoning_prepayment_is_due_before_the_start() -> None:
    assert installment_due_dates(LIAONING_GUIDE_WIRES_2021, sh(2021, 10, 15)) == [
        sh(2021, 10, 15)]


def test_direct_settlement_has_no_installments() -> None:
    profile = LIAONING_GUIDE_WIRES_2021.model_copy(
        update={"prepayment": PrepaymentPolicy(mode="direct_settlement"), "offset": None})
    profile = PolicyProfile.model_validate(profile.model_dump())
    assert installment_due_dates(profile, sh(2021, 10, 15)) == []


@pytest.mark.parametrize(
    ("accepted", "due"),
    [
        (sh(2023, 3, 15, 10), sh(2023, 5, 1)),
        (datetime(2023, 3, 31, 20, tzinfo=UTC), sh(2023, 6, 1)),
        (sh(2024, 12, 20, 9), sh(2025, 2, 1)),
    ],
)
def test_r_pay_1_settlement_due_from_the_profile(accepted: datetime, due: datetime) -> None:
    assert settlement_due(CHONGQING_STENTS_2023, accepted) == due
    assert settlement_due(LIAONING_GUIDE_WIRES_2021, accepted) == due


def test_r_sup_6_stock_preparation_date() -> None:
    assert stock_preparation_date(LIAONING_GUIDE_WIRES_2021, sh(2021, 10, 15)) == date(
        2021, 10, 14)
    assert stock_preparation_date(CHONGQING_STENTS_2023, sh(2023, 1, 31)) is None


# --- credit schemes ----------------------------------------------------------------------------


def test_r_crd_2_credit_schemes_levels_in_order() -> None:
    assert [lv.name for lv in NATIONAL_CREDIT_2020.levels] == ["一般", "中等", "严重", "特别严重"]
    assert [lv.name for lv in NATIONAL_CREDIT_2025.levels] == [
        "失信", "严重失信", "特别严重失信"]
    assert set(CREDIT_SCHEMES) == {"national-2020", "national-2025"}
    assert NATIONAL_CREDIT_2025.severity("严重失信") > NATIONAL_CREDIT_2025.severity("dishonest")
    with pytest.raises(KeyError):
        NATIONAL_CREDIT_2020.level("失信")


def test_r_crd_3_measures_by_level() -> None:
    assert NATIONAL_CREDIT_2020.level("general").measures == ("reminder",)
    top = NATIONAL_CREDIT_2020.level("特别严重")
    assert {"suspend_all_products_region", "public_disclosure"} <= set(top.measures)
    assert [lv.distributor_bar_years for lv in NATIONAL_CREDIT_2025.levels] == [1, 3, 5]
    assert all("distributor_bar" in lv.measures for lv in NATIONAL_CREDIT_2025.levels)


# --- refused profiles --------------------------------------------------------------------------


def test_shares_not_summing_to_one_are_refused() -> None:
    data = chongqing_json()
    data["prepayment"]["installments"][1]["share"] = "0.4"
    with pytest.raises(ValidationError, match="sum to exactly 1"):
        PolicyProfile.model_validate(data)


def test_category_cap_without_a_cap_is_refused() -> None:
    with pytest.raises(ValidationError, match="cap is required"):
        PaymentStandardPolicy(rule="category_cap")
    data = chongqing_json()
    data["payment_standard"] = {"rule": "category_cap"}
    with pytest.raises(ValidationError, match="cap is required"):
        PolicyProfile.model_validate(data)


def test_a_cap_without_the_category_cap_rule_is_refused() -> None:
    with pytest.raises(ValidationError, match="only allowed"):
        PaymentStandardPolicy(rule="winning_price", cap=Decimal("720.00"))


@pytest.mark.parametrize("ratio", ["1.01", "-0.1", "abc"])
def test_ratios_outside_0_to_1_are_refused(ratio: str) -> None:
    with pytest.raises(ValidationError):
        RenewalPolicy(total_min_ratio=ratio)
    data = chongqing_json()
    data["renewal"]["per_enterprise_min_ratio"] = ratio
    with pytest.raises(ValidationError):
        PolicyProfile.model_validate(data)


def test_float_ratios_are_refused() -> None:
    with pytest.raises(ValidationError, match="not a float"):
        RenewalPolicy.model_validate({"total_min_ratio": 0.95})


def test_prepayment_below_the_minimum_is_refused() -> None:
    data = LIAONING_GUIDE_WIRES_2021.model_dump(mode="json")
    data["prepayment"]["amount_share"] = "0.4"
    with pytest.raises(ValidationError, match="below the minimum"):
        PolicyProfile.model_validate(data)


def test_prepaying_without_an_offset_policy_is_refused() -> None:
    data = chongqing_json()
    data["offset"] = None
    with pytest.raises(ValidationError, match="offset policy is required"):
        PolicyProfile.model_validate(data)


def test_direct_settlement_with_installments_is_refused() -> None:
    data = chongqing_json()
    data["prepayment"]["mode"] = "direct_settlement"
    with pytest.raises(ValidationError, match="prepays nothing"):
        PolicyProfile.model_validate(data)


def test_unknown_fields_are_refused_and_profiles_are_frozen() -> None:
    data = chongqing_json()
    data["surprise"] = 1
    with pytest.raises(ValidationError):
        PolicyProfile.model_validate(data)
    with pytest.raises(ValidationError):
        CHONGQING_STENTS_2023.version = 2  # type: ignore[misc]


def test_credit_level_bar_years_need_the_bar_measure() -> None:
    with pytest.raises(ValidationError, match="distributor_bar"):
        CreditLevel(code="x", name="X", measures=("reminder",), distributor_bar_years=1)
    with pytest.raises(ValidationError, match="unique"):
        CreditScheme(scheme="national-2025", levels=(
            CreditLevel(code="x", name="X", measures=("reminder",)),
            CreditLevel(code="x", name="Y", measures=("warning",)),
        ))


# --- JSON --------------------------------------------------------------------------------------


def test_json_round_trip_keeps_decimals_as_strings() -> None:
    text = LIAONING_GUIDE_WIRES_2021.model_dump_json()
    data = json.loads(text)
    assert data["payment_standard"]["cap"] == "720.00"
    assert data["prepayment"]["minimum_share"] == "0.5"
    assert data["prepayment"]["installments"][0]["share"] == "1"
    assert data["pacing"]["cumulative_tolerance"] == "0.25"
    assert data["pacing"]["monthly_multiple"] == "2"
    cq = json.loads(CHONGQING_STENTS_2023.model_dump_json())
    assert cq["renewal"] == {
        "total_min_ratio": "0.95", "per_enterprise_min_ratio": "0.90",
        "exceptions_allowed": True}
    again = PolicyProfile.model_validate_json(text)
    assert again == LIAONING_GUIDE_WIRES_2021
    assert isinstance(again.payment_standard.cap, Decimal)
    assert again.prepayment.minimum_share == Decimal("0.5")


def test_profile_json_schema_is_generated() -> None:
    schema = PolicyProfile.model_json_schema()
    assert "prepayment" in schema["required"]


# --- changes -----------------------------------------------------------------------------------


def test_profile_change_needs_the_next_version() -> None:
    v2 = CHONGQING_STENTS_2023.model_copy(update={"version": 2})
    change = ProgramProfileChange(expected_version=1, profile=v2, reason="city switches")
    assert change.profile.version == 2
    with pytest.raises(ValidationError, match="version 2"):
        ProgramProfileChange(expected_version=1, profile=CHONGQING_STENTS_2023, reason="x")
    with pytest.raises(ValidationError):
        ProgramProfileChange(expected_version=1, profile=v2, reason="")
