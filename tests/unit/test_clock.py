"""Business time in Asia/Shanghai: R-PRG-4, R-PAY-1 (examples from EXAMPLES.md), R-PAY-2."""

from datetime import UTC, datetime, timedelta

import pytest

from services.runtime.clock import (
    SHANGHAI,
    FixedClock,
    add_months,
    business_date,
    days_overdue,
    end_of_next_month,
)


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("accepted", "due"),
    [
        (sh(2023, 3, 15, 10), sh(2023, 5, 1)),
        # the trap: 20:00Z on 31 March is 1 April 04:00 in Shanghai, so April is the month
        (datetime(2023, 3, 31, 20, tzinfo=UTC), sh(2023, 6, 1)),
        (sh(2024, 12, 20, 9), sh(2025, 2, 1)),
        (sh(2023, 2, 10), sh(2023, 4, 1)),  # RULES: due 2023-03-31 24:00
        (sh(2023, 1, 31), sh(2023, 3, 1)),  # RULES: due 2023-02-28 24:00
        (sh(2024, 1, 31, 23, 59), sh(2024, 3, 1)),  # leap year: February has 29 days
        (sh(2023, 12, 31, 23, 59, 59), sh(2024, 2, 1)),
        (sh(2024, 11, 30), sh(2025, 1, 1)),  # year rollover
        # 15:59:59Z on 31 January is 23:59:59 in Shanghai: still January
        (datetime(2023, 1, 31, 15, 59, 59, tzinfo=UTC), sh(2023, 3, 1)),
        # 16:00Z on 31 January is 00:00 on 1 February in Shanghai
        (datetime(2023, 1, 31, 16, 0, tzinfo=UTC), sh(2023, 4, 1)),
    ],
)
def test_r_pay_1_end_of_next_month(accepted: datetime, due: datetime) -> None:
    assert end_of_next_month(accepted) == due
    assert end_of_next_month(accepted).utcoffset() == timedelta(hours=8)


def test_r_pay_1_bound_is_exclusive_at_midnight() -> None:
    due = end_of_next_month(sh(2023, 2, 10))
    assert days_overdue(due, due - timedelta(microseconds=1)) == 0
    assert days_overdue(due, due) == 1
    assert days_overdue(due, due + timedelta(days=1, hours=1)) == 2


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError):
        end_of_next_month(datetime(2023, 1, 1))


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (sh(2023, 1, 31), 6, sh(2023, 7, 31)),  # R-PAY-2 installment 2 due
        (sh(2023, 1, 31), 1, sh(2023, 2, 28)),  # clamped
        (sh(2024, 1, 31), 1, sh(2024, 2, 29)),  # leap year
        (sh(2021, 10, 15), 24, sh(2023, 10, 15)),  # Liaoning 2-year cycle
        (sh(2023, 1, 31), 12, sh(2024, 1, 31)),  # agreement years back to back (R-PRG-2)
    ],
)
def test_r_pay_2_add_calendar_months_clamped(
    start: datetime, months: int, expected: datetime
) -> None:
    assert add_months(start, months) == expected


def test_business_date_is_shanghai_date() -> None:
    assert str(business_date(datetime(2023, 3, 31, 20, tzinfo=UTC))) == "2023-04-01"


def test_fixed_clock_moves_only_when_told() -> None:
    clock = FixedClock(sh(2023, 1, 31))
    assert clock.now() == clock.now() == sh(2023, 1, 31)
    clock.advance(timedelta(days=1))
    assert clock.now() == sh(2023, 2, 1)
    with pytest.raises(ValueError):
        clock.set(datetime(2023, 1, 1))
