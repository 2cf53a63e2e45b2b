"""Orders event handlers and their routing table."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from contracts.base import CloudEvent
from contracts.catalog import ProductListed
from services.orders import store
from services.runtime.consumer import ConsumerSpec
from services.runtime.db import UnitOfWork


async def on_product_listed(uow: UnitOfWork, event: ProductListed, ce: CloudEvent) -> None:
    """Keep the local read model of listings (orders are placed against it)."""
    values = {
        "listing_id": event.listing_id,
        "program_id": event.program_id,
        "category": event.category,
        "registration_no": event.registration_no,
        "product_name": event.product_name,
        "enterprise_id": event.enterprise_id,
        "enterprise_name": event.enterprise_name,
        "registrant": event.registrant,
        "listing_price": event.listing_price,
        "winning": event.winning,
        "status": "listed",
        "listed_at": event.listed_at,
    }
    exists = await uow.conn.scalar(
        select(store.listings.c.listing_id).where(store.listings.c.listing_id == event.listing_id)
    )
    if exists is None:
        dialect = postgresql if uow.conn.dialect.name == "postgresql" else sqlite
        await uow.conn.execute(
            dialect.insert(store.listings).values(values).on_conflict_do_nothing()
        )
    else:
        await uow.conn.execute(
            update(store.listings)
            .where(store.listings.c.listing_id == event.listing_id)
            .values(values)
        )


CONSUMERS = [ConsumerSpec(name="catalog-listings", routes={ProductListed: on_product_listed})]
