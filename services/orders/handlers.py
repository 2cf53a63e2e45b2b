"""Orders event handlers and their routing table."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from contracts.base import CloudEvent
from contracts.catalog import (
    ListingPriceChanged,
    ListingReinstated,
    ListingSuspended,
    ProductListed,
    WinningProductCorrected,
)
from services.orders import store
from services.runtime.consumer import ConsumerSpec
from services.runtime.db import UnitOfWork

L = store.listings


async def on_product_listed(uow: UnitOfWork, event: ProductListed, ce: CloudEvent) -> None:
    """Keep the local read model of listings (orders are placed against it)."""
    fields = {name: getattr(event, name) for name in L.c.keys() if hasattr(event, name)}
    current = await uow.conn.scalar(select(L.c.version).where(L.c.listing_id == event.listing_id))
    if current is None:
        await uow.conn.execute(L.insert().values(**fields, status="listed"))
    elif current < event.version:
        await uow.conn.execute(update(L).where(L.c.listing_id == event.listing_id).values(fields))


async def _apply(uow: UnitOfWork, listing_id: str, version: int, values: dict[str, Any]) -> None:
    """Apply a change only if it is newer than what the read model has (versions per listing
    arrive in order on one partition; the guard makes a replay harmless)."""
    await uow.conn.execute(
        update(L).where(L.c.listing_id == listing_id, L.c.version < version)
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
                 {"status": "listed", "suspended_reason": None})


CONSUMERS = [ConsumerSpec(name="catalog-listings", routes={
    ProductListed: on_product_listed,
    ListingPriceChanged: on_price_changed,
    WinningProductCorrected: on_corrected,
    ListingSuspended: on_suspended,
    ListingReinstated: on_reinstated,
})]
