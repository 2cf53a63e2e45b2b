"""Orders' business metrics for operators (R-MON-1, R-MON-3), read from the service's own tables
whenever /metrics is scraped (runtime/metrics.py, ``Sampled``): orders placed, accepted and
cancelled with their amounts, agreement progress against the even line (R-AGR-3, R-AGR-6) and
pacing warnings. Labels stay bounded: program, region, product category, order status and
pacing check; never an institution or an order id. Money is in fen (分).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, ColumnElement, and_, func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncConnection

from services.orders import store
from services.orders.domain import FINAL_STATUSES, OrderStatus
from services.runtime.app import Runtime
from services.runtime.metrics import Labels, Sampled

ORDERS, LISTINGS, AGREEMENTS = store.orders, store.listings, store.agreements
WARNINGS, PROGRAMS = store.pacing_warnings, store.programs
KEY = ("program", "region", "category")
UNKNOWN = "unknown"
OPEN = tuple(status for status in OrderStatus if status not in FINAL_STATUSES)

PLACED = Sampled("vbp_orders_placed", "Purchase orders placed (R-AGR-8)", KEY, "counter")
PLACED_FEN = Sampled("vbp_orders_placed_amount_fen",
                     "Amount of the purchase orders placed, in fen (分)", KEY, "counter")
ACCEPTED = Sampled("vbp_orders_accepted",
                   "Orders accepted by their institution, in full or in part", KEY, "counter")
ACCEPTED_FEN = Sampled("vbp_orders_accepted_amount_fen",
                       "Amount accepted by institutions, in fen (starts the settlement clock, "
                       "R-PAY-1)", KEY, "counter")
CANCELLED = Sampled("vbp_orders_cancelled", "Orders cancelled before shipping", KEY, "counter")
CANCELLED_FEN = Sampled("vbp_orders_cancelled_amount_fen",
                        "Amount of the orders cancelled, in fen", KEY, "counter")
REJECTED = Sampled("vbp_orders_rejected", "Deliveries rejected by their institution", KEY,
                   "counter")
OPEN_ORDERS = Sampled("vbp_orders_open", "Orders not yet accepted, rejected or cancelled",
                      (*KEY, "status"))
AGREEMENT_UNITS = Sampled("vbp_orders_agreement_units",
                          "Agreement volume of the agreement year in force (R-AGR-1)", KEY)
AGREEMENT_ACCEPTED = Sampled("vbp_orders_agreement_accepted_units",
                             "Units of winning products accepted in the agreement year in force",
                             KEY)
PROGRESS = Sampled("vbp_orders_agreement_progress_ratio",
                   "Units accepted / agreement volume in the agreement year in force (R-AGR-3)",
                   KEY)
EVEN_LINE = Sampled("vbp_orders_agreement_even_line_ratio",
                    "Share of the agreement year in force already elapsed: where progress "
                    "would be if purchases were spread evenly (R-AGR-6)", ("program", "region"))
PACING = Sampled("vbp_orders_pacing_warnings", "Pacing warnings raised (R-AGR-6), by check",
                 ("program", "region", "check"), "counter")


def _fen(column: ColumnElement[Decimal]) -> ColumnElement[int]:
    """A money column as the integer fen it is stored as (not the yuan ``Fen`` reads)."""
    return type_coerce(column, BigInteger)


async def sample(runtime: Runtime) -> None:
    """Read every figure in one connection and publish them together."""
    assert runtime.reader is not None
    async with runtime.reader.connect() as conn:
        await _orders(conn)
        await _progress(conn, runtime.clock.now())
        await _pacing(conn)


async def _orders(conn: AsyncConnection) -> None:
    category = func.coalesce(LISTINGS.c.category, UNKNOWN)
    rows = await conn.execute(
        select(ORDERS.c.program_id, ORDERS.c.region, category, ORDERS.c.status, func.count(),
               func.coalesce(func.sum(_fen(ORDERS.c.amount)), 0),
               func.count(ORDERS.c.accepted_at),
               func.coalesce(func.sum(_fen(ORDERS.c.accepted_amount)), 0))
        .select_from(ORDERS.outerjoin(LISTINGS, LISTINGS.c.listing_id == ORDERS.c.listing_id))
        .group_by(ORDERS.c.program_id, ORDERS.c.region, category, ORDERS.c.status))
    figures: dict[Sampled, dict[Labels, int]] = {
        m: defaultdict(int) for m in (PLACED, PLACED_FEN, ACCEPTED, ACCEPTED_FEN, CANCELLED,
                                      CANCELLED_FEN, REJECTED, OPEN_ORDERS)}
    for program, region, cat, status, count, amount, accepted, accepted_fen in rows:
        key = (program, region, cat)
        for metric in (CANCELLED, CANCELLED_FEN, REJECTED):  # 0 rather than no series
            figures[metric][key] += 0
        figures[PLACED][key] += count
        figures[PLACED_FEN][key] += int(amount)
        figures[ACCEPTED][key] += accepted
        figures[ACCEPTED_FEN][key] += int(accepted_fen)
        if status == OrderStatus.CANCELLED:
            figures[CANCELLED][key] += count
            figures[CANCELLED_FEN][key] += int(amount)
        elif status == OrderStatus.REJECTED:
            figures[REJECTED][key] += count
        elif status in OPEN:
            figures[OPEN_ORDERS][(*key, status)] += count
    for metric, values in figures.items():
        metric.replace(values)


async def _progress(conn: AsyncConnection, now: datetime) -> None:
    """R-AGR-3 progress and the R-AGR-6 even line of each program's agreement year in force."""
    category = func.coalesce(LISTINGS.c.category, UNKNOWN)
    agreement = AGREEMENTS.c
    in_force = and_(agreement.year_start <= now, agreement.year_end > now)
    agreed = await conn.execute(
        select(agreement.program_id, agreement.region, category, agreement.agreement_year,
               func.sum(agreement.units), func.min(agreement.year_start),
               func.max(agreement.year_end))
        .select_from(AGREEMENTS.outerjoin(LISTINGS,
                                          LISTINGS.c.listing_id == agreement.listing_id))
        .where(in_force)
        .group_by(agreement.program_id, agreement.region, category, agreement.agreement_year))
    units: dict[Labels, int] = {}
    years: dict[tuple[str, str], tuple[int, datetime, datetime]] = {}
    for program, region, cat, year, total, start, end in agreed:
        units[(program, region, cat)] = int(total)
        years[(program, region)] = (year, start, end)
    accepted: dict[Labels, int] = {}
    if years:
        ocat = func.coalesce(LISTINGS.c.category, UNKNOWN)
        rows = await conn.execute(
            select(ORDERS.c.program_id, ORDERS.c.region, ocat, ORDERS.c.accepted_year,
                   func.sum(ORDERS.c.accepted_units))
            .select_from(ORDERS.outerjoin(LISTINGS, LISTINGS.c.listing_id == ORDERS.c.listing_id))
            .where(ORDERS.c.accepted_units.is_not(None), ORDERS.c.winning.is_(True),
                   ORDERS.c.program_id.in_({program for program, _ in years}))
            .group_by(ORDERS.c.program_id, ORDERS.c.region, ocat, ORDERS.c.accepted_year))
        for program, region, cat, year, total in rows:
            if (program, region) in years and years[(program, region)][0] == year:
                accepted[(program, region, cat)] = int(total or 0)
    AGREEMENT_UNITS.replace(units)
    AGREEMENT_ACCEPTED.replace({key: accepted.get(key, 0) for key in units})
    PROGRESS.replace({key: Decimal(accepted.get(key, 0)) / total
                      for key, total in units.items() if total > 0})
    EVEN_LINE.replace({key: min(max((now - start) / (end - start), 0.0), 1.0)
                       for key, (_, start, end) in years.items()})


async def _pacing(conn: AsyncConnection) -> None:
    region = func.coalesce(PROGRAMS.c.region, UNKNOWN)
    rows = await conn.execute(
        select(WARNINGS.c.program_id, region, WARNINGS.c.checks, func.count())
        .select_from(WARNINGS.outerjoin(PROGRAMS, PROGRAMS.c.program_id == WARNINGS.c.program_id))
        .group_by(WARNINGS.c.program_id, region, WARNINGS.c.checks))
    counts: dict[Labels, int] = defaultdict(int)
    for program, reg, checks, count in rows:
        for check in filter(None, (c.strip() for c in checks.split(","))):
            counts[(program, reg, check)] += count
    PACING.replace(counts)
