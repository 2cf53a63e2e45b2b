"""Credit measures (R-CAT-8, R-CRD-3, R-CRD-4): the consumers of monitoring's credit-measure
events. A suspending measure suspends the listings it reaches; lifting it reinstates those no
other measure still holds."""

from __future__ import annotations

from sqlalchemy import delete, insert, select, update

from contracts.base import CloudEvent
from contracts.catalog import ListingReinstated, ListingSuspended
from contracts.monitoring import SUSPENDING, CreditMeasureApplied, CreditMeasureLifted
from services.catalog import domain, store
from services.runtime.db import UnitOfWork


async def on_measure_applied(uow: UnitOfWork, event: CreditMeasureApplied,
                             ce: CloudEvent) -> None:
    """R-CAT-8: suspend the listings a suspending measure on an enterprise reaches; each
    suspension is recorded per measure, so a listing stays suspended while any holds it."""
    if event.subject_kind != "enterprise" or event.measure not in SUSPENDING:
        return
    refs = await _listing_refs(uow, event.subject_id)
    reach = domain.measure_reach(subject_id=event.subject_id, region=event.region,
                                 scope=event.scope,
                                 registration_nos=frozenset(event.registration_nos),
                                 listings=refs)
    reason = f"credit measure {event.measure} ({event.level}): {event.reason}"
    actor = f"credit:{event.decided_by}"
    for lid in reach:
        already = await uow.conn.scalar(select(store.suspensions.c.listing_id).where(
            store.suspensions.c.listing_id == lid,
            store.suspensions.c.measure_id == event.measure_id))
        if already is not None:
            continue
        await uow.conn.execute(insert(store.suspensions).values(
            listing_id=lid, measure_id=event.measure_id, reason=reason,
            since=event.effective_from))
        row = await store.get_listing(uow.conn, lid, for_update=True)
        assert row is not None
        if row.status == "suspended":
            continue  # already suspended by another measure: this one is recorded too
        version = row.version + 1
        await uow.conn.execute(update(store.listings).where(store.listings.c.listing_id == lid)
                               .values(status="suspended", suspended_reason=reason,
                                       version=version, updated_at=uow.clock.now()))
        await store.write_listing_history(
            uow.conn, [(lid, version, "suspended", {"measure_id": event.measure_id})],
            actor=actor, reason=reason, at=uow.clock.now())
        uow.record(ListingSuspended(
            listing_id=lid, program_id=row.program_id, enterprise_id=row.enterprise_id,
            reason=reason, measure_id=event.measure_id, suspended_by=actor,
            suspended_at=uow.clock.now(), version=version))


async def on_measure_lifted(uow: UnitOfWork, event: CreditMeasureLifted,
                            ce: CloudEvent) -> None:
    """R-CRD-4: lifting a measure reinstates the listings no other measure still holds."""
    lids = list((await uow.conn.execute(select(store.suspensions.c.listing_id).where(
        store.suspensions.c.measure_id == event.measure_id))).scalars())
    await uow.conn.execute(delete(store.suspensions)
                           .where(store.suspensions.c.measure_id == event.measure_id))
    actor = f"credit:{event.lifted_by}"
    for lid in lids:
        others = await uow.conn.scalar(select(store.suspensions.c.reason)
                                       .where(store.suspensions.c.listing_id == lid))
        row = await store.get_listing(uow.conn, lid, for_update=True)
        assert row is not None
        version = row.version + 1
        if others is not None:  # still suspended by another measure
            await uow.conn.execute(update(store.listings)
                                   .where(store.listings.c.listing_id == lid)
                                   .values(suspended_reason=others))
            continue
        await uow.conn.execute(update(store.listings).where(store.listings.c.listing_id == lid)
                               .values(status="listed", suspended_reason=None, version=version,
                                       updated_at=uow.clock.now()))
        reason = f"credit measure {event.measure_id} lifted: {event.reason}"
        await store.write_listing_history(
            uow.conn, [(lid, version, "reinstated", {"measure_id": event.measure_id})],
            actor=actor, reason=reason, at=uow.clock.now())
        uow.record(ListingReinstated(
            listing_id=lid, program_id=row.program_id, enterprise_id=row.enterprise_id,
            reason=reason, measure_id=event.measure_id, reinstated_by=actor,
            reinstated_at=uow.clock.now(), version=version))


async def _listing_refs(uow: UnitOfWork, enterprise_id: str) -> list[domain.ListingRef]:
    return [domain.ListingRef(r.listing_id, r.enterprise_id, r.registration_no, r.region)
            for r in await store.listings_with_region(uow.conn, enterprise_id)]
