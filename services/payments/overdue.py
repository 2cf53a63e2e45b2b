"""What the clock finds by itself (run by the scheduler, ``services/runtime/scheduler.py``):
payables unpaid at their deadline (R-PAY-1) and installments not disbursed by their due date
(R-PAY-7), each flagged and published once; and the business gauges, from the database."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import func, select, text

from contracts.payments import (
    OVERDUE_ITEMS_MAX,
    InstallmentOverdue,
    OverduePayable,
    PayablesOverdue,
)
from services.payments import metrics, store
from services.payments.domain.deadlines import AGE_BUCKETS
from services.payments.events import json_instant, uuid7_prefix
from services.runtime.db import UnitOfWork

PAYABLES = store.payables
INSTALLMENTS = store.installments
DEADLINES = store.payable_deadlines
CHUNK = 50_000
"""Flagged per transaction: a scan over a million payables commits as it goes."""
WORKERS = 2
"""Chunks flagged at the same time on PostgreSQL, each in its own transaction (the chunks are
disjoint: a worker skips the deadlines another has locked), so the database's cores share the
scan (issue #14: a million in under 10 s)."""

FLAG_OVERDUE = text("""
WITH gone AS (
    DELETE FROM payable_deadlines
    WHERE ctid = ANY(ARRAY(
        SELECT ctid FROM payable_deadlines WHERE due_at <= :now
        ORDER BY due_at LIMIT :chunk FOR UPDATE SKIP LOCKED))
    RETURNING payable_id
), due AS (
    SELECT program_id, (row_number() OVER (PARTITION BY program_id) - 1) / :per_event AS part,
           '{"payable_id":' || to_json(payable_id)
           || ',"institution_id":' || to_json(institution_id)
           || ',"enterprise_id":' || to_json(enterprise_id)
           || ',"payer":' || to_json(payer)
           || ',"outstanding":"' || (amount - paid) / 100 || '.'
               || lpad(CAST((amount - paid) % 100 AS text), 2, '0')
           || '","due_at":"' || to_char(due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
               || CASE WHEN extract(microseconds FROM due_at) % 1000000 = 0 THEN ''
                       ELSE to_char(due_at AT TIME ZONE 'UTC', '.US') END
           || 'Z"}' AS item
    FROM payables
    WHERE payable_id = ANY(ARRAY(SELECT payable_id FROM gone)) AND status = 'open'
), batches AS (
    SELECT program_id, string_agg(item, ',') AS items, count(*) AS n,
           row_number() OVER () AS e
    FROM due GROUP BY program_id, part
), written AS (
    INSERT INTO outbox (event_id, topic, key, ce_type, ce_source, ce_time, traceparent,
                        payload, created_at)
    SELECT :event_id || lpad(to_hex(e), 12, '0'), :topic, program_id, :ce_type, :source, :now,
           :trace || lpad(to_hex(e), 12, '0') || '-01',
           '{"program_id":' || to_json(program_id)
           || ',"detected_at":' || to_json(CAST(:detected_at AS text))
           || ',"items":[' || items || ']}',
           :created_at
    FROM batches
    RETURNING 1
)
SELECT (SELECT count(*) FROM gone) AS taken,
       (SELECT coalesce(sum(n), 0) FROM batches) AS flagged,
       (SELECT count(*) FROM written) AS events
""")
"""R-PAY-1 on PostgreSQL, one statement per chunk: take the chunk's passed deadlines out of the
narrow ``payable_deadlines`` queue (by their row addresses, ``ctid``: locked, they stay put, and
no second index lookup; a delete writes no index entry and leaves ``payables`` alone) and write
their payables to the outbox as ``PayablesOverdue`` events, one per ``OVERDUE_ITEMS_MAX``
payables of one program, built by the database as the contract dumps them (decimal strings,
RFC 3339 instants in UTC): no per-payable work in Python, and one outbox row for hundreds of
payables (issue #14: a million in under 10 s). The chunk's event ids are time-ordered UUIDs
(RFC 9562 version 7: the chunk's millisecond and random bits, then the event's number), so the
outbox's unique index grows at its right edge; the chunk is one trace (the scan that found
them), each event a span of it."""
CHUNK_SETTINGS = text("""
SELECT set_config('work_mem', '32MB', true),
       set_config('default_toast_compression', :compression, true)
""")
"""For the chunk's transaction: room to sort a chunk's payables by program in memory (the
default 4 MB spills it to disk), and lz4 for the events' large payloads (TOASTed: pglz took a
third of the time of writing them), when the server has it."""
LZ4 = text("SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")


async def scan_payables(uow_factory: Callable[[], UnitOfWork], now: datetime) -> int:
    """R-PAY-1: flag every open payable whose deadline has passed and publish it in a
    ``PayablesOverdue``, once (its deadline leaves ``payable_deadlines`` in the same
    transaction). Returns how many payables were flagged. On PostgreSQL ``WORKERS`` chunks at
    a time: a worker stops when it takes less than a chunk, and then every passed deadline
    not locked by another worker has been taken, so the scan ends with none left (those
    opened meanwhile wait for the next)."""
    async with uow_factory() as uow:
        postgres = uow.conn.dialect.name == "postgresql"
        compression = "lz4" if postgres and await uow.conn.scalar(LZ4) else "pglz"

    async def worker() -> int:
        flagged = 0
        while True:
            async with uow_factory() as uow:
                if postgres:
                    count, taken = await _flag_chunk_pg(uow, now, compression)
                else:
                    count, taken = await _flag_chunk(uow, now)
                await uow.commit()
            flagged += count
            if taken < CHUNK:
                return flagged

    async with asyncio.TaskGroup() as group:  # one failing cancels the others
        tasks = [group.create_task(worker()) for _ in range(WORKERS if postgres else 1)]
    return sum(t.result() for t in tasks)


async def _flag_chunk_pg(uow: UnitOfWork, now: datetime, compression: str
                         ) -> tuple[int, int]:
    await uow.conn.execute(CHUNK_SETTINGS, {"compression": compression})
    trace = f"00-{secrets.token_hex(16)}-{secrets.token_hex(2)}"  # span: then the event number
    row = (await uow.conn.execute(FLAG_OVERDUE, {
        "now": now.astimezone(UTC), "chunk": CHUNK, "per_event": OVERDUE_ITEMS_MAX,
        "topic": PayablesOverdue.TOPIC, "ce_type": PayablesOverdue.TYPE, "source": uow.source,
        "event_id": uuid7_prefix(uow.clock.now()), "trace": trace,
        "detected_at": json_instant(now), "created_at": uow.clock.now().astimezone(UTC)})
           ).one()
    return int(row.flagged), int(row.taken)


async def _flag_chunk(uow: UnitOfWork, now: datetime) -> tuple[int, int]:
    """R-PAY-1 elsewhere (SQLite): the same, the events built in Python."""
    ids = list((await uow.conn.execute(
        select(DEADLINES.c.payable_id).where(DEADLINES.c.due_at <= now).order_by(DEADLINES.c.due_at)
        .limit(CHUNK))).scalars())
    if not ids:
        return 0, 0
    await uow.conn.execute(DEADLINES.delete().where(DEADLINES.c.payable_id.in_(ids)))
    rows = (
        await uow.conn.execute(
            select(PAYABLES)
            .where(PAYABLES.c.payable_id.in_(ids), PAYABLES.c.status == "open")
            .order_by(PAYABLES.c.due_at)
        )
    ).all()
    by_program: dict[str, list[OverduePayable]] = {}
    for r in rows:
        by_program.setdefault(r.program_id, []).append(OverduePayable(
            payable_id=r.payable_id, institution_id=r.institution_id,
            enterprise_id=r.enterprise_id, payer=r.payer, outstanding=r.amount - r.paid,
            due_at=r.due_at))
    for program_id, items in by_program.items():
        for first in range(0, len(items), OVERDUE_ITEMS_MAX):
            uow.record(PayablesOverdue(program_id=program_id, detected_at=now,
                                       items=items[first:first + OVERDUE_ITEMS_MAX]))
    return len(rows), len(ids)


async def scan_installments(uow_factory: Callable[[], UnitOfWork], now: datetime) -> int:
    """R-PAY-7: flag every installment not fully disbursed by its due date and publish
    ``InstallmentOverdue`` for it, once."""
    async with uow_factory() as uow:
        rows = (
            await uow.conn.execute(
                INSTALLMENTS.update()
                .where(
                    INSTALLMENTS.c.overdue_at.is_(None),
                    INSTALLMENTS.c.due_at <= now,
                    INSTALLMENTS.c.disbursed < INSTALLMENTS.c.amount,
                )
                .values(overdue_at=now)
                .returning(
                    INSTALLMENTS.c.schedule_id,
                    INSTALLMENTS.c.seq,
                    INSTALLMENTS.c.program_id,
                    INSTALLMENTS.c.agreement_year,
                    INSTALLMENTS.c.institution_id,
                    INSTALLMENTS.c.agency_id,
                    INSTALLMENTS.c.due_at,
                    INSTALLMENTS.c.amount,
                    INSTALLMENTS.c.disbursed,
                )
            )
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
                select(INSTALLMENTS.c.program_id, func.count())
                .where(INSTALLMENTS.c.overdue_at.is_not(None),
                       INSTALLMENTS.c.disbursed < INSTALLMENTS.c.amount)
                .group_by(INSTALLMENTS.c.program_id))).all():
            metrics.INSTALLMENTS_OVERDUE.labels(program).set(count)
