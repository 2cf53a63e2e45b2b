"""Catalog tables and queries."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Index,
    Integer,
    Row,
    Select,
    String,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    literal,
    or_,
    select,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.catalog import HistoryEntry
from services.runtime.db import BigId, Fen, UTCDateTime, new_metadata
from services.runtime.history import (
    detail_of,
    history_of,
    history_row,
    history_table,
    write_history,
)

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
    Column("profile", Text, nullable=False),
    Column("profile_version", Integer, nullable=False),
    Column("published_by", String(200), nullable=False),
    Column("published_at", UTCDateTime(), nullable=False),
)

program_profiles = Table(  # every version of every program's policy profile
    "program_profiles",
    metadata,
    Column("program_id", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("profile", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("changed_by", String(200), nullable=False),
    Column("changed_at", UTCDateTime(), nullable=False),
)

listings = Table(
    "listings",
    metadata,
    Column("listing_id", String(64), primary_key=True),
    Column("program_id", String(64), nullable=False),
    Column("category", String(100), nullable=False),
    Column("registration_no", String(40), nullable=False),
    Column("product_name", String(200), nullable=False),
    Column("enterprise_id", String(64), nullable=False),
    Column("enterprise_name", String(200), nullable=False),
    Column("registrant", String(200), nullable=False),
    Column("product_price", Fen(), nullable=False),
    Column("service_price", Fen(), nullable=False),
    Column("listing_price", Fen(), nullable=False),
    Column("payment_standard", Fen()),
    Column("coverage", String(10)),
    Column("national_lowest", Fen()),
    Column("winning", Boolean, nullable=False),
    Column("status", String(20), nullable=False),
    Column("suspended_reason", Text),
    Column("version", Integer, nullable=False),
    Column("listed_at", UTCDateTime(), nullable=False),
    Column("listed_by", String(200), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    UniqueConstraint("program_id", "registration_no"),
)
Index("ix_listings_program_id_listing_id", listings.c.program_id, listings.c.listing_id)
Index("ix_listings_enterprise_id_listing_id", listings.c.enterprise_id, listings.c.listing_id)
Index("ix_listings_registration_no", listings.c.registration_no)

history = history_table(metadata)
"""Every change of a listing (subject_kind ``listing``): who, when, why; the detail holds the
listing's new ``version`` and the change's own ``detail``."""
LISTING = "listing"

price_observations = Table(
    "price_observations",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("registration_no", String(40), nullable=False, index=True),
    Column("platform", String(200), nullable=False),
    Column("price", Fen(), nullable=False),
    Column("observed_on", Date, nullable=False),
    Column("source_type", String(20), nullable=False),
    Column("recorded_by", String(200), nullable=False),
    Column("recorded_at", UTCDateTime(), nullable=False),
)

suspensions = Table(  # a listing is suspended while it has at least one row here (R-CAT-8)
    "suspensions",
    metadata,
    Column("listing_id", String(64), primary_key=True),
    Column("measure_id", String(100), primary_key=True),
    Column("reason", Text, nullable=False),
    Column("since", UTCDateTime(), nullable=False),
)
Index("ix_suspensions_measure_id", suspensions.c.measure_id)


async def get_program(
    conn: AsyncConnection, program_id: str, *, for_update: bool = False
) -> Row[Any] | None:
    query = select(programs).where(programs.c.program_id == program_id)
    if for_update:
        query = query.with_for_update()
    return (await conn.execute(query)).first()


async def list_programs(conn: AsyncConnection) -> list[Row[Any]]:
    return list((await conn.execute(select(programs).order_by(programs.c.program_id))).all())


async def listings_by_id(
    conn: AsyncConnection, ids: Sequence[str], *, for_update: bool = False
) -> dict[str, Row[Any]]:
    if not ids:
        return {}
    found: dict[str, Row[Any]] = {}
    for start in range(0, len(ids), 5000):  # bounded IN lists
        query = select(listings).where(listings.c.listing_id.in_(ids[start:start + 5000]))
        if for_update:
            query = query.with_for_update()
        for row in (await conn.execute(query)).all():
            found[row.listing_id] = row
    return found


async def get_listing(
    conn: AsyncConnection, listing_id: str, *, enterprise_id: str | None = None,
    for_update: bool = False,
) -> Row[Any] | None:
    """A listing; with ``enterprise_id``, only if it is that enterprise's."""
    query = select(listings).where(listings.c.listing_id == listing_id)
    if enterprise_id is not None:
        query = query.where(listings.c.enterprise_id == enterprise_id)
    if for_update:
        query = query.with_for_update()
    return (await conn.execute(query)).first()


SEARCH_FILTERS = ("program_id", "category", "enterprise_id", "registration_no", "status",
                  "winning")


def search_listings(
    *,
    program_id: str | None = None,
    category: str | None = None,
    enterprise_id: str | None = None,
    registration_no: str | None = None,
    name: str | None = None,
    status: str | None = None,
    winning: bool | None = None,
    after: str | None = None,
) -> tuple[Select[Any], dict[str, Any]]:
    """Listings in a stable order (by id) after the keyset cursor ``after``, filtered: the
    query (one per combination of filters, built once) and its parameters."""
    given = {"program_id": program_id, "category": category, "enterprise_id": enterprise_id,
             "registration_no": registration_no, "status": status, "winning": winning,
             "after": after or None, "name_pattern": f"%{_escape_like(name)}%" if name else None}
    params = {k: v for k, v in given.items() if v is not None}
    return _search_query(frozenset(params)), params


@lru_cache(maxsize=256)
def _search_query(shape: frozenset[str]) -> Select[Any]:
    query = select(listings).order_by(listings.c.listing_id)
    for name in SEARCH_FILTERS:
        if name in shape:
            query = query.where(listings.c[name] == bindparam(name))
    if "name_pattern" in shape:
        pattern = bindparam("name_pattern", type_=String)
        query = query.where(or_(listings.c.product_name.like(pattern, escape="\\"),
                                listings.c.enterprise_name.like(pattern, escape="\\")))
    if "after" in shape:
        query = query.where(listings.c.listing_id > bindparam("after"))
    return query


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


HistoryEntries = Iterable[tuple[str, int, str, Any]]
"""(listing id, its new version, the change, the change's detail) per changed listing."""


async def write_listing_history(conn: AsyncConnection, entries: HistoryEntries, *, actor: str,
                                reason: str, at: datetime) -> None:
    """A history row per change of a listing: who, when, why."""
    await write_history(conn, history, (
        history_row(LISTING, lid, change, {"version": version, "detail": detail}, actor,
                    reason, at)
        for lid, version, change, detail in entries))


async def listing_changes(conn: AsyncConnection, listing_id: str) -> list[HistoryEntry]:
    """Every change of a listing, oldest first."""
    entries = []
    for row in await history_of(conn, history, LISTING, listing_id):
        detail = detail_of(row)
        entries.append(HistoryEntry(version=detail["version"], change=row.change,
                                    detail=detail["detail"], actor=row.actor, reason=row.reason,
                                    at=row.at))
    return entries


async def observations(conn: AsyncConnection, registration_no: str) -> list[Row[Any]]:
    query = (select(price_observations)
             .where(price_observations.c.registration_no == registration_no)
             .order_by(price_observations.c.observed_on, price_observations.c.id))
    return list((await conn.execute(query)).all())


async def observations_page(conn: AsyncConnection, registration_no: str,
                            after: tuple[date, int] | None, limit: int) -> list[Row[Any]]:
    """At most ``limit`` of a product's observations after ``after`` (day observed, id), in
    that order."""
    query = select(price_observations).where(
        price_observations.c.registration_no == registration_no)
    if after is not None:
        query = query.where(tuple_(price_observations.c.observed_on, price_observations.c.id)
                            > tuple_(literal(after[0]), literal(after[1])))
    query = query.order_by(price_observations.c.observed_on, price_observations.c.id)
    return list((await conn.execute(query.limit(limit))).all())


async def listings_of(conn: AsyncConnection, *, registration_no: str,
                      winning: bool | None = None) -> list[Row[Any]]:
    query = select(listings).where(listings.c.registration_no == registration_no)
    if winning is not None:
        query = query.where(listings.c.winning == winning)
    return list((await conn.execute(query.order_by(listings.c.listing_id))).all())


async def listings_with_region(conn: AsyncConnection, enterprise_id: str) -> list[Row[Any]]:
    """An enterprise's listings with their program's region (a credit measure's reach)."""
    query = (select(listings.c.listing_id, listings.c.enterprise_id, listings.c.registration_no,
                    programs.c.region)
             .join(programs, programs.c.program_id == listings.c.program_id)
             .where(listings.c.enterprise_id == enterprise_id))
    return list((await conn.execute(query)).all())


async def enterprise_name(conn: AsyncConnection, enterprise_id: str) -> str | None:
    """The name an enterprise's listings give it (None if it has none yet), for messages that
    name the enterprise beside its opaque id."""
    query = (select(listings.c.enterprise_name).where(listings.c.enterprise_id == enterprise_id)
             .order_by(listings.c.listing_id).limit(1))
    name: str | None = await conn.scalar(query)
    return name
