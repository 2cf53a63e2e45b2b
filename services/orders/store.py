"""Orders tables and queries, including its read model of the catalog's listings."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, Column, Integer, Row, String, Table, Text, select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.runtime.db import Fen, UTCDateTime, new_metadata

metadata = new_metadata()

listings = Table(
    "listings",
    metadata,
    Column("listing_id", String(64), primary_key=True),
    Column("program_id", String(64), nullable=False, index=True),
    Column("category", String(100), nullable=False),
    Column("registration_no", String(40), nullable=False),
    Column("product_name", String(200), nullable=False),
    Column("enterprise_id", String(64), nullable=False, index=True),
    Column("enterprise_name", String(200), nullable=False),
    Column("registrant", String(200), nullable=False),
    Column("listing_price", Fen(), nullable=False),
    Column("payment_standard", Fen()),
    Column("coverage", String(10)),
    Column("national_lowest", Fen()),
    Column("winning", Boolean, nullable=False),
    Column("status", String(20), nullable=False),
    Column("suspended_reason", Text),
    Column("version", Integer, nullable=False),
    Column("listed_at", UTCDateTime(), nullable=False),
)


async def search_listings(
    conn: AsyncConnection,
    *,
    program_id: str | None,
    enterprise_id: str | None,
    after: str | None,
    limit: int,
) -> list[Row[Any]]:
    """Listings in a stable order (by id), keyset-paginated."""
    query = select(listings).order_by(listings.c.listing_id).limit(limit)
    if program_id:
        query = query.where(listings.c.program_id == program_id)
    if enterprise_id:
        query = query.where(listings.c.enterprise_id == enterprise_id)
    if after:
        query = query.where(listings.c.listing_id > after)
    return list((await conn.execute(query)).all())
