"""Prepayment schedules (R-PAY-2, R-PAY-3) and their adjustment when an agreement changes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from contracts.money import CENT
from contracts.profiles import PolicyProfile
from services.payments.domain.deadlines import installment_dues


@dataclass(frozen=True)
class Line:
    seq: int
    due_at: datetime
    amount: Decimal


def prepayment_amount(profile: PolicyProfile, procurement_amount: Decimal) -> Decimal:
    """R-PAY-2/3: the prepaid share of the agreement-year procurement amount (agreement volume
    × winning price). Rounded half up to the fen (the notices say nothing; stated here)."""
    share = profile.prepayment.amount_share
    if share is None:  # direct settlement (R-PAY-5): nothing is prepaid
        return Decimal("0.00")
    return (procurement_amount * share).quantize(CENT, rounding=ROUND_HALF_UP)


def schedule(profile: PolicyProfile, procurement_amount: Decimal, start: datetime) -> list[Line]:
    """R-PAY-2/3: the installments of one institution's agreement year. Each installment is its
    share of the prepayment rounded down to the fen; the last is "the remaining amount".

    Chongqing, start 2023-01-31, 24,000.00: [12,000.00 by 2023-03-01 00:00,
    12,000.00 by 2023-07-31 00:00]."""
    total = prepayment_amount(profile, procurement_amount)
    installments = profile.prepayment.installments
    dues = installment_dues(profile, start)
    lines: list[Line] = []
    given = Decimal("0.00")
    for i, (installment, due) in enumerate(zip(installments, dues, strict=True)):
        if i == len(installments) - 1:
            amount = total - given
        else:
            amount = (total * installment.share).quantize(CENT, rounding="ROUND_DOWN")
        given += amount
        lines.append(Line(seq=i + 1, due_at=due, amount=amount))
    return lines


@dataclass(frozen=True)
class Adjustment:
    """What an agreement change does to a schedule's ledger account (R-PAY-6): the schedule's
    new total, and the transfer amount (positive: more is due from the agency; negative: less).
    A cut never takes back what was already disbursed: the agency's remaining obligation goes
    down at most to zero, and anything disbursed above the new total stays in the
    institution's prepayment balance, to be recovered by the offsets (R-PAY-4)."""

    new_total: Decimal
    transfer: Decimal


def adjust(old_total: Decimal, disbursed: Decimal, new_total: Decimal) -> Adjustment:
    undisbursed_before = max(old_total - disbursed, Decimal("0.00"))
    undisbursed_after = max(new_total - disbursed, Decimal("0.00"))
    return Adjustment(new_total=new_total, transfer=undisbursed_after - undisbursed_before)
