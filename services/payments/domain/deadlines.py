"""Deadlines and ageing (R-PAY-1, R-PAY-7), in Asia/Shanghai business time."""

from __future__ import annotations

from datetime import datetime

from contracts.profiles import PolicyProfile
from services.runtime.clock import add_months, days_overdue, end_of_month_after, local

AGE_BUCKETS = ("not_due", "0-30", "31-60", "61-90", "90+")


def settlement_due(accepted_at: datetime, months_after_acceptance: int = 1) -> datetime:
    """R-PAY-1: the exclusive bound by which accepted goods are paid: 00:00 Shanghai on the
    first day of the month after the month ``months_after_acceptance`` after the Shanghai month
    of acceptance (次月底). 2023-03-31T20:00Z is 2023-04-01 in Shanghai → 2023-06-01 00:00."""
    return end_of_month_after(accepted_at, months_after_acceptance)


def settlement_due_for(profile: PolicyProfile | None, accepted_at: datetime) -> datetime:
    months = profile.settlement.months_after_acceptance if profile is not None else 1
    return settlement_due(accepted_at, months)


def installment_dues(profile: PolicyProfile, start: datetime) -> list[datetime]:
    """R-PAY-2/3: each installment's exclusive due bound, from the profile's parameters.
    Chongqing, start 2023-01-31 00:00: [2023-03-01 00:00, 2023-07-31 00:00]."""
    dues: list[datetime] = []
    for installment in profile.prepayment.installments:
        due = installment.due
        if due.anchor == "end_of_calendar_month":
            dues.append(end_of_month_after(start, due.offset_months))
        elif due.anchor == "months_after_start":
            dues.append(add_months(start, due.offset_months))
        else:  # before_start
            dues.append(add_months(start, -due.offset_months))
    return dues


def is_overdue(due_at: datetime, now: datetime) -> bool:
    """The due bound is exclusive: at ``due_at`` itself it is already late."""
    return now >= due_at


def age_bucket(due_at: datetime, now: datetime) -> str:
    """The enterprise's ageing buckets: not yet due, then 0–30, 31–60, 61–90, > 90 days
    overdue (a day started counts, so the first overdue day is day 1)."""
    days = days_overdue(due_at, now)
    if days == 0:
        return "not_due"
    if days <= 30:
        return "0-30"
    if days <= 60:
        return "31-60"
    if days <= 90:
        return "61-90"
    return "90+"


def month_of(instant: datetime) -> tuple[int, int]:
    here = local(instant)
    return here.year, here.month
