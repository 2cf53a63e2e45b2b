"""Repayment and fund-disbursement timeliness (R-MON-1, R-PAY-1, R-PAY-7): what one payments
event says about how a payable or a prepayment installment ended, as plain values.

A **payable** (one per accepted order) has one outcome, counted once:

* fully paid before its deadline → ``settled_on_time``, at the instant of the payment that
  completed it;
* still (partly) unpaid at its deadline → ``settled_overdue``, at the deadline itself (the
  first instant it is overdue, R-PAY-1), whether payments says so with ``PayableOverdue`` or
  with a payment completing it late. Both give the same fact (same key, kind and instant), so
  it counts once whichever arrives first, and its month does not depend on when the payments
  scheduler noticed.

A payment that leaves something outstanding settles nothing yet. An **installment** of a
prepayment alike (R-PAY-7, the paying agency's timeliness): fully disbursed before its due
bound → ``disbursed_on_time`` at that disbursement; otherwise ``disbursed_late`` at the due
bound.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

Kind = Literal["settled_on_time", "settled_overdue", "disbursed_on_time", "disbursed_late"]


@dataclass(frozen=True)
class Outcome:
    key: str
    """one per payable or installment: a second event of the same outcome adds nothing"""
    kind: Kind
    at: datetime
    """event time: the figure belongs to this instant's Shanghai month"""


def payable_key(payable_id: str) -> str:
    return f"payable:{payable_id}"


def installment_key(schedule_id: str, seq: int) -> str:
    return f"installment:{schedule_id}:{seq}"


def payable_paid(payable_id: str, *, outstanding: Decimal, on_time: bool, paid_at: datetime,
                 due_at: datetime) -> Outcome | None:
    """R-PAY-1: a payment that completes the payable settles it, on time if payments judged
    it so (paid before the deadline), else overdue from the deadline."""
    if outstanding > 0:
        return None
    if on_time:
        return Outcome(payable_key(payable_id), "settled_on_time", paid_at)
    return Outcome(payable_key(payable_id), "settled_overdue", due_at)


def payable_overdue(payable_id: str, *, due_at: datetime) -> Outcome:
    """R-PAY-1: unpaid at the deadline: overdue from the deadline."""
    return Outcome(payable_key(payable_id), "settled_overdue", due_at)


def installment_disbursed(schedule_id: str, seq: int, *, disbursed_total: Decimal,
                          installment_amount: Decimal, on_time: bool, disbursed_at: datetime,
                          due_at: datetime) -> Outcome | None:
    """R-PAY-7: the disbursement that completes an installment decides its timeliness."""
    if disbursed_total < installment_amount:
        return None
    if on_time:
        return Outcome(installment_key(schedule_id, seq), "disbursed_on_time", disbursed_at)
    return Outcome(installment_key(schedule_id, seq), "disbursed_late", due_at)


def installment_overdue(schedule_id: str, seq: int, *, due_at: datetime) -> Outcome:
    """R-PAY-7: not fully disbursed by its due date: late for the agency, from that date."""
    return Outcome(installment_key(schedule_id, seq), "disbursed_late", due_at)
