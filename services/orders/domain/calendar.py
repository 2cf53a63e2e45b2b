"""R-PRG-2 / R-AGR-6: a program's agreement years and the months of an agreement year, in
Asia/Shanghai time (R-PRG-4)."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache

from services.runtime.clock import add_months, local

MAX_CYCLE_YEARS = 50
"""No VBP cycle is this long (the notices have 2 and 3 years); a longer one is a typing error."""


@dataclass(frozen=True)
class AgreementYear:
    """One agreement year of a program (R-PRG-2): ``start`` inclusive, ``end`` exclusive.

    ``index`` counts from 1. Both bounds are in Asia/Shanghai time (R-PRG-4).
    """

    index: int
    start: datetime
    end: datetime

    def contains(self, instant: datetime) -> bool:
        return self.start <= local(instant) < self.end


def agreement_years(execution_start: datetime, cycle_years: int) -> list[AgreementYear]:
    """R-PRG-2: the agreement years of a cycle, back to back from the execution start.

    Year *i* runs from ``start + 12·(i-1)`` to ``start + 12·i`` calendar months in Shanghai
    time (:func:`~services.runtime.clock.add_months`, day clamped to the month's end). Every
    bound is computed from the execution start, not from the previous bound, so a start on
    29 February gives 28 February in ordinary years and 29 February again in leap years, and
    each year's end is exactly the next year's start.

    Chongqing stents (start 2023-01-31 00:00, 3 years): [2023-01-31, 2024-01-31),
    [2024-01-31, 2025-01-31), [2025-01-31, 2026-01-31).
    """
    if (
        isinstance(cycle_years, bool)
        or not isinstance(cycle_years, int)
        or not 1 <= cycle_years <= MAX_CYCLE_YEARS
    ):
        raise ValueError(
            f"a cycle lasts a whole number of years, 1 to {MAX_CYCLE_YEARS}; got {cycle_years!r}"
        )
    start = local(execution_start)
    bounds = [start] + [add_months(start, 12 * i) for i in range(1, cycle_years + 1)]
    return [
        AgreementYear(index=i + 1, start=bounds[i], end=bounds[i + 1]) for i in range(cycle_years)
    ]


def agreement_year_of(instant: datetime, execution_start: datetime, cycle_years: int) -> int | None:
    """R-PRG-2: the index (1..) of the agreement year holding ``instant``; ``None`` before the
    execution start or from the end of the cycle on (the cycle's end is exclusive)."""
    for year in agreement_years(execution_start, cycle_years):
        if year.contains(instant):
            return year.index
    return None


@dataclass(frozen=True)
class AgreementMonth:
    """One month of an agreement year (R-AGR-6 pacing): ``month`` 1..12 of agreement year
    ``year``; ``start`` inclusive, ``end`` exclusive, Asia/Shanghai.

    Months are counted from the execution start by calendar months
    (:func:`~services.runtime.clock.add_months`, day clamped), so a start on 2023-01-31 gives
    [01-31, 02-28), [02-28, 03-31), … Each month starts in a different calendar month, so
    ``calendar_month`` (the first day of the Shanghai month ``start`` falls in) names it.
    """

    year: int
    month: int
    start: datetime
    end: datetime

    @property
    def calendar_month(self) -> date:
        return date(self.start.year, self.start.month, 1)


@lru_cache(maxsize=64)
def _month_bounds(execution_start: datetime, cycle_years: int) -> tuple[datetime, ...]:
    """The 12 × cycle + 1 month bounds of a cycle (Shanghai), computed once per program."""
    start = local(execution_start)
    return tuple(add_months(start, k) for k in range(12 * cycle_years + 1))


def agreement_month(
    instant: datetime, execution_start: datetime, cycle_years: int
) -> AgreementMonth | None:
    """R-PRG-2 / R-AGR-6: the agreement year and month holding ``instant``; ``None`` outside
    the cycle (before the execution start, or from the cycle's end on)."""
    if isinstance(cycle_years, bool) or not isinstance(cycle_years, int) \
            or not 1 <= cycle_years <= MAX_CYCLE_YEARS:
        agreement_years(execution_start, cycle_years)  # raises the same error
    bounds = _month_bounds(execution_start, cycle_years)
    k = bisect_right(bounds, instant) - 1
    if not 0 <= k < len(bounds) - 1:
        return None
    return AgreementMonth(year=k // 12 + 1, month=k % 12 + 1, start=bounds[k],
                          end=bounds[k + 1])


def agreement_months(execution_start: datetime, year: int) -> list[AgreementMonth]:
    """The 12 months of agreement year ``year`` (1..) of a cycle starting ``execution_start``."""
    start = local(execution_start)
    base = 12 * (year - 1)
    return [
        AgreementMonth(year=year, month=m, start=add_months(start, base + m - 1),
                       end=add_months(start, base + m))
        for m in range(1, 13)
    ]
