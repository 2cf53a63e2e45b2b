"""Catalog's business metrics for operators (R-MON-3), read from the service's own tables
whenever /metrics is scraped (runtime/metrics.py, ``Sampled``): programs in force, listings by
status, and listing suspensions for credit measures (R-CAT-8). Labels stay bounded: program,
region, product category, listing status.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.catalog import store
from services.runtime.app import Runtime
from services.runtime.metrics import Labels, Sampled

PROGRAMS = Sampled("vbp_catalog_programs", "Programs published (R-PRG-1)",
                   ("region", "category"))
LISTINGS = Sampled("vbp_catalog_listings", "Listings (挂网) by status; winning: a winning "
                   "product (R-CAT-5) or not (R-CAT-6)",
                   ("program", "category", "status", "winning"))
SUSPENSIONS = Sampled("vbp_catalog_listing_suspensions",
                      "Listings suspended for an enterprise's credit measure (R-CAT-8)",
                      ("program", "category"), "counter")


async def sample(runtime: Runtime) -> None:
    assert runtime.reader is not None
    async with runtime.reader.connect() as conn:
        await _programs(conn)
        await _listings(conn)


async def _programs(conn: AsyncConnection) -> None:
    programs = store.programs
    rows = await conn.execute(select(programs.c.region, programs.c.category, func.count())
                              .group_by(programs.c.region, programs.c.category))
    PROGRAMS.replace({(region, category): count for region, category, count in rows})


async def _listings(conn: AsyncConnection) -> None:
    listings, history = store.listings, store.history
    listed = (await conn.execute(
        select(listings.c.program_id, listings.c.category, listings.c.status,
               listings.c.winning, func.count())
        .group_by(listings.c.program_id, listings.c.category, listings.c.status,
                  listings.c.winning))).all()
    LISTINGS.replace({(program, category, status, str(bool(winning)).lower()): count
                      for program, category, status, winning, count in listed})
    suspended = await conn.execute(
        select(listings.c.program_id, listings.c.category, func.count())
        .select_from(history.join(listings, listings.c.listing_id == history.c.subject_id))
        .where(history.c.subject_kind == store.LISTING, history.c.change == "suspended")
        .group_by(listings.c.program_id, listings.c.category))
    counts: dict[Labels, int] = {(program, category): 0  # 0 rather than no series
                                 for program, category, *_ in listed}
    counts.update({(program, category): count for program, category, count in suspended})
    SUSPENSIONS.replace(counts)
