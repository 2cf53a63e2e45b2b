"""Payments rules with plain values: deadlines (R-PAY-1), schedules (R-PAY-2/3), offsets
(R-PAY-4), ageing, with the numbers of EXAMPLES.md."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from contracts.profiles import PolicyProfile
from services.catalog.presets import PRESETS
from services.payments.domain import deadlines, offsets, schedules
from services.runtime.clock import SHANGHAI

D = Decimal


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def chongqing() -> PolicyProfile:
    return PRESETS["chongqing-stents-2023"]


def liaoning() -> PolicyProfile:
    return PRESETS["liaoning-guide-wires-2021"]


# --- R-PAY-1 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("accepted", "due"), [
    (sh(2023, 3, 15, 10), sh(2023, 5, 1)),                         # EXAMPLES row 1
    (datetime(2023, 3, 31, 20, tzinfo=UTC), sh(2023, 6, 1)),        # row 2: Shanghai April
    (sh(2024, 12, 20, 9), sh(2025, 2, 1)),                          # row 3: over the year end
    (sh(2023, 2, 10), sh(2023, 4, 1)),                              # RULES: due 2023-03-31 24:00
    (sh(2023, 1, 31), sh(2023, 3, 1)),                              # RULES: due 2023-02-28 24:00
    (sh(2024, 1, 31, 23, 30), sh(2024, 3, 1)),                      # 23:30 on a month's last day
    (datetime(2024, 1, 31, 16, 30, tzinfo=UTC), sh(2024, 4, 1)),    # 16:30Z = Feb 1 00:30 Shanghai
    (sh(2024, 2, 29, 12), sh(2024, 4, 1)),                          # leap February
    (datetime(2024, 2, 29, 16, 0, tzinfo=UTC), sh(2024, 5, 1)),     # 16:00Z Feb 29 = Mar 1 Shanghai
])
def test_settlement_deadline_is_end_of_next_shanghai_month(accepted: datetime,
                                                           due: datetime) -> None:
    """R-PAY-1: before 00:00 Shanghai on the first day of the second month after acceptance."""
    assert deadlines.settlement_due(accepted) == due
    assert deadlines.settlement_due_for(chongqing(), accepted) == due


def test_overdue_from_the_exclusive_bound_counted_per_day() -> None:
    due = sh(2023, 5, 1)
    assert not deadlines.is_overdue(due, sh(2023, 4, 30, 23, 59))
    assert deadlines.is_overdue(due, due)
    assert deadlines.age_bucket(due, sh(2023, 4, 30, 23)) == "not_due"
    assert deadlines.age_bucket(due, due) == "0-30"
    assert deadlines.age_bucket(due, sh(2023, 5, 30, 12)) == "0-30"     # day 30
    assert deadlines.age_bucket(due, sh(2023, 5, 31, 0)) == "31-60"     # day 31
    assert deadlines.age_bucket(due, sh(2023, 6, 29, 12)) == "31-60"    # day 60
    assert deadlines.age_bucket(due, sh(2023, 6, 30, 0)) == "61-90"     # day 61
    assert deadlines.age_bucket(due, sh(2023, 7, 29, 12)) == "61-90"    # day 90
    assert deadlines.age_bucket(due, sh(2023, 7, 30, 0)) == "90+"       # day 91


# --- R-PAY-2/3 ----------------------------------------------------------------------------------


def test_chongqing_schedule_matches_examples() -> None:
    """R-PAY-2 EXAMPLES: start 2023-01-31, 800.00 × 30 = 24,000.00 → 12,000.00 by the end of
    February, 12,000.00 by 2023-07-31 00:00."""
    lines = schedules.schedule(chongqing(), D("24000.00"), sh(2023, 1, 31))
    assert [(x.seq, x.due_at, x.amount) for x in lines] == [
        (1, sh(2023, 3, 1), D("12000.00")),
        (2, sh(2023, 7, 31), D("12000.00")),
    ]


def test_chongqing_schedule_in_a_leap_year_and_rounding_goes_to_the_last() -> None:
    lines = schedules.schedule(chongqing(), D("0.03"), sh(2024, 1, 31))
    assert [x.due_at for x in lines] == [sh(2024, 3, 1), sh(2024, 7, 31)]
    assert [x.amount for x in lines] == [D("0.01"), D("0.02")]
    assert sum(x.amount for x in lines) == D("0.03")
    aug = schedules.schedule(chongqing(), D("10.00"), sh(2023, 8, 31))
    assert [x.due_at for x in aug] == [sh(2023, 10, 1), sh(2024, 2, 29)]  # clamped to leap Feb


def test_liaoning_prepays_at_least_half_before_the_start() -> None:
    """R-PAY-3: ≥ 50 % of the annual agreement amount, before execution starts."""
    profile = liaoning()
    lines = schedules.schedule(profile, D("10000.00"), sh(2021, 10, 15))
    assert sum(x.amount for x in lines) >= D("5000.00")
    assert lines[0].due_at == sh(2021, 10, 15)


def test_adjustment_never_takes_back_what_was_disbursed() -> None:
    """An agreement cut after a disbursement: the agency's obligation goes down at most to
    nothing; the surplus stays in the prepayment balance for the offsets."""
    assert schedules.adjust(D("24000"), D("0"), D("30000")).transfer == D("6000")
    assert schedules.adjust(D("24000"), D("12000"), D("20000")).transfer == D("-4000")
    assert schedules.adjust(D("24000"), D("12000"), D("10000")).transfer == D("-12000")
    assert schedules.adjust(D("24000"), D("24000"), D("10000")).transfer == D("0")


# --- R-PAY-4 ------------------------------------------------------------------------------------


def test_offset_carries_over_the_months_examples() -> None:
    """R-PAY-4 EXAMPLES: 24,000.00 against 10,000.00 × 3 → offsets 10,000, 10,000, 4,000;
    paid 0, 0, 6,000; balance 0."""
    balance = D("24000.00")
    seen = []
    for _ in range(3):
        month = offsets.apply_month(D("10000.00"), [offsets.Outstanding("p", balance)])
        balance -= month.offset_total
        seen.append((month.offset_total, month.net_payable, balance))
    assert seen == [(D("10000.00"), D("0.00"), D("14000.00")),
                    (D("10000.00"), D("0.00"), D("4000.00")),
                    (D("4000.00"), D("6000.00"), D("0.00"))]
    after = offsets.apply_month(D("10000.00"), [offsets.Outstanding("p", balance)])
    assert after.offsets == () and after.net_payable == D("10000.00")


def test_offset_takes_direct_settlement_first_and_never_goes_below_zero() -> None:
    month = offsets.apply_month(D("100.00"), [offsets.Outstanding("a", D("70.00")),
                                              offsets.Outstanding("b", D("70.00"))],
                                direct_due=D("50.00"))
    assert month.direct_settlement == D("50.00")
    assert month.offsets == (("a", D("50.00")),)
    assert month.net_payable == D("0.00")


def test_offsets_start_the_month_after_the_period() -> None:
    """R-PAY-4: year ending (exclusive) 2024-01-31 00:00 → offsets from February 2024; a year
    ending 2024-03-01 00:00 (last day 29 February) → from March."""
    assert offsets.offset_starts(sh(2024, 1, 31)) == sh(2024, 2, 1)
    assert offsets.offset_starts(sh(2024, 3, 1)) == sh(2024, 3, 1)
    assert offsets.offset_starts(sh(2023, 12, 31, 12)) == sh(2024, 1, 1)


# --- issue #14: PayableOpened written without a model per event ---------------------------------


@pytest.mark.parametrize(("accepted", "distributor", "amount"), [
    (datetime(2024, 1, 31, 16, 30, tzinfo=UTC), None, D("848.00")),
    (datetime(2024, 1, 31, 23, 30, 0, 120, tzinfo=SHANGHAI), "配送D1", D("0.05")),
    (datetime(2024, 2, 29, 12, 0, 59, 999999, tzinfo=UTC), "D\"2\\", D("1234567.8")),
])
def test_opened_payload_is_the_contracts_dump(accepted: datetime, distributor: str | None,
                                              amount: Decimal) -> None:
    """The acceptances' ``PayableOpened`` payload, written by payments without building the
    model (issue #14), is exactly what the contract dumps (field order, money, instants with
    their offset or ``Z``, non-ASCII and escaped ids)."""
    import json

    from contracts.payments import PayableOpened
    from services.payments.events import json_instant
    from services.payments.settlements import opened_payload

    opened_at = datetime(2024, 3, 1, 8, 0, 0, 5, tzinfo=UTC)
    row = {"payable_id": "订单O1", "program_id": "CQ", "institution_id": "医院H1",
           "enterprise_id": "E1", "distributor_id": distributor, "payer": "institution",
           "payer_id": "医院H1", "amount": amount, "accepted_at": accepted,
           "due_at": deadlines.settlement_due_for(chongqing(), accepted)}
    expected = PayableOpened(**row, opened_at=opened_at)
    payload = opened_payload(row, json_instant(opened_at))
    assert payload == json.dumps(expected.model_dump(mode="json"), ensure_ascii=False,
                                 separators=(",", ":"))
    assert PayableOpened.model_validate_json(payload) == expected
