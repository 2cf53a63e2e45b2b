"""Distributors and bars (R-SUP-4, R-CRD-3): qualification, the violation list's window, and how
long a credit rating bars a distributor."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from services.runtime.clock import add_months
from services.runtime.texts import text
from services.supply.domain.common import aware


@dataclass(frozen=True)
class Distributor:
    """A distribution company (配送企业).

    ``qualified`` is its standing qualification, set by operators and untouched by bars. A bar
    (violation list, R-SUP-4) is the window ``[barred_from, barred_until)``; ``barred_from`` of
    ``None`` means barred at every instant before ``barred_until``.
    """

    distributor_id: str
    name: str
    qualified: bool = True
    barred_until: datetime | None = None
    barred_from: datetime | None = None


def is_barred(distributor: Distributor, at: datetime) -> bool:
    """R-SUP-4: on the violation list at ``at``; the bar ends at ``barred_until`` (exclusive)."""
    aware(at, "at")
    if distributor.barred_until is None or at >= distributor.barred_until:
        return False
    return distributor.barred_from is None or at >= distributor.barred_from


def is_qualified(distributor: Distributor, at: datetime) -> bool:
    """R-SUP-4: a distributor may distribute at ``at`` when qualified and not barred then.

    A barred distributor is unqualified until its bar ends (or is lifted: ``lift_bar``).
    """
    return distributor.qualified and not is_barred(distributor, at)


@dataclass(frozen=True)
class Bar:
    """One violation-list entry: the distributor loses its qualification on
    ``[barred_at, until)`` (R-SUP-4)."""

    distributor_id: str
    barred_at: datetime
    until: datetime
    reason: str


def apply_bar(distributor: Distributor, bar: Bar) -> Distributor:
    """The distributor with the bar recorded (R-SUP-4).

    If it is already barred at ``bar.barred_at`` the bars merge: the earlier start is kept and
    the later end wins, so applying the same bar twice changes nothing.
    """
    if bar.distributor_id != distributor.distributor_id:
        raise ValueError(text("the bar is for another distributor"))
    if is_barred(distributor, bar.barred_at):
        assert distributor.barred_until is not None
        return replace(distributor, barred_until=max(distributor.barred_until, bar.until))
    return replace(distributor, barred_from=bar.barred_at, barred_until=bar.until)


def lift_bar(distributor: Distributor, at: datetime) -> Distributor:
    """R-SUP-4: lifting a bar restores qualification from ``at`` on.

    The bar's history is kept (it now ends at ``at``); a bar that has not started yet is
    dropped; lifting a distributor that is not barred changes nothing. It does NOT restore the
    assignments revoked by the bar: the enterprise assigns again (R-SUP-1). ``qualified``
    (standing qualification) is not touched.
    """
    aware(at, "at")
    if is_barred(distributor, at):
        return replace(distributor, barred_until=at)
    if (
        distributor.barred_from is not None
        and distributor.barred_until is not None
        and distributor.barred_from > at
    ):
        return replace(distributor, barred_from=None, barred_until=None)
    return distributor


BAR_YEARS_2025: Mapping[str, int] = {"失信": 1, "严重失信": 3, "特别严重失信": 5}
"""R-CRD-3, the 2025 rules: years a distributor rated at each level loses its qualification."""


@dataclass(frozen=True)
class CalendarYears:
    """A period of whole calendar years, counted in Asia/Shanghai (R-PRG-4)."""

    years: int

    def after(self, instant: datetime) -> datetime:
        """The same Shanghai wall-clock time ``years`` later (29 February → 28 February), in
        UTC."""
        return add_months(aware(instant), 12 * self.years).astimezone(UTC)


def bar_period_for_level(level: str, table: Mapping[str, int] = BAR_YEARS_2025) -> CalendarYears:
    """R-CRD-3: how long a distributor rated at ``level`` loses its qualification.

    The table is a profile parameter (default: the 2025 rules, 1/3/5 years). A level missing
    from the table is refused rather than read as "no bar", so a misspelt level cannot
    silently let a dishonest distributor keep distributing; a table may map a level to 0.
    """
    if level not in table:
        raise ValueError(text("credit level {level!r} has no bar period in the profile table",
                              level=level))
    years = table[level]
    if years < 0:
        raise ValueError(text("bar period for {level!r} is negative", level=level))
    return CalendarYears(years)


def credit_bar_until(
    level: str, at: datetime, table: Mapping[str, int] = BAR_YEARS_2025
) -> datetime:
    """R-CRD-3: the end (exclusive) of a credit-driven bar starting at ``at``."""
    return bar_period_for_level(level, table).after(at)
