"""What the clock finds by itself (run by the scheduler, ``services/runtime/scheduler.py``):
payables unpaid at their deadline (R-PAY-1) and installments not disbursed by their due date
(R-PAY-7), each flagged and published once; and the business gauges, from the database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import func, select, text

from contracts.payments import InstallmentOverdue, PayableOverdue
from services.payments import metrics, store
from services.payments.domain.deadlines import AGE_BUCKETS
from services.runtime.db import UnitOfWork

PY = store.payables
I = store.installments  # noqa: E741
CHUNK = 20_000
"""Flagged per transaction: a scan over a million payables commits as it goes."""


async def scan_payables(uow_factory: Callable[[], UnitOfWork], now: datetime) -> int:
    """R-PAY-1: flag every open payable whose deadline has passed and publish
    ``PayableOverdue`` for it, once. Returns how many were flagged."""
    flagged = 0
    while True:
        async with uow_factory() as uow:
            chosen = (select(PY.c.payable_id).where(
                PY.c.status == "open", PY.c.overdue_at.is_(None), PY.c.due_at <= now)
                .order_by(PY.c.due_at).limit(CHUNK))
            if uow.conn.dialect.name == "postgresql":
                chosen = chosen.with_for_update(skip_locked=True)
            rows = (await uow.conn.execute(
                PY.update().where(PY.c.payable_id.in_(chosen.scalar_subquery()))
                .values(overdue_at=now).returning(
                    PY.c.payable_id, PY.c.program_id, PY.c.institution_id,
                    PY.c.enterprise_id, PY.c.payer, PY.c.amount, PY.c.paid, PY.c.due_at))
                    ).all()
            for r in rows:
                uow.record(PayableOverdue(
                    payable_id=r.payable_id, program_id=r.program_id,
                    institution_id=r.institution_id, enterprise_id=r.enterprise_id,
                    payer=r.payer, outstanding=r.amount - r.paid, due_at=r.due_at,
                    detected_at=now))
            await uow.commit()
        flagged += len(rows)
        if len(rows) < CHUNK:
            return flagged


async def scan_installments(uow_factory: Callable[[], UnitOfWork], now: datetime) -> int:
    """R-PAY-7: flag every installment not fully disbursed by its due date and publish
    ``InstallmentOverdue`` for it, once."""
    async with uow_factory() as uow:
        rows = (await uow.conn.execute(
            I.update().where(I.c.overdue_at.is_(None), I.c.due_at <= now,
                             I.c.disbursed < I.c.amount)
            .values(overdue_at=now).returning(
                I.c.schedule_id, I.c.seq, I.c.program_id, I.c.agreement_year,
                I.c.institution_id, I.c.agency_id, I.c.due_at, I.c.amount, I.c.disbursed))
                ).all()
        for r in rows:
            uow.record(InstallmentOverdue(
                schedule_id=r.schedule_id, program_id=r.program_id,
                agreement_year=r.agreement_year, institution_id=r.institution_id,
                agency_id=r.agency_id, seq=r.seq, due_at=r.due_at,
                outstanding=r.amount - r.disbursed, detected_at=now))
        await uow.commit()
    return len(rows)


BUCKETS_SQL = text("""
SELECT program_id,
       CASE WHEN due_at > :now THEN 'not_due'
            WHEN :now - due_at < interval '30 days' THEN '0-30'
            WHEN :now - due_at < interval '60 days' THEN '31-60'
            WHEN :now - due_at < interval '90 days' THEN '61-90'
            ELSE '90+' END AS bucket,
       sum(amount - paid) AS fen, count(*) FILTER (WHERE due_at <= :now) AS overdue
FROM payables WHERE status = 'open' GROUP BY 1, 2
""")


async def refresh_gauges(uow_factory: Callable[[], UnitOfWork], now: datetime) -> None:
    """The business gauges from the database (PostgreSQL; SQLite keeps the counters only)."""
    async with uow_factory() as uow:
        conn = uow.conn
        if conn.dialect.name != "postgresql":
            return
        seen: dict[str, dict[str, int]] = {}
        overdue: dict[str, int] = {}
        for r in (await conn.execute(BUCKETS_SQL, {"now": now})).all():
            seen.setdefault(r.program_id, dict.fromkeys(AGE_BUCKETS, 0))[r.bucket] = int(r.fen)
            overdue[r.program_id] = overdue.get(r.program_id, 0) + int(r.overdue)
        for program, buckets in seen.items():
            for bucket, fen in buckets.items():
                metrics.PAYABLES_OUTSTANDING.labels(program, bucket).set(fen)
            metrics.PAYABLES_OVERDUE.labels(program).set(overdue.get(program, 0))
        for program, total in (await conn.execute(
                select(store.schedules.c.program_id, func.sum(store.schedules.c.amount))
                .group_by(store.schedules.c.program_id))).all():
            metrics.PREPAYMENT_SCHEDULED.labels(program).set(int(total * 100))
        for program, count in (await conn.execute(
                select(I.c.program_id, func.count()).where(I.c.overdue_at.is_not(None),
                                                           I.c.disbursed < I.c.amount)
                .group_by(I.c.program_id))).all():
            metrics.INSTALLMENTS_OVERDUE.labels(program).set(count)
