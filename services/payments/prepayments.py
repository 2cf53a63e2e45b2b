"""Prepayment schedules and disbursements (R-PAY-2, R-PAY-3, R-PAY-6, R-PAY-7).

An institution's schedule per program and agreement year follows its agreements: each
``AgreementRecorded`` (a new agreement, or a new version of one) recomputes the schedule from
the sum of the institution's agreement amounts for the year (volume × winning price) and the
program's profile, and posts the difference to the ledger as an adjustment transfer, with a
new version in the schedule's history. The paying agency disburses installments, partially if
it likes; what is not disbursed by the due date is overdue for the agency (``overdue.py``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select

from contracts.base import CloudEvent
from contracts.money import to_fen
from contracts.orders import AgreementRecorded
from contracts.payments import (
    InstallmentDisbursed,
    InstallmentLine,
    InstallmentOut,
    PrepaymentScheduled,
)
from services.payments import errors, metrics, programs, store
from services.payments.domain import postings
from services.payments.domain.ledger import LedgerRefused, transfer_id
from services.payments.domain.offsets import offset_starts
from services.payments.domain.schedules import adjust, prepayment_amount, schedule
from services.runtime.auth import Principal
from services.runtime.db import UnitOfWork

SCHEDULES = store.schedules
SCHEDULE_AGREEMENTS = store.schedule_agreements
INSTALLMENTS = store.installments
ZERO = Decimal("0.00")


def schedule_id(program_id: str, year: int, institution_id: str) -> str:
    return f"{program_id}:{year}:{institution_id}"


async def on_agreement_recorded(uow: UnitOfWork, event: AgreementRecorded,
                                ce: CloudEvent) -> None:
    """R-PAY-2/3: (re)compute the institution's schedule for the agreement year."""
    conn = uow.conn
    program = await programs.load(conn, event.program_id)
    profile = program.profile
    if profile is None or program.direct_settlement:
        return  # R-PAY-5: a direct-settlement program prepays nothing
    sid = schedule_id(event.program_id, event.agreement_year, event.institution_id)
    known = (await conn.execute(select(SCHEDULE_AGREEMENTS.c.version).where(
        SCHEDULE_AGREEMENTS.c.agreement_id == event.agreement_id))).scalar()
    if known is not None and known >= event.version:
        return  # a replayed or older version
    if known is None:
        await conn.execute(SCHEDULE_AGREEMENTS.insert().values(
            agreement_id=event.agreement_id, schedule_id=sid, version=event.version,
            procurement_amount=event.amount))
    else:
        await conn.execute(
            SCHEDULE_AGREEMENTS.update()
            .where(SCHEDULE_AGREEMENTS.c.agreement_id == event.agreement_id)
            .values(version=event.version, procurement_amount=event.amount)
        )
    procurement = sum(
        (
            await conn.execute(
                select(SCHEDULE_AGREEMENTS.c.procurement_amount).where(
                    SCHEDULE_AGREEMENTS.c.schedule_id == sid
                )
            )
        ).scalars(),
        ZERO,
    )
    now = uow.clock.now()
    current = (
        await conn.execute(
            select(SCHEDULES).where(SCHEDULES.c.schedule_id == sid).with_for_update()
        )
    ).first()
    lines = schedule(profile, procurement, event.year_start)
    new_total = prepayment_amount(profile, procurement)
    held = {r.seq: r for r in (await conn.execute(
        select(INSTALLMENTS).where(INSTALLMENTS.c.schedule_id == sid))).all()}
    disbursed = sum((r.disbursed for r in held.values()), ZERO)
    if current is None:
        period_end = (event.year_end if profile.offset is None
                      or profile.offset.starts_after == "agreement_year" else program.cycle_end)
        version, old_total = 1, ZERO
        await conn.execute(SCHEDULES.insert().values(
            schedule_id=sid, program_id=event.program_id, agreement_year=event.agreement_year,
            institution_id=event.institution_id, agency_id=program.agency_id,
            year_start=event.year_start, offset_from=offset_starts(period_end),
            amount=new_total, version=1, updated_at=now))
    else:
        version, old_total = current.version + 1, current.amount
        await conn.execute(SCHEDULES.update().where(SCHEDULES.c.schedule_id == sid).values(
            amount=new_total, version=version, updated_at=now))
    change = adjust(old_total, disbursed, new_total).transfer
    cause = f"agreement:{event.agreement_id}:v{event.version}"
    try:
        await store.post(conn, postings.scheduled(
            cause, program.agency_id, postings.schedule_account(
                event.program_id, event.agreement_year, event.institution_id), change), now)
    except LedgerRefused as refused:  # cannot happen: adjust() keeps within the limits
        raise errors.ledger_refused(refused) from refused
    for line in lines:
        if line.seq in held:
            await conn.execute(
                INSTALLMENTS.update()
                .where(INSTALLMENTS.c.schedule_id == sid, INSTALLMENTS.c.seq == line.seq)
                .values(amount=line.amount, due_at=line.due_at)
            )
        else:
            await conn.execute(INSTALLMENTS.insert().values(
                schedule_id=sid, seq=line.seq, program_id=event.program_id,
                agreement_year=event.agreement_year,
                institution_id=event.institution_id, agency_id=program.agency_id,
                due_at=line.due_at, amount=line.amount, disbursed=ZERO))
    await conn.execute(store.schedule_history.insert().values(
        schedule_id=sid, version=version, amount=new_total, adjustment=new_total - old_total,
        cause=cause, at=now))
    metrics.PREPAYMENT_SCHEDULED.labels(event.program_id).inc(to_fen(new_total - old_total))
    uow.record(PrepaymentScheduled(
        schedule_id=sid, program_id=event.program_id, agreement_year=event.agreement_year,
        institution_id=event.institution_id, agency_id=program.agency_id, amount=new_total,
        adjustment=new_total - old_total,
        installments=[InstallmentLine(seq=x.seq, due_at=x.due_at, amount=x.amount)
                      for x in lines],
        version=version, cause=cause, computed_at=now))


def installment_out(r: Any) -> InstallmentOut:
    return InstallmentOut(
        schedule_id=r.schedule_id, program_id=r.program_id, agreement_year=r.agreement_year,
        institution_id=r.institution_id, agency_id=r.agency_id, seq=r.seq, due_at=r.due_at,
        amount=r.amount, disbursed=r.disbursed, outstanding=max(r.amount - r.disbursed, ZERO),
        overdue=r.overdue_at is not None)


async def disburse(uow: UnitOfWork, sid: str, seq: int, amount: Decimal, caller: Principal,
                   key: str | None) -> InstallmentOut:
    """The paying agency disburses (part of) an installment (R-PAY-2/3); R-PAY-7 notes whether
    it was on time. Posts the ledger transfers in the same transaction (R-PAY-6)."""
    conn = uow.conn
    row = (
        await conn.execute(
            select(INSTALLMENTS)
            .where(INSTALLMENTS.c.schedule_id == sid, INSTALLMENTS.c.seq == seq)
            .with_for_update()
        )
    ).first()
    if row is None or (caller.scope is not None and row.agency_id != caller.org):
        raise errors.installment_not_found(sid, seq)
    outstanding = row.amount - row.disbursed
    if amount > outstanding:
        raise errors.over_disbursement(sid, seq, amount, max(outstanding, ZERO))
    now = uow.clock.now()
    disbursement_id = transfer_id("disbursement", caller.actor, key) if key else \
        transfer_id("disbursement", sid, str(seq), now.isoformat(), str(amount))
    program_id, year, institution_id = row.program_id, row.agreement_year, row.institution_id
    try:
        await store.post(conn, postings.disbursed(
            disbursement_id, row.agency_id,
            postings.schedule_account(program_id, year, institution_id),
            postings.prepay_account(program_id, year, institution_id), amount), now)
    except LedgerRefused as refused:
        raise errors.ledger_refused(refused) from refused
    total = row.disbursed + amount
    await conn.execute(
        INSTALLMENTS.update()
        .where(INSTALLMENTS.c.schedule_id == sid, INSTALLMENTS.c.seq == seq)
        .values(disbursed=total)
    )
    await conn.execute(store.disbursements.insert().values(
        disbursement_id=disbursement_id, schedule_id=sid, seq=seq, amount=amount,
        disbursed_by=caller.actor, disbursed_at=now))
    metrics.PREPAYMENT_DISBURSED.labels(program_id).inc(to_fen(amount))
    uow.record(InstallmentDisbursed(
        disbursement_id=disbursement_id, schedule_id=sid, program_id=program_id,
        agreement_year=year, institution_id=institution_id, agency_id=row.agency_id, seq=seq,
        amount=amount, disbursed_total=total, installment_amount=row.amount, due_at=row.due_at,
        on_time=now < row.due_at, disbursed_by=caller.actor, disbursed_at=now))
    updated = (
        await conn.execute(
            select(INSTALLMENTS).where(INSTALLMENTS.c.schedule_id == sid, INSTALLMENTS.c.seq == seq)
        )
    ).one()
    return installment_out(updated)
