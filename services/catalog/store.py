"""Catalog tables and queries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Integer,
    Row,
    String,
    Table,
    UniqueConstraint,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from services.runtime.db import Fen, UTCDateTime, new_metadata

metadata = new_metadata()

programs = Table(
    "programs",
    metadata,
    Column("program_id", String(64), primary_key=True),
    Column("category", String(100), nullable=False),
    Column("region", String(100), nullable=False),
    Column("notice_no", String(200), nullable=False),
    Column("organiser", String(20), nullable=False),
    Column("procurement_doc_no", String(100)),
    Column("execution_start", UTCDateTime(), nullable=False),
    Column("cycle_years", Integer, nullable=False),
    Column("published_by", String(200), nullable=False),
    Column("published_at", UTCDateTime(), nullable=False),
)

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
    Column("product_price", Fen(), nullable=False),
    Column("service_price", Fen(), nullable=False),
    Column("listing_price", Fen(), nullable=False),
    Column("winning", Boolean, nullable=False),
    Column("status", String(20), nullable=False),
    Column("listed_at", UTCDateTime(), nullable=False),
    Column("listed_by", String(200), nullable=False),
    UniqueConstraint("program_id", "registration_no"),
)


async def get_program(conn: AsyncConnection, program_id: str) -> Row[Any] | None:
    return (await conn.execute(select(programs).where(programs.c.program_id == program_id))).first()


async def listings_by_id(conn: AsyncConnection, ids: Sequence[str]) -> dict[str, Row[Any]]:
    if not ids:
        return {}
    rows = (await conn.execute(select(listings).where(listings.c.listing_id.in_(ids)))).all()
    return {row.listing_id: row for row in rows}


async def get_listing(
    conn: AsyncConnection, listing_id: str, *, enterprise_id: str | None = None
) -> Row[Any] | None:
    """A listing; with ``enterprise_id``, only if it is that enterprise's."""
    query = select(listings).where(listings.c.listing_id == listing_id)
    if enterprise_id is not None:
        query = query.where(listings.c.enterprise_id == enterprise_id)
    return (await conn.execute(query)).first()
