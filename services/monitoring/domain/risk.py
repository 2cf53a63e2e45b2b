"""Completion risk (R-AGR-3, R-MON-1): for an institution × product, the progress projected at
the end of the agreement year from the pace so far, and whether it falls below the profile's
threshold.

The pace is the units ordered and not cancelled or rejected (orders lead acceptance, so the
projection moves as orders arrive), divided by the share of the year elapsed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from services.monitoring.domain.reports import year_fraction

FOUR = Decimal("0.0001")


@dataclass(frozen=True)
class Projection:
    projected_units: Decimal
    projected_progress: Decimal
    at_risk: bool


def project(*, units_so_far: int, agreement_units: int, year_start: datetime,
            year_end: datetime, now: datetime, threshold: Decimal) -> Projection | None:
    """The projection at ``now``; None before the year starts, after it ends, or without an
    agreement volume (nothing to complete)."""
    if agreement_units <= 0 or not (year_start < now < year_end):
        return None
    share = year_fraction(year_start, year_end, now)
    if share <= 0:
        return None
    projected = (Decimal(units_so_far) / share).quantize(FOUR, ROUND_HALF_UP)
    progress = (projected / Decimal(agreement_units)).quantize(FOUR, ROUND_HALF_UP)
    return Projection(projected, progress, progress < threshold)
