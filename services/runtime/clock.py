"""One injectable clock, and business time in Asia/Shanghai (R-PRG-4, R-PAY-1).

Instants are timezone-aware and kept in UTC; business dates and deadlines are computed in
Shanghai local time.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that moves only when told to: for tests and for simulating a whole year."""

    def __init__(self, start: datetime) -> None:
        self._now = _aware(start)

    def now(self) -> datetime:
        return self._now

    def set(self, instant: datetime) -> None:
        self._now = _aware(instant)

    def advance(self, delta: timedelta) -> None:
        self._now = self._now + delta


def _aware(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError("instants must be timezone-aware")
    return instant


def local(instant: datetime) -> datetime:
    """The instant in Shanghai local time."""
    return _aware(instant).astimezone(SHANGHAI)


def business_date(instant: datetime) -> date:
    """The Shanghai calendar date of an instant."""
    return local(instant).date()


def month_start(year: int, month: int) -> datetime:
    """00:00 Shanghai on the first day of a month; month may run past 12."""
    year += (month - 1) // 12
    month = (month - 1) % 12 + 1
    return datetime(year, month, 1, tzinfo=SHANGHAI)


def end_of_month_after(instant: datetime, months: int = 1) -> datetime:
    """Exclusive bound at the end of the Shanghai month ``months`` after the instant's month.

    ``months=0`` is the end of the instant's own month.
    """
    here = local(instant)
    return month_start(here.year, here.month + months + 1)


def end_of_next_month(instant: datetime) -> datetime:
    """R-PAY-1: pay by the end of the month following acceptance (交货验收合格后的次月底).

    The bound is exclusive: 00:00 Shanghai on the first day of the month after next. The
    month is the Shanghai month, not the UTC month (2023-03-31T20:00Z is April in Shanghai).
    """
    return end_of_month_after(instant, 1)


def add_months(instant: datetime, months: int) -> datetime:
    """Calendar months after an instant in Shanghai time, the day clamped to the month's end.

    R-PAY-2: a start of 2023-01-31 00:00 plus 6 months is 2023-07-31 00:00; plus 1 month is
    2023-02-28 00:00.
    """
    here = local(instant)
    total = here.month - 1 + months
    year, month = here.year + total // 12, total % 12 + 1
    day = min(here.day, calendar.monthrange(year, month)[1])
    return here.replace(year=year, month=month, day=day).astimezone(SHANGHAI)


def days_overdue(due: datetime, now: datetime) -> int:
    """Whole days past an exclusive due bound (0 if not yet due); a day started counts."""
    if now < due:
        return 0
    return (now - due) // timedelta(days=1) + 1
