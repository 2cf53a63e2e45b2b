"""R-AGR-3 progress against the agreement volume, and R-AGR-6 even pacing: the warnings of
months judged at their end or as an order is placed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Literal, Protocol

from services.orders.domain.common import (
    _check_count,
    _check_ratio,
    _digest,
    _number,
    _percent,
)
from services.orders.domain.rows import certificate_key


def progress(accepted_units: int, agreement_units: int) -> Decimal | None:
    """R-AGR-3: progress = units accepted / agreement volume, as a ratio with 4 places.

    * agreement volume 0 → ``None``: there is no agreement to make progress against (an
      institution with no agreement volume is still supplied, R-AGR-4, but has no progress);
    * rounded *down* (truncated), so ``Decimal("1.0000")`` means the volume is really complete
      and 9,999 of 10,000 shows ``0.9999``, never a rounded-up 1;
    * not capped: acceptances beyond the agreement (R-AGR-4) give a ratio above 1.
    """
    _check_count("accepted_units", accepted_units)
    _check_count("agreement_units", agreement_units)
    if agreement_units == 0:
        return None
    ten_thousandths = accepted_units * 10_000 // agreement_units
    return Decimal(ten_thousandths).scaleb(-4)


def remaining(accepted: int, agreement: int) -> int:
    """R-AGR-3: agreement units still to complete; never below 0 (beyond-agreement orders,
    R-AGR-4, do not make it negative)."""
    _check_count("accepted", accepted)
    _check_count("agreement", agreement)
    return max(agreement - accepted, 0)




class PacingThresholds(Protocol):
    """What :func:`pacing_warnings` reads of a pacing policy (R-AGR-6)."""

    @property
    def monthly_multiple(self) -> Decimal: ...

    @property
    def cumulative_tolerance(self) -> Decimal: ...


@dataclass(frozen=True)
class PacingPolicy:
    """R-AGR-6 tolerances (the notice gives none; these are the platform's defaults).

    A month's orders above ``monthly_multiple`` × the monthly share, or cumulative orders
    further than ``cumulative_tolerance`` × the annual volume from the even line (ahead or
    behind), raise a warning.
    """

    monthly_multiple: Decimal = Decimal(2)
    cumulative_tolerance: Decimal = Decimal("0.25")

    def __post_init__(self) -> None:
        if not self.monthly_multiple.is_finite() or self.monthly_multiple < 1:
            raise ValueError(f"monthly_multiple must be at least 1, got {self.monthly_multiple}")
        _check_ratio("cumulative_tolerance", self.cumulative_tolerance)


PacingCheck = Literal["monthly", "cumulative"]


@dataclass(frozen=True)
class PacingWarning:
    """One pacing warning (R-AGR-6) for one month (1..12 of the agreement year).

    ``ordered`` is the month's units, ``cumulative`` the units ordered through the month's end,
    ``even_line`` = annual × month / 12, ``deviation`` = cumulative − even line (positive
    ahead, negative behind), ``limit`` the bound that was exceeded: the monthly limit
    (multiple × annual / 12) for ``monthly``, the tolerance in units (tolerance × annual) for
    ``cumulative``. Numbers are exact fractions; ``reason`` shows them for people.
    """

    month: int
    check: PacingCheck
    ordered: int
    cumulative: int
    even_line: Fraction
    deviation: Fraction
    limit: Fraction
    reason: str


def pacing_warnings(
    annual_units: int,
    monthly_orders: Sequence[int],
    policy: PacingThresholds | None = None,
) -> list[PacingWarning]:
    """R-AGR-6: pacing warnings for the months of an agreement year seen so far.

    ``monthly_orders[i]`` is the units ordered in month ``i + 1`` of the agreement year (at
    most 12 months); pass only months that have ended: each month is judged at its end. For
    each month, in order, at most two warnings:

    * ``monthly``: the month's units > ``monthly_multiple × annual / 12`` (strictly above:
      exactly 2 × the share is allowed);
    * ``cumulative``: ``|cumulative − annual × month / 12| > cumulative_tolerance × annual``,
      ahead *or behind* the even line, checked every month including month 1. With the default
      25 %, an institution that orders nothing is within tolerance for months 1–3 (behind by at
      most 25 %) and is warned from month 4 on.

    An annual volume of 0 gives no warnings: pacing is measured against an agreement, and an
    institution without one (R-AGR-4) has no even line. Arithmetic is exact (``Fraction``).
    """
    _check_count("annual_units", annual_units)
    if len(monthly_orders) > 12:
        raise ValueError(f"an agreement year has 12 months, got {len(monthly_orders)}")
    for month, units in enumerate(monthly_orders, start=1):
        _check_count(f"orders of month {month}", units)
    if annual_units == 0:
        return []
    policy = policy if policy is not None else PacingPolicy()
    multiple = Fraction(policy.monthly_multiple)
    share = Fraction(annual_units, 12)
    monthly_limit = multiple * share
    tolerance = Fraction(policy.cumulative_tolerance) * annual_units
    warnings: list[PacingWarning] = []
    cumulative = 0
    for month, units in enumerate(monthly_orders, start=1):
        cumulative += units
        line = share * month
        deviation = cumulative - line
        if units > monthly_limit:
            warnings.append(
                PacingWarning(
                    month=month,
                    check="monthly",
                    ordered=units,
                    cumulative=cumulative,
                    even_line=line,
                    deviation=deviation,
                    limit=monthly_limit,
                    reason=(
                        f"month {month}: {units} ordered, above {_number(multiple)} × monthly "
                        f"share {_number(share)} = {_number(monthly_limit)}"
                    ),
                )
            )
        if abs(deviation) > tolerance:
            side = "ahead of" if deviation > 0 else "behind"
            warnings.append(
                PacingWarning(
                    month=month,
                    check="cumulative",
                    ordered=units,
                    cumulative=cumulative,
                    even_line=line,
                    deviation=deviation,
                    limit=tolerance,
                    reason=(
                        f"month {month}: cumulative {cumulative} is {_number(abs(deviation))} "
                        f"{side} the even line {_number(line)}, more than the tolerance "
                        f"{_number(tolerance)} ({_percent(policy.cumulative_tolerance)} of "
                        f"{annual_units})"
                    ),
                )
            )
    return warnings


def month_pacing_warnings(
    annual_units: int,
    monthly_orders: Sequence[int],
    policy: PacingThresholds | None = None,
    *,
    month_closed: bool,
) -> list[PacingWarning]:
    """R-AGR-6: the warnings of the *last* month of ``monthly_orders`` only.

    A closed month is judged fully (:func:`pacing_warnings`). While the month is still open
    (judging an order as it is placed) only breaches that its end cannot undo count: the
    month's units above the monthly limit, and cumulative units already further *ahead* of the
    month-end line than the tolerance; being behind is judged when the month has ended.
    """
    if not monthly_orders:
        return []
    month = len(monthly_orders)
    found = [w for w in pacing_warnings(annual_units, monthly_orders, policy) if w.month == month]
    if month_closed:
        return found
    return [w for w in found if w.check == "monthly" or w.deviation > 0]




def pacing_warning_id(
    program_id: str, year: int, institution_id: str, registration_no: str, month: int
) -> str:
    """R-AGR-6: one pacing warning per institution, product and month: its deterministic id."""
    return "W-" + _digest(program_id, year, institution_id, certificate_key(registration_no),
                          month)[:24]
