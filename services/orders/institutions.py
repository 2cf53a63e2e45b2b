"""The institution register (R-PRG-3): which institutions belong to a region, and their type.

A regulator or operator registers a region's institutions (public and military ones by
mandate, insurance-designated private ones that joined). Once a region has any, agreement
imports and orders of that region's programs accept only registered institutions; a region with
none registered is not checked.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update

from contracts.orders import InstitutionOut, InstitutionsIn, InstitutionsRegistered
from services.orders import errors, store
from services.runtime.auth import Principal
from services.runtime.db import UnitOfWork
from services.runtime.history import history_row, write_history
from services.runtime.texts import text

INSTITUTIONS = store.institutions


async def register(uow: UnitOfWork, cmd: InstitutionsIn, caller: Principal
                   ) -> InstitutionsRegistered:
    ids = [i.institution_id for i in cmd.institutions]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})[:20]
        raise errors.INVALID(text("institutions listed twice: {institutions}",
                                  institutions=", ".join(dup)))
    existing = {r.institution_id: r for r in (await uow.conn.execute(
        select(INSTITUTIONS).where(INSTITUTIONS.c.institution_id.in_(ids)))).all()}
    now = uow.clock.now()
    new, changed, history = [], 0, []
    for inst in cmd.institutions:
        values = inst.model_dump()
        old = existing.get(inst.institution_id)
        if old is None:
            new.append({**values, "registered_by": caller.actor, "registered_at": now})
        elif (old.region, old.institution_type, old.name) != (inst.region, inst.institution_type,
                                                              inst.name):
            changed += 1
            await uow.conn.execute(
                update(INSTITUTIONS)
                .where(INSTITUTIONS.c.institution_id == inst.institution_id)
                .values(**values, registered_by=caller.actor, registered_at=now))
        else:
            continue
        history.append(history_row(
            store.INSTITUTION, inst.institution_id, "registered" if old is None else "changed",
            values, caller.actor, cmd.reason, now))
    if new:
        await uow.conn.execute(insert(INSTITUTIONS), new)
    await write_history(uow.conn, store.history, history)
    return InstitutionsRegistered(registered=len(new), updated=changed,
                                  unchanged=len(ids) - len(new) - changed)


async def list_institutions(conn: Any, *, region: str | None, after: str | None,
                            limit: int) -> list[InstitutionOut]:
    query = select(INSTITUTIONS).order_by(INSTITUTIONS.c.institution_id).limit(limit)
    if region is not None:
        query = query.where(INSTITUTIONS.c.region == region)
    if after:
        query = query.where(INSTITUTIONS.c.institution_id > after)
    return [InstitutionOut.model_validate(r._asdict()) for r in (await conn.execute(query)).all()]
