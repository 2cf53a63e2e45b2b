"""Price observations and the national lowest price (R-CAT-6): a price seen on a provincial
platform, and the non-winning listings it lowers (同步调整)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.catalog import (
    ListingPriceChanged,
    ObservationRecorded,
    PriceObservationIn,
    PriceObservationOut,
    PriceObservationsPage,
)
from services.catalog import pricing, store
from services.runtime.auth import Principal
from services.runtime.db import UnitOfWork
from services.runtime.problems import Problem
from services.runtime.texts import text


async def national_lowest(conn: AsyncConnection, registration_no: str) -> Decimal | None:
    """The national lowest price of a product from what was observed (None: nothing counts)."""
    rows = await store.observations(conn, registration_no)
    return pricing.national_lowest([
        pricing.PriceObservation(platform=r.platform, price=r.price, observed_on=r.observed_on,
                                 source_type=r.source_type) for r in rows])


async def record_observation(uow: UnitOfWork, obs: PriceObservationIn,
                             caller: Principal) -> ObservationRecorded:
    """RecordPriceObservation; a new lower national lowest price lowers the listing price of
    every non-winning listing of that product (同步调整)."""
    now = uow.clock.now()
    await uow.conn.execute(insert(store.price_observations).values(
        **obs.model_dump(), recorded_by=caller.actor, recorded_at=now))
    lowest = await national_lowest(uow.conn, obs.registration_no)
    lowered = []
    for row in await store.listings_of(uow.conn, registration_no=obs.registration_no,
                                       winning=False):
        new_price = pricing.price_after_observation(row.listing_price, lowest)
        await uow.conn.execute(update(store.listings)
                               .where(store.listings.c.listing_id == row.listing_id)
                               .values(national_lowest=lowest))
        if new_price is None:
            continue
        version = row.version + 1
        await uow.conn.execute(update(store.listings)
                               .where(store.listings.c.listing_id == row.listing_id)
                               .values(listing_price=new_price, version=version,
                                       updated_at=now))
        reason = (f"national lowest price {lowest:.2f} observed on {obs.platform} "
                  f"({obs.observed_on.isoformat()})")
        event = ListingPriceChanged(
            listing_id=row.listing_id, program_id=row.program_id,
            registration_no=row.registration_no, old_price=row.listing_price,
            new_price=new_price, national_lowest=lowest, payment_standard=row.payment_standard,
            reason=reason, changed_by=caller.actor, changed_at=now, version=version)
        await store.write_listing_history(
            uow.conn, [(row.listing_id, version, "price_changed",
                        {"old": f"{row.listing_price:.2f}", "new": f"{new_price:.2f}"})],
            actor=caller.actor, reason=reason, at=now)
        uow.record(event)
        lowered.append(row.listing_id)
    return ObservationRecorded(registration_no=obs.registration_no, national_lowest=lowest,
                               lowered_listings=lowered)


async def list_observations(conn: AsyncConnection, registration_no: str, *,
                            cursor: str | None, limit: int) -> PriceObservationsPage:
    """A page of a product's observations, by the day observed; ``cursor``: the previous
    page's ``next_cursor`` (``<day>|<id>`` of its last row)."""
    after = _after(cursor)
    rows = await store.observations_page(conn, registration_no, after, limit + 1)
    last = rows[limit - 1] if len(rows) > limit else None
    return PriceObservationsPage(
        items=[PriceObservationOut.model_validate(r._asdict()) for r in rows[:limit]],
        next_cursor=f"{last.observed_on.isoformat()}|{last.id}" if last is not None else None)


def _after(cursor: str | None) -> tuple[date, int] | None:
    if not cursor:
        return None
    day, _, ident = cursor.partition("|")
    try:
        return date.fromisoformat(day), int(ident)
    except ValueError:
        raise Problem(422, "validation", "Request is not valid",
                      text("invalid fields: {fields}", fields="query.cursor"),
                      errors=[{"field": "query.cursor",
                               "message": text("not a cursor of this list")}]) from None
