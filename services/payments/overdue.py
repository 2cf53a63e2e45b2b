"""What the clock finds by itself (run by the scheduler, ``services/runtime/scheduler.py``):
payables unpaid at their deadline (R-PAY-1) and installments not disbursed by their due date
(R-PAY-7), each flagged and published once; and the business gauges, from the database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from pydantic import AwareDatetime, TypeAdapter
from sqlalchemy import func, select, text

from contracts.payments import InstallmentOverdue, PayableOverdue
from services.payments import metrics, store
from services.payments.domain.deadlines import AGE_BUCKETS
from services.runtime.db import UnitOfWork

PY = store.payables
I = store.installments  # noqa: E741
CHUNK = 50_000
"""Flagged per transaction: a scan over a million payables commits as it goes."""

FLAG_OVERDUE = text("""
WITH chosen AS (
    SELECT payable_id FROM payables
    WHERE status = 'open' AND overdue_at IS NULL AND due_at <= :now
    ORDER BY due_at LIMIT :chunk FOR UPDATE SKIP LOCKED
), flagged AS (
    UPDATE payables p SET overdue_at = :now FROM chosen c WHERE p.payable_id = c.payable_id
    RETURNING p.payable_id, p.program_id, p.institution_id, p.enterprise_id, p.payer,
              p.amount - p.paid AS outstanding, p.due_at
), written AS (
    INSERT INTO outbox (event_id, topic, key, ce_type, ce_source, ce_time, traceparent,
                        payload, created_at)
    SELECT gen_random_uuid()::text, :topic, payable_id, :ce_type, :source, :now,
           '00-' || replace(gen_random_uuid()::text, '-', '') || '-'
               || left(replace(gen_random_uuid()::text, '-', ''), 16) || '-01',
           json_build_object(
               'payable_id', payable_id, 'program_id', program_id,
               'institution_id', institution_id, 'enterprise_id', enterprise_id,
               'payer', payer,
               'outstanding', CAST(CAST(outstanding AS numeric) / 100 AS numeric(20, 2))::text,
               'due_at', to_char(due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
                   || CASE WHEN extract(microseconds FROM due_at) % 1000000 = 0 THEN ''
                           ELSE to_char(due_at AT TIME ZONE 'UTC', '.US') END || 'Z',
               'detected_at', CAST(:detected_at AS text))::text,
           :created_at
    FROM flagged ORDER BY due_at, payable_id
    RETURNING 1
)
SELECT count(*) FROM written
""")
"""R-PAY-1 on PostgreSQL, one statement per chunk: flag the chunk's overdue payables and write
their ``PayableOverdue`` events to the outbox, built by the database as the contract dumps them
(decimal strings, RFC 3339 instants in UTC; a new trace each, as ``UnitOfWork.record`` starts
for the scheduler) — no per-payable work in Python (issue #14: a million in under 10 s)."""


async def scan_payables(uow_factory: Callable[[], UnitOfWork], now: datetime) -> int:
    """R-PAY-1: flag every open payable whose deadline has passed and publish
    ``PayableOverdue`` for it, once. Returns how many were flagged."""
    flagged = 0
    while True:
        async with uow_factory() as uow:
            if uow.conn.dialect.name == "postgresql":
                count = await _flag_chunk_pg(uow, now)
            else:
                count = await _flag_chunk(uow, now)
            await uow.commit()
        flagged += count
        if count < CHUNK:
            return flagged


async def _flag_chunk_pg(uow: UnitOfWork, now: datetime) -> int:
    return int(await uow.conn.scalar(FLAG_OVERDUE, {
        "now": now.astimezone(UTC), "chunk": CHUNK, "topic": PayableOverdue.TOPIC,
        "ce_type": PayableOverdue.TYPE, "source": uow.source,
        "detected_at": _json_instant(now), "created_at": uow.clock.now().astimezone(UTC)})
        or 0)


_INSTANT = TypeAdapter(AwareDatetime)


def _json_instant(at: datetime) -> str:
    """An instant as the contracts dump it in JSON."""
    return str(_INSTANT.dump_python(at, mode="json"))


async def _flag_chunk(uow: UnitOfWork, now: datetime) -> int:
    rows = (await uow.conn.execute(
        PY.update().where(PY.c.payable_id.in_(
            select(PY.c.payable_id).where(
                PY.c.status == "open", PY.c.overdue_at.is_(None), PY.c.due_at <= now)
            .order_by(PY.c.due_at).limit(CHUNK).scalar_subquery()))
        .values(overdue_at=now).returning(
            PY.c.payable_id, PY.c.program_id, PY.c.institution_id,
            PY.c.enterprise_id, PY.c.payer, PY.c.amount, PY.c.paid, PY.c.due_at))).all()
    for r in rows:
        uow.record(PayableOverdue(
            payable_id=r.payable_id, program_id=r.program_id,
            institution_id=r.institution_id, enterprise_id=r.enterprise_id,
            payer=r.payer, outstanding=r.amount - r.paid, due_at=r.due_at,
            detected_at=now))
    return len(rows)


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
