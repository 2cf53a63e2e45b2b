"""Assignments (R-SUP-1): RecordAssignment and RevokeAssignment, by the enterprise that owns
the product. Recording one routes the orders waiting for it and closes the contingency gaps
it covers (R-SUP-4)."""

from __future__ import annotations

from sqlalchemy import insert, select, update

from contracts.supply import (
    AssignmentIn,
    AssignmentOut,
    AssignmentRecorded,
    AssignmentRecordedOut,
    AssignmentRevoked,
)
from services.runtime.auth import Principal
from services.runtime.db import UnitOfWork
from services.runtime.ids import time_ordered_id
from services.runtime.problems import not_found
from services.supply import domain, errors, routing, store, views, violations


async def _check_product_owner(uow: UnitOfWork, registration_no: str, enterprise_id: str) -> None:
    """An enterprise assigns distributors for its own products only (R-SUP-1). A product not
    (yet) in the listing read model cannot be checked and is accepted."""
    owners = set((await uow.conn.execute(
        select(store.products.c.enterprise_id)
        .where(store.products.c.registration_no == registration_no))).scalars())
    if owners and enterprise_id not in owners:
        name = (await store.enterprise_names(uow.conn, [enterprise_id])).get(enterprise_id)
        raise errors.not_your_product(registration_no, enterprise_id, name)


async def record_assignment(uow: UnitOfWork, body: AssignmentIn,
                            caller: Principal) -> AssignmentRecordedOut:
    """RecordAssignment: the caller's enterprise chooses a distributor (R-SUP-1); orders left
    pending for want of one are routed at once, and contingency gaps it covers are closed."""
    conn, now = uow.conn, uow.clock.now()
    enterprise_id = caller.org
    await store.routing_lock(conn)
    await _check_product_owner(uow, body.registration_no, enterprise_id)
    await store.product_lock(conn, enterprise_id, body.registration_no)
    new = domain.Assignment(
        assignment_id=time_ordered_id("A", now), enterprise_id=enterprise_id,
        registration_no=body.registration_no, distributor_id=body.distributor_id,
        scope=domain.Scope(body.scope), institution_id=body.institution_id, region=body.region,
        valid_from=body.valid_from or now, valid_until=body.valid_until)
    existing = await store.assignments_where(
        conn, store.assignments.c.enterprise_id == enterprise_id,
        store.assignments.c.registration_no == body.registration_no)
    distributors = await store.distributors_by_id(
        conn, [a.distributor_id for a in existing] + [new.distributor_id])
    problems = domain.assignment_problems(new, existing, distributors=distributors, now=now)
    if problems:
        raise errors.assignment_refused(problems)
    await conn.execute(insert(store.assignments).values(
        assignment_id=new.assignment_id, enterprise_id=enterprise_id,
        registration_no=new.registration_no, distributor_id=new.distributor_id,
        scope=body.scope, institution_id=new.institution_id, region=new.region,
        valid_from=new.valid_from, valid_until=new.valid_until, recorded_by=caller.actor,
        recorded_at=now, reason=body.reason))
    event = AssignmentRecorded(
        assignment_id=new.assignment_id, enterprise_id=enterprise_id,
        registration_no=new.registration_no, distributor_id=new.distributor_id, scope=body.scope,
        institution_id=new.institution_id, region=new.region, valid_from=new.valid_from,
        valid_until=new.valid_until, recorded_by=caller.actor, recorded_at=now,
        reason=body.reason)
    await store.write_changes(conn, [("assignment", new.assignment_id, "recorded",
                                      event.model_dump(mode="json"))],
                              caller.actor, body.reason, uow.clock.now())
    uow.record(event)

    pool = [*existing, new]
    waiting = await store.pending_orders(
        conn, enterprise_id, new.registration_no,
        institution_id=new.institution_id if new.scope == domain.Scope.INSTITUTION else None,
        region=new.region if new.scope == domain.Scope.REGION else None)
    routed = await routing.route_orders(uow, waiting, pool, distributors, now)
    closed = await violations.close_contingencies(uow, new, pool, distributors, now)
    row = await store.get_assignment(conn, new.assignment_id)
    return AssignmentRecordedOut(**views.assignment_out(row, now).model_dump(),
                                 routed_orders=routed, contingencies_closed=closed)


async def revoke_assignment(uow: UnitOfWork, assignment_id: str, reason: str,
                            caller: Principal) -> AssignmentOut:
    """RevokeAssignment, by its enterprise. Orders already routed stay with the distributor
    (it is still qualified); new orders go by the remaining assignments."""
    conn, now = uow.conn, uow.clock.now()
    await store.routing_lock(conn)
    row = await store.get_assignment(conn, assignment_id, for_update=True)
    if row is None or row.enterprise_id != caller.org:
        raise not_found("assignment", assignment_id)
    current = store.to_assignment(row)
    if not domain.is_live(current, now):
        raise errors.assignment_not_live(assignment_id, views.assignment_status(current, now))
    revoked = domain.revoke(current, now)
    await conn.execute(update(store.assignments)
                       .where(store.assignments.c.assignment_id == assignment_id)
                       .values(revoked_at=revoked.revoked_at, revoked_by=caller.actor,
                               revoke_reason=reason))
    await store.write_changes(conn, [("assignment", assignment_id, "revoked",
                                      {"revoked_at": now})], caller.actor, reason,
                              uow.clock.now())
    uow.record(AssignmentRevoked(assignment_id=assignment_id, enterprise_id=row.enterprise_id,
                                 distributor_id=row.distributor_id, reason=reason,
                                 revoked_by=caller.actor, revoked_at=now))
    return views.assignment_out(await store.get_assignment(conn, assignment_id), now)
