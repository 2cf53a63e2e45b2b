"""Annual assessment of an institution (R-MON-2): a score from progress, pacing and repayment,
with the weights from the profile, each part explained.

A part that cannot be measured (no agreement volume; no month elapsed; no settlement of the
institution's own came due in the year) is left out and the weights of the others are scaled
up to sum to 1: the explanation says so, rather than scoring a missing figure as 0 or 1. When
every part is measured, each keeps the profile's weight.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from contracts.profiles import AssessmentWeights

FOUR = Decimal("0.0001")
ONE = Decimal(1)


@dataclass(frozen=True)
class Part:
    name: str
    value: Decimal | None
    """0..1, None = not measurable"""
    weight: Decimal
    """the profile's weight"""
    applied_weight: Decimal
    """after scaling over the measurable parts"""
    points: Decimal
    explanation: str


@dataclass(frozen=True)
class Assessment:
    score: Decimal | None
    """0..100, None when no part can be measured"""
    parts: tuple[Part, ...]


def progress_part(accepted_units: int, agreement_units: int) -> tuple[Decimal | None, str]:
    """R-AGR-3: accepted / agreement, capped at 1 (buying beyond the agreement earns nothing
    more)."""
    if agreement_units <= 0:
        return None, "no agreement volume: not measured"
    value = min(Decimal(accepted_units) / Decimal(agreement_units), ONE)
    return value.quantize(FOUR, ROUND_HALF_UP), (
        f"{accepted_units} accepted of {agreement_units} agreed units (capped at 100 %)")


def pacing_part(warned_months: int, elapsed_months: int) -> tuple[Decimal | None, str]:
    """R-AGR-6: the share of the year's elapsed months without a pacing warning."""
    if elapsed_months <= 0:
        return None, "no month elapsed: not measured"
    warned = min(warned_months, elapsed_months)
    value = Decimal(elapsed_months - warned) / Decimal(elapsed_months)
    return value.quantize(FOUR, ROUND_HALF_UP), (
        f"{elapsed_months - warned} of {elapsed_months} months without a pacing warning")


def repayment_part(on_time: int, due: int) -> tuple[Decimal | None, str]:
    """R-PAY-1: settlements paid on time / settlements that came to an outcome (paid on time,
    or overdue at their deadline) in the period."""
    if due <= 0:
        return None, "no settlement came due: not measured"
    on_time = min(on_time, due)
    value = Decimal(on_time) / Decimal(due)
    return value.quantize(FOUR, ROUND_HALF_UP), (
        f"{on_time} of {due} settlements paid on time, {due - on_time} overdue")


def assess(weights: AssessmentWeights, *, accepted_units: int, agreement_units: int,
           warned_months: int, elapsed_months: int, settlements_on_time: int,
           settlements_due: int) -> Assessment:
    """R-MON-2: score = 100 × Σ weight × part over the measurable parts, weights scaled to 1."""
    raw = [
        ("progress", weights.progress, *progress_part(accepted_units, agreement_units)),
        ("pacing", weights.pacing, *pacing_part(warned_months, elapsed_months)),
        ("repayment", weights.repayment, *repayment_part(settlements_on_time, settlements_due)),
    ]
    measured = sum((w for _, w, v, _ in raw if v is not None), Decimal(0))
    parts = []
    score = Decimal(0)
    for name, weight, value, why in raw:
        applied = (weight / measured).quantize(FOUR, ROUND_HALF_UP) if (
            value is not None and measured) else Decimal(0)
        points = (100 * applied * value).quantize(Decimal("0.01"), ROUND_HALF_UP) if (
            value is not None) else Decimal(0)
        if value is not None and applied != weight:
            why += f"; weight {weight} scaled to {applied} (parts not measured left out)"
        elif value is not None:
            why += f"; weight {weight}: {points} points"
        parts.append(Part(name, value, weight, applied, points, why))
        if value is not None:
            score += 100 * (weight / measured) * value
    if not measured:
        return Assessment(None, tuple(parts))
    return Assessment(score.quantize(Decimal("0.01"), ROUND_HALF_UP), tuple(parts))
