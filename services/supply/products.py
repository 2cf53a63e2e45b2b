"""Supply's read model of catalog's listings: which enterprise a product belongs to, and its
name (``ProductListed``, ``WinningProductCorrected``)."""

from __future__ import annotations

from sqlalchemy import update

from contracts.base import CloudEvent
from contracts.catalog import ProductListed, WinningProductCorrected
from services.runtime.db import UnitOfWork, insert_ignoring_duplicates
from services.supply import store


async def on_product_listed(uow: UnitOfWork, event: ProductListed, ce: CloudEvent) -> None:
    statement = (insert_ignoring_duplicates(uow.conn, store.products)
                 .values(listing_id=event.listing_id, registration_no=event.registration_no,
                         enterprise_id=event.enterprise_id,
                         enterprise_name=event.enterprise_name, version=event.version))
    await uow.conn.execute(statement)


async def on_product_corrected(uow: UnitOfWork, event: WinningProductCorrected,
                               ce: CloudEvent) -> None:
    products = store.products
    await uow.conn.execute(update(products).where(products.c.listing_id == event.listing_id,
                                                  products.c.version < event.version)
                           .values(enterprise_id=event.enterprise_id,
                                   enterprise_name=event.enterprise_name,
                                   version=event.version))
