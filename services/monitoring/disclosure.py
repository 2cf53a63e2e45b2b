"""Public disclosure: credit ratings and measures in force, listing prices, and monthly
execution by region and product — for anyone, without a token.

What is public and what is not (the notices publish ratings, measures and prices; hospitals'
own figures are not published):

* ratings: only those whose level carries the ``public_disclosure`` measure in the profile's
  table (R-CRD-3: disclosure is itself a measure), with their measures in force;
* listings: product, enterprise, listing price and whether it can be ordered;
* execution: per region × product, ordered and accepted units and amounts, orders delivered
  and the mean delivery time, and how many institutions bought — a line bought by fewer than
  ``MIN_INSTITUTIONS`` institutions is withheld (its figures would be one hospital's own).

Pages are capped; each response carries an ``ETag`` (of its body) and ``Cache-Control``; a
request with a matching ``If-None-Match`` gets 304.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

from pydantic import BaseModel
from sqlalchemy import literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.money import Money
from contracts.monitoring import MeasureOut
from services.monitoring import reports, store
from services.monitoring.credit import measure_out
from services.monitoring.domain.reports import Figures, Grain, Month

MIN_INSTITUTIONS = 3
CACHE_CONTROL = "public, max-age=300"


class PublicRating(BaseModel):
    subject_kind: str
    subject_id: str
    region: str
    scheme: str
    level: str
    measures: list[MeasureOut]


class PublicRatingsPage(BaseModel):
    items: list[PublicRating]
    next_cursor: str | None = None


class PublicListing(BaseModel):
    listing_id: str
    program_id: str
    registration_no: str
    product_name: str
    enterprise_name: str
    listing_price: Money
    winning: bool
    status: str


class PublicListingsPage(BaseModel):
    items: list[PublicListing]
    next_cursor: str | None = None


class PublicExecution(BaseModel):
    month: str
    region: str
    registration_no: str
    institutions: int
    ordered_units: int
    ordered_amount: Money
    accepted_units: int
    accepted_amount: Money
    orders_delivered: int
    mean_delivery_hours: Decimal | None


class PublicExecutionPage(BaseModel):
    month: str
    withheld: int
    """lines withheld: fewer than MIN_INSTITUTIONS institutions"""
    items: list[PublicExecution]
    next_cursor: str | None = None


def etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _split(cursor: str | None, parts: int) -> tuple[str, ...] | None:
    if cursor is None:
        return None
    pieces = tuple(cursor.split("|"))
    return pieces if len(pieces) == parts else None


async def ratings(conn: AsyncConnection, cursor: str | None, limit: int) -> PublicRatingsPage:
    T, M = store.ratings, store.measures
    key = tuple_(T.c.subject_kind, T.c.subject_id, T.c.region, T.c.scheme)
    query = (select(T).where(T.c.public.is_(True), T.c.level.is_not(None))
             .order_by(T.c.subject_kind, T.c.subject_id, T.c.region, T.c.scheme)
             .limit(limit + 1))
    after = _split(cursor, 4)
    if after is not None:
        query = query.where(key > tuple_(*(literal(part) for part in after)))
    rows = (await conn.execute(query)).all()
    items = []
    for r in rows[:limit]:
        ms = (await conn.execute(select(M).where(
            M.c.subject_kind == r.subject_kind, M.c.subject_id == r.subject_id,
            M.c.region == r.region, M.c.scheme == r.scheme, M.c.lifted_at.is_(None))
            .order_by(M.c.measure_id))).all()
        items.append(PublicRating(subject_kind=r.subject_kind, subject_id=r.subject_id,
                                  region=r.region, scheme=r.scheme, level=r.level,
                                  measures=[measure_out(m) for m in ms]))
    last = rows[limit - 1] if len(rows) > limit else None
    return PublicRatingsPage(items=items, next_cursor=None if last is None else "|".join(
        (last.subject_kind, last.subject_id, last.region, last.scheme)))


async def listings(conn: AsyncConnection, program_id: str | None, cursor: str | None,
                   limit: int) -> PublicListingsPage:
    listings_table = store.listings
    query = select(listings_table).order_by(listings_table.c.listing_id).limit(limit + 1)
    if program_id is not None:
        query = query.where(listings_table.c.program_id == program_id)
    if cursor is not None:
        query = query.where(listings_table.c.listing_id > cursor)
    rows = (await conn.execute(query)).all()
    items = [PublicListing(listing_id=r.listing_id, program_id=r.program_id,
                           registration_no=r.registration_no, product_name=r.product_name,
                           enterprise_name=r.enterprise_name, listing_price=r.listing_price,
                           winning=r.winning, status=r.status) for r in rows[:limit]]
    return PublicListingsPage(items=items, next_cursor=rows[limit - 1].listing_id
                              if len(rows) > limit else None)


async def execution(conn: AsyncConnection, month: Month, region: str | None,
                    cursor: str | None, limit: int) -> PublicExecutionPage:
    grains = await reports.grains(conn, month, region=region)
    groups: dict[tuple[str, str], list[Grain]] = {}
    for g in grains:
        if g.registration_no is not None:  # payments' figures name no product
            groups.setdefault((g.region, g.registration_no), []).append(g)
    lines, withheld = [], 0
    for (reg, product), members in sorted(groups.items()):
        buyers = {g.institution_id for g in members if g.figures.ordered_units
                  or g.figures.accepted_units}
        if not buyers:
            continue
        if len(buyers) < MIN_INSTITUTIONS:
            withheld += 1
            continue
        lines.append(_public(month, reg, product, len(buyers), members))
    after = _split(cursor, 2)
    if after is not None:
        lines = [ln for ln in lines if (ln.region, ln.registration_no) > after]
    page = lines[:limit]
    return PublicExecutionPage(
        month=str(month), withheld=withheld, items=page,
        next_cursor=f"{page[-1].region}|{page[-1].registration_no}"
        if len(lines) > limit else None)


def _public(month: Month, region: str, product: str, buyers: int,
            members: Sequence[Grain]) -> PublicExecution:
    f = Figures()
    for g in members:
        f.add(g.figures)
    hours = (None if not f.orders_delivered else
             (Decimal(f.delivery_seconds) / (3600 * f.orders_delivered))
             .quantize(Decimal("0.01"), ROUND_HALF_UP))
    return PublicExecution(month=str(month), region=region, registration_no=product,
                           institutions=buyers, ordered_units=f.ordered_units,
                           ordered_amount=f.ordered_amount, accepted_units=f.accepted_units,
                           accepted_amount=f.accepted_amount,
                           orders_delivered=f.orders_delivered, mean_delivery_hours=hours)
