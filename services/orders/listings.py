"""The listings the orders service knows: its read model of catalog's listings (orders are
placed against it, R-CAT-5/8), kept by the consumers below, and what callers see of it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from contracts.base import CloudEvent
from contracts.catalog import (
    ListingOut,
    ListingPriceChanged,
    ListingReinstated,
    ListingsPage,
    ListingSuspended,
    ProductListed,
    WinningProductCorrected,
)
from services.orders import domain, store
from services.runtime.auth import Principal
from services.runtime.db import UnitOfWork

LISTINGS = store.listings


async def on_product_listed(uow: UnitOfWork, event: ProductListed, ce: CloudEvent) -> None:
    """Keep the local read model of listings (orders are placed against it)."""
    fields = {name: getattr(event, name) for name in LISTINGS.c.keys() if hasattr(event, name)}
    fields["registration_no"] = domain.certificate_key(event.registration_no)
    current = await uow.conn.scalar(
        select(LISTINGS.c.version).where(LISTINGS.c.listing_id == event.listing_id))
    if current is None:
        await uow.conn.execute(LISTINGS.insert().values(**fields, status=domain.LISTED))
    elif current < event.version:
        await uow.conn.execute(
            update(LISTINGS).where(LISTINGS.c.listing_id == event.listing_id).values(fields))


async def _apply(uow: UnitOfWork, listing_id: str, version: int, values: dict[str, Any]) -> None:
    """Apply a change only if it is newer than what the read model has (versions per listing
    arrive in order on one partition; the guard makes a replay harmless)."""
    await uow.conn.execute(
        update(LISTINGS).where(LISTINGS.c.listing_id == listing_id, LISTINGS.c.version < version)
        .values(**values, version=version))


async def on_price_changed(uow: UnitOfWork, event: ListingPriceChanged, ce: CloudEvent) -> None:
    await _apply(uow, event.listing_id, event.version,
                 {"listing_price": event.new_price, "national_lowest": event.national_lowest})


async def on_corrected(uow: UnitOfWork, event: WinningProductCorrected, ce: CloudEvent) -> None:
    await _apply(uow, event.listing_id, event.version, {
        "listing_price": event.listing_price, "product_name": event.product_name,
        "enterprise_id": event.enterprise_id, "enterprise_name": event.enterprise_name,
        "registrant": event.registrant})


async def on_suspended(uow: UnitOfWork, event: ListingSuspended, ce: CloudEvent) -> None:
    await _apply(uow, event.listing_id, event.version,
                 {"status": "suspended", "suspended_reason": event.reason})


async def on_reinstated(uow: UnitOfWork, event: ListingReinstated, ce: CloudEvent) -> None:
    await _apply(uow, event.listing_id, event.version,
                 {"status": domain.LISTED, "suspended_reason": None})


async def search(conn: Any, caller: Principal, *, program_id: str | None,
                 enterprise_id: str | None, cursor: str | None, limit: int) -> ListingsPage:
    """Listed products that may be ordered; an enterprise sees only its own products, as in
    catalog's ``GET /v1/listings``."""
    own = caller.filters({"enterprise": "enterprise_id"}).get("enterprise_id")
    if own is not None:
        if enterprise_id not in (None, own):
            return ListingsPage(items=[])
        enterprise_id = own
    rows = await store.search_listings(conn, program_id=program_id, enterprise_id=enterprise_id,
                                       after=cursor, limit=limit + 1)
    items = [ListingOut.model_validate(row._asdict()) for row in rows[:limit]]
    next_cursor = items[-1].listing_id if len(rows) > limit else None
    return ListingsPage(items=items, next_cursor=next_cursor)
