"""Orders event handlers and their routing table: the read models of catalog's programs and
listings, and supply's routing and delivery events moving the order lifecycle (R-AGR-8)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from contracts.base import CloudEvent
from contracts.catalog import (
    ListingPriceChanged,
    ListingReinstated,
    ListingSuspended,
    ProductListed,
    ProgramProfileChanged,
    ProgramPublished,
    WinningProductCorrected,
)
from contracts.supply import OrderDelivered, OrderRouted, OrderShipped, SupplyRiskOpened
from services.orders import purchasing, store
from services.orders.domain import certificate_key
from services.runtime.consumer import ConsumerSpec
from services.runtime.db import UnitOfWork

L = store.listings
P = store.programs


# --- programs ---------------------------------------------------------------------------------


async def on_program_published(uow: UnitOfWork, event: ProgramPublished,
                               ce: CloudEvent) -> None:
    """Keep the programs the orders service needs: region, execution start, cycle, profile."""
    if await store.get_program(uow.conn, event.program_id) is not None:
        return
    profile = event.profile
    await uow.conn.execute(P.insert().values(
        program_id=event.program_id, category=event.category, region=event.region,
        execution_start=event.execution_start, cycle_years=event.cycle_years,
        profile=profile.model_dump_json() if profile is not None else None,
        profile_version=profile.version if profile is not None else 1,
        updated_at=uow.clock.now()))


async def on_profile_changed(uow: UnitOfWork, event: ProgramProfileChanged,
                             ce: CloudEvent) -> None:
    """A newer profile version replaces the one held (an older or replayed one changes
    nothing)."""
    await uow.conn.execute(
        update(P).where(P.c.program_id == event.program_id, P.c.profile_version < event.version)
        .values(profile=event.profile.model_dump_json(), profile_version=event.version,
                updated_at=uow.clock.now()))


# --- listings ---------------------------------------------------------------------------------


async def on_product_listed(uow: UnitOfWork, event: ProductListed, ce: CloudEvent) -> None:
    """Keep the local read model of listings (orders are placed against it)."""
    fields = {name: getattr(event, name) for name in L.c.keys() if hasattr(event, name)}
    fields["registration_no"] = certificate_key(event.registration_no)
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


CONSUMERS = [
    ConsumerSpec(name="catalog", routes={
        ProgramPublished: on_program_published,
        ProgramProfileChanged: on_profile_changed,
        ProductListed: on_product_listed,
        ListingPriceChanged: on_price_changed,
        WinningProductCorrected: on_corrected,
        ListingSuspended: on_suspended,
        ListingReinstated: on_reinstated,
    }),
    ConsumerSpec(name="supply", routes={
        OrderRouted: purchasing.on_routed,
        OrderShipped: purchasing.on_shipped,
        OrderDelivered: purchasing.on_delivered,
        SupplyRiskOpened: purchasing.on_supply_risk,
    }),
]
