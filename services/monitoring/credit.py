"""Credit records, ratings and measures (R-CRD-1..4): the application layer. Each use case
loads what it needs, lets the domain decide, writes the change with a step (who, what, when,
why) and records the events in the unit of work (published through the outbox).

After every change to a subject's records, ``rerate`` recomputes its rating in the region
(the worst active record, R-CRD-2) and re-plans its measures (R-CRD-3): measures no longer
wanted are lifted (``CreditMeasureLifted``), new ones applied (``CreditMeasureApplied``),
the rest kept. Catalog suspends and reinstates listings on them, supply bars and reinstates
distributors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import and_, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.monitoring import (
    ConfirmIn,
    CreditMeasureApplied,
    CreditMeasureLifted,
    CreditRatingChanged,
    CreditRecordIn,
    CreditRecordOut,
    CreditRecordsPage,
    MeasureOut,
    RatingOut,
    ReasonIn,
    RepairIn,
    StepOut,
)
from contracts.profiles import CreditScheme
from services.monitoring import errors, metrics, programs, store
from services.monitoring.domain import credit as rules
from services.monitoring.programs import Program
from services.runtime.auth import Principal
from services.runtime.db import UnitOfWork, insert_ignoring_duplicates, is_postgres
from services.runtime.ids import time_ordered_id
from services.runtime.problems import not_found

RECORDS = store.records
MEASURES = store.measures


async def _step(uow: UnitOfWork, record_id: str, step: str, actor: str, reason: str,
                detail: dict[str, Any] | None = None) -> None:
    await uow.conn.execute(insert(store.steps).values(
        record_id=record_id, step=step, actor=actor, reason=reason, detail=detail,
        at=uow.clock.now()))


# --- filing and proposals (R-CRD-1) -----------------------------------------------------------


async def file_record(uow: UnitOfWork, body: CreditRecordIn, caller: Principal
                      ) -> CreditRecordOut:
    """A regulator files a record: active at once, rated at the level given (R-CRD-1/2)."""
    program = await programs.get(uow.conn, body.program_id)
    level = rules.level_of(program.profile.credit, body.level)
    record_id = time_ordered_id("CR", uow.clock.now())
    now = uow.clock.now()
    await uow.conn.execute(insert(RECORDS).values(
        record_id=record_id, subject_kind=body.subject_kind, subject_id=body.subject_id,
        program_id=program.program_id, region=program.region,
        scheme=program.profile.credit.scheme, level=level.name, level_code=level.code,
        conduct=body.conduct, description=body.description, evidence=list(body.evidence),
        registration_nos=sorted(set(body.registration_nos)), occurred_on=body.occurred_on,
        status="active", effective_from=now, filed_by=caller.actor, filed_at=now))
    await _step(uow, record_id, "filed", caller.actor, body.description,
                {"level": level.name, "evidence": list(body.evidence)})
    await rerate(uow, body.subject_kind, body.subject_id, program,
                 caller.actor, f"record {record_id} filed: {body.description}")
    return await record_out(uow.conn, record_id)


async def propose(uow: UnitOfWork, *, key: str, subject_kind: str, subject_id: str,
                  program: Program, conduct: str, description: str, evidence: list[str],
                  registration_nos: Sequence[str], occurred_on: date, actor: str) -> bool:
    """R-CRD-1: a record proposed from what monitoring saw, at the scheme's mildest level, for
    a regulator to confirm or dismiss. ``key`` makes it once per finding; False if known."""
    known = await uow.conn.scalar(select(RECORDS.c.record_id).where(RECORDS.c.proposal_key == key))
    if known is not None:
        return False
    level = rules.proposed_level(program.profile.credit)
    record_id = time_ordered_id("CR", uow.clock.now())
    await uow.conn.execute(insert(RECORDS).values(
        record_id=record_id, subject_kind=subject_kind, subject_id=subject_id,
        program_id=program.program_id, region=program.region,
        scheme=program.profile.credit.scheme, level=level.name, level_code=level.code,
        conduct=conduct, description=description, evidence=evidence,
        registration_nos=sorted(set(registration_nos)), occurred_on=occurred_on,
        status="proposed", filed_by=actor, filed_at=uow.clock.now(), proposal_key=key))
    await _step(uow, record_id, "proposed", actor, description, {"evidence": evidence})
    return True


@dataclass(frozen=True)
class Proposal:
    """A finding to propose (``propose``'s arguments)."""

    key: str
    subject_kind: str
    subject_id: str
    program: Program
    conduct: str
    description: str
    evidence: list[str]
    registration_nos: Sequence[str]
    occurred_on: date


async def propose_many(uow: UnitOfWork, proposals: Sequence[Proposal], actor: str) -> int:
    """``propose`` for many findings, on PostgreSQL with two statements per thousand (the
    records, ``ON CONFLICT DO NOTHING`` on the proposal key, then the steps of those
    inserted), each an executemany of one cached statement; returns how many were new."""
    if not is_postgres(uow.conn):
        new = 0
        for p in proposals:
            new += await propose(
                uow, key=p.key, subject_kind=p.subject_kind, subject_id=p.subject_id,
                program=p.program, conduct=p.conduct, description=p.description,
                evidence=p.evidence, registration_nos=p.registration_nos,
                occurred_on=p.occurred_on, actor=actor)
        return new
    now, new = uow.clock.now(), 0
    for start in range(0, len(proposals), 1_000):
        rows = {}
        for p in proposals[start:start + 1_000]:
            level = rules.proposed_level(p.program.profile.credit)
            rows[time_ordered_id("CR", now)] = {
                "subject_kind": p.subject_kind, "subject_id": p.subject_id,
                "program_id": p.program.program_id, "region": p.program.region,
                "scheme": p.program.profile.credit.scheme, "level": level.name,
                "level_code": level.code, "conduct": p.conduct, "description": p.description,
                "evidence": p.evidence, "registration_nos": sorted(set(p.registration_nos)),
                "occurred_on": p.occurred_on, "status": "proposed", "filed_by": actor,
                "filed_at": now, "proposal_key": p.key}
        inserted = (await uow.conn.execute(  # executemany: compiled once, not per length
            insert_ignoring_duplicates(uow.conn, RECORDS).returning(RECORDS.c.record_id),
            [{"record_id": record_id, **row} for record_id, row in rows.items()]
        )).scalars().all()
        if inserted:
            await uow.conn.execute(insert(store.steps), [{
                "record_id": record_id, "step": "proposed", "actor": actor,
                "reason": rows[record_id]["description"],
                "detail": {"evidence": rows[record_id]["evidence"]}, "at": now}
                for record_id in inserted])
        new += len(inserted)
    return new


async def _record_row(uow: UnitOfWork, record_id: str) -> Any:
    row = (await uow.conn.execute(select(RECORDS).where(RECORDS.c.record_id == record_id)
                                  .with_for_update())).first()
    if row is None:
        raise not_found("credit record", record_id)
    return row


async def confirm(uow: UnitOfWork, record_id: str, body: ConfirmIn, caller: Principal
                  ) -> CreditRecordOut:
    """A regulator confirms a proposal (at the level proposed, or another): it counts."""
    row = await _record_row(uow, record_id)
    if row.status != "proposed":
        raise errors.record_not_proposed(record_id, row.status)
    program = await programs.get(uow.conn, row.program_id)
    level = rules.level_of(program.profile.credit, body.level or row.level)
    await uow.conn.execute(update(RECORDS).where(RECORDS.c.record_id == record_id).values(
        status="active", level=level.name, level_code=level.code,
        effective_from=uow.clock.now()))
    await _step(uow, record_id, "confirmed", caller.actor, body.reason, {"level": level.name})
    await rerate(uow, row.subject_kind, row.subject_id, program, caller.actor,
                 f"proposal {record_id} confirmed: {body.reason}")
    return await record_out(uow.conn, record_id)


async def dismiss(uow: UnitOfWork, record_id: str, body: ReasonIn, caller: Principal
                  ) -> CreditRecordOut:
    """A regulator dismisses a proposal, with the reason: it never counts."""
    row = await _record_row(uow, record_id)
    if row.status != "proposed":
        raise errors.record_not_proposed(record_id, row.status)
    await uow.conn.execute(update(RECORDS).where(RECORDS.c.record_id == record_id)
                           .values(status="dismissed"))
    await _step(uow, record_id, "dismissed", caller.actor, body.reason)
    return await record_out(uow.conn, record_id)


# --- repair (R-CRD-4) ---------------------------------------------------------------------------


def _repair_state(row: Any) -> rules.RepairState:
    return rules.RepairState(status=row.status, effective_from=row.effective_from,
                             pending=row.repair == "pending",
                             last_refused_at=row.last_refused_at)


async def apply_repair(uow: UnitOfWork, record_id: str, body: RepairIn, caller: Principal
                       ) -> CreditRecordOut:
    """The enterprise (or distributor) the record is against applies for repair."""
    row = await _record_row(uow, record_id)
    if not caller.sees_all and (caller.role != row.subject_kind or caller.org != row.subject_id):
        raise not_found("credit record", record_id)
    program = await programs.get(uow.conn, row.program_id)
    rules.check_repair_application(_repair_state(row), program.profile.monitoring,
                                   uow.clock.now())
    await uow.conn.execute(
        update(RECORDS).where(RECORDS.c.record_id == record_id).values(repair="pending"))
    await _step(uow, record_id, "repair_applied", caller.actor, body.reason,
                {"evidence": list(body.evidence)})
    return await record_out(uow.conn, record_id)


async def approve_repair(uow: UnitOfWork, record_id: str, body: ReasonIn, caller: Principal
                         ) -> CreditRecordOut:
    """A regulator approves: the record stops counting, the rating and measures follow."""
    row = await _record_row(uow, record_id)
    program = await programs.get(uow.conn, row.program_id)
    level = rules.level_of(program.profile.credit, row.level)
    rules.check_repair_approval(_repair_state(row), level, program.profile.monitoring,
                                uow.clock.now())
    await uow.conn.execute(update(RECORDS).where(RECORDS.c.record_id == record_id)
                           .values(status="repaired", repair="approved"))
    await _step(uow, record_id, "repair_approved", caller.actor, body.reason)
    await rerate(uow, row.subject_kind, row.subject_id, program, caller.actor,
                 f"record {record_id} repaired: {body.reason}")
    return await record_out(uow.conn, record_id)


async def refuse_repair(uow: UnitOfWork, record_id: str, body: ReasonIn, caller: Principal
                        ) -> CreditRecordOut:
    """A regulator refuses, with the reason: the record keeps counting."""
    row = await _record_row(uow, record_id)
    rules.check_repair_decision(_repair_state(row))
    await uow.conn.execute(update(RECORDS).where(RECORDS.c.record_id == record_id).values(
        repair="refused", last_refused_at=uow.clock.now()))
    await _step(uow, record_id, "repair_refused", caller.actor, body.reason)
    return await record_out(uow.conn, record_id)


# --- rating and measures (R-CRD-2/3) ------------------------------------------------------------


def _subject(kind: str, subject_id: str, region: str, scheme: str) -> Any:
    return and_(
        RECORDS.c.subject_kind == kind,
        RECORDS.c.subject_id == subject_id,
        RECORDS.c.region == region,
        RECORDS.c.scheme == scheme,
    )


def _measure(row: Any) -> rules.Measure:
    return rules.Measure(row.measure, row.level, row.scope, tuple(row.registration_nos),
                         row.effective_until)


async def rerate(uow: UnitOfWork, subject_kind: str, subject_id: str, program: Program,
                 actor: str, reason: str) -> None:
    """Recompute the subject's rating in the program's region and bring its measures in line
    (R-CRD-2/3), recording the events catalog and supply act on."""
    scheme: CreditScheme = program.profile.credit
    region, now = program.region, uow.clock.now()
    rows = (await uow.conn.execute(
        select(RECORDS.c.record_id, RECORDS.c.level, RECORDS.c.status, RECORDS.c.registration_nos)
        .where(_subject(subject_kind, subject_id, region, scheme.scheme)).with_for_update()
    )).all()
    rating = rules.rating(scheme, [rules.Record(r.record_id, r.level, r.status == "active",
                                                tuple(r.registration_nos)) for r in rows])
    in_force = (
        await uow.conn.execute(
            select(MEASURES).where(
                MEASURES.c.subject_kind == subject_kind,
                MEASURES.c.subject_id == subject_id,
                MEASURES.c.region == region,
                MEASURES.c.scheme == scheme.scheme,
                MEASURES.c.lifted_at.is_(None),
            )
        )
    ).all()
    plan = rules.plan_measures([(m.measure_id, _measure(m)) for m in in_force],
                               rules.measures_for(rating, subject_kind, now))
    for measure_id in plan.lift:
        await uow.conn.execute(update(MEASURES).where(MEASURES.c.measure_id == measure_id).values(
            lifted_at=now, lifted_by=actor, lift_reason=reason))
        uow.record(CreditMeasureLifted(
            measure_id=measure_id, subject_id=subject_id,
            subject_kind=subject_kind,
            reason=reason, lifted_by=actor, lifted_at=now))
    for m in plan.apply:
        measure_id = time_ordered_id("M", uow.clock.now())
        await uow.conn.execute(insert(MEASURES).values(
            measure_id=measure_id, subject_kind=subject_kind, subject_id=subject_id,
            region=region, scheme=scheme.scheme, level=m.level, measure=m.measure,
            scope=m.scope, registration_nos=list(m.registration_nos), effective_from=now,
            effective_until=m.effective_until, reason=reason, decided_by=actor))
        uow.record(CreditMeasureApplied(
            measure_id=measure_id, subject_id=subject_id,
            subject_kind=subject_kind,
            region=region, level=m.level, measure=m.measure, scope=m.scope,
            registration_nos=list(m.registration_nos), effective_from=now,
            effective_until=m.effective_until, reason=reason, decided_by=actor))
    await _save_rating(uow, subject_kind, subject_id, region, scheme.scheme, rating, reason)


async def _save_rating(uow: UnitOfWork, kind: str, subject_id: str, region: str, scheme: str,
                       rating: rules.Rating, reason: str) -> None:
    ratings_table = store.ratings
    key = and_(
        ratings_table.c.subject_kind == kind,
        ratings_table.c.subject_id == subject_id,
        ratings_table.c.region == region,
        ratings_table.c.scheme == scheme,
    )
    now = uow.clock.now()
    level = rating.level
    values = {"level": level.name if level else None, "level_code": level.code if level else None,
              "public": bool(level and "public_disclosure" in level.measures),
              "active_records": rating.active_records, "updated_at": now}
    current = (await uow.conn.execute(select(ratings_table.c.level).where(key))).first()
    if current is None:
        await uow.conn.execute(
            insert(ratings_table).values(
                subject_kind=kind, subject_id=subject_id, region=region, scheme=scheme, **values
            )
        )
    else:
        await uow.conn.execute(update(ratings_table).where(key).values(**values))
    if current is None or current.level != values["level"]:
        uow.record(CreditRatingChanged(
            subject_id=subject_id, subject_kind=kind,
            region=region, scheme=scheme, level=values["level"],
            level_code=values["level_code"],
            active_records=rating.active_records, changed_at=now, reason=reason))
    await metrics.refresh_credit(uow.conn)


# --- views ------------------------------------------------------------------------------------


async def record_out(conn: AsyncConnection, record_id: str) -> CreditRecordOut:
    row = (await conn.execute(select(RECORDS).where(RECORDS.c.record_id == record_id))).first()
    if row is None:
        raise not_found("credit record", record_id)
    history = (await conn.execute(select(store.steps).where(
        store.steps.c.record_id == record_id).order_by(store.steps.c.seq))).all()
    data = row._asdict()
    for name in ("proposal_key", "last_refused_at"):
        data.pop(name)
    return CreditRecordOut(**data, history=[
        StepOut(step=s.step, actor=s.actor, reason=s.reason, at=s.at) for s in history])


def _visible(caller: Principal) -> Any:
    if caller.sees_all:
        return None
    return and_(RECORDS.c.subject_kind == caller.role, RECORDS.c.subject_id == caller.org)


async def get_record(conn: AsyncConnection, record_id: str, caller: Principal
                     ) -> CreditRecordOut:
    out = await record_out(conn, record_id)
    if not caller.sees_all and (out.subject_kind != caller.role or out.subject_id != caller.org):
        raise not_found("credit record", record_id)
    return out


async def list_records(conn: AsyncConnection, caller: Principal, *, status: str | None,
                       subject_id: str | None, region: str | None, cursor: str | None,
                       limit: int) -> CreditRecordsPage:
    query = select(RECORDS.c.record_id).order_by(RECORDS.c.record_id).limit(limit + 1)
    for cond in (_visible(caller),
                 None if status is None else RECORDS.c.status == status,
                 None if subject_id is None else RECORDS.c.subject_id == subject_id,
                 None if region is None else RECORDS.c.region == region,
                 None if cursor is None else RECORDS.c.record_id > cursor):
        if cond is not None:
            query = query.where(cond)
    ids = list((await conn.execute(query)).scalars())
    items = [await record_out(conn, rid) for rid in ids[:limit]]
    return CreditRecordsPage(items=items,
                             next_cursor=ids[limit - 1] if len(ids) > limit else None)


def measure_out(row: Any) -> MeasureOut:
    return MeasureOut(measure_id=row.measure_id, subject_kind=row.subject_kind,
                      subject_id=row.subject_id, region=row.region, level=row.level,
                      measure=row.measure, scope=row.scope,
                      registration_nos=list(row.registration_nos),
                      effective_from=row.effective_from, effective_until=row.effective_until)


async def ratings_of(conn: AsyncConnection, subject_kind: str, subject_id: str,
                     caller: Principal) -> list[RatingOut]:
    """The subject's ratings per region (and scheme), with the measures in force."""
    if not caller.sees_all and (caller.role != subject_kind or caller.org != subject_id):
        raise not_found(subject_kind, subject_id)
    ratings_table = store.ratings
    rows = (await conn.execute(select(ratings_table).where(
        ratings_table.c.subject_kind == subject_kind, ratings_table.c.subject_id == subject_id)
        .order_by(ratings_table.c.region, ratings_table.c.scheme))).all()
    out = []
    for r in rows:
        ms = (
            await conn.execute(
                select(MEASURES)
                .where(
                    MEASURES.c.subject_kind == subject_kind,
                    MEASURES.c.subject_id == subject_id,
                    MEASURES.c.region == r.region,
                    MEASURES.c.scheme == r.scheme,
                    MEASURES.c.lifted_at.is_(None),
                )
                .order_by(MEASURES.c.measure_id)
            )
        ).all()
        out.append(RatingOut(subject_kind=r.subject_kind, subject_id=r.subject_id,
                             region=r.region, scheme=r.scheme, level=r.level,
                             level_code=r.level_code, active_records=r.active_records,
                             measures=[measure_out(m) for m in ms]))
    return out

