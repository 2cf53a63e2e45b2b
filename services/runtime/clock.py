"""One injectable clock, and business time in Asia/Shanghai (R-PRG-4, R-PAY-1).

Instants are timezone-aware and kept in UTC; business dates and deadlines are computed in
Shanghai local time.
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Callable
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


class AcceleratedClock:
    """Simulated time running ``rate`` times faster than the wall clock, from fixed epochs:
    ``now = sim_epoch + (wall_now - wall_epoch) × rate``.

    Every process given the same three numbers (``VBP_CLOCK_EPOCH_WALL``,
    ``VBP_CLOCK_EPOCH_SIM``, ``VBP_CLOCK_RATE``) computes the same instant at the same wall
    moment, with no coordination: the services and ``vbp simulate`` agree on the simulated
    date. The wall clock is ``time.time()`` (shared by the processes of one machine); a
    restarted process picks up where the others are, not where it stopped.
    """

    def __init__(self, sim_epoch: datetime, wall_epoch: float, rate: float,
                 wall: Callable[[], float] = time.time) -> None:
        if not rate > 0:
            raise ValueError("the clock's rate must be positive")
        self.sim_epoch = _aware(sim_epoch)
        self.wall_epoch = float(wall_epoch)
        self.rate = float(rate)
        self._wall = wall

    def now(self) -> datetime:
        return self.at_wall(self._wall())

    def at_wall(self, wall: float) -> datetime:
        """The simulated instant at a wall-clock time (Unix seconds)."""
        return self.sim_epoch + timedelta(seconds=(wall - self.wall_epoch) * self.rate)

    def wall_at(self, instant: datetime) -> float:
        """The wall-clock time (Unix seconds) at which the simulated ``instant`` comes."""
        return self.wall_epoch + (_aware(instant) - self.sim_epoch).total_seconds() / self.rate

    def env(self) -> dict[str, str]:
        """The settings that give another process this same clock."""
        return {"VBP_CLOCK_EPOCH_SIM": self.sim_epoch.isoformat(),
                "VBP_CLOCK_EPOCH_WALL": repr(self.wall_epoch),
                "VBP_CLOCK_RATE": repr(self.rate)}


def clock_from_settings(epoch_sim: datetime | None, epoch_wall: float | None,
                        rate: float) -> Clock:
    """The clock the settings describe: accelerated when ``epoch_sim`` is set (the wall epoch
    defaulting to now), the system clock otherwise."""
    if epoch_sim is None:
        if epoch_wall is not None or rate != 1.0:
            raise ValueError("VBP_CLOCK_EPOCH_WALL and VBP_CLOCK_RATE need VBP_CLOCK_EPOCH_SIM")
        return SystemClock()
    return AcceleratedClock(epoch_sim, time.time() if epoch_wall is None else epoch_wall, rate)


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
