"""Supply's business metrics for operators (R-MON-1, R-MON-3), read from the service's own
tables whenever /metrics is scraped (runtime/metrics.py, ``Sampled``): orders routed, delivery
times per distributor (R-SUP-3), open supply risks and their age (R-SUP-4), the violation list.

Labels stay bounded: program, region, distributor (registered by the regulator: tens per
region), risk reason. Never an institution or an order id.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, case, func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncConnection

from services.runtime.app import Runtime
from services.runtime.db import UTCDateTime
from services.runtime.metrics import Labels, Sampled, SampledHistogram
from services.supply import store

orders, risks, bars, gaps_table = (store.orders, store.supply_risks, store.bars,
                                    store.contingency_gaps)
UNKNOWN = "unknown"
HOUR = 3600.0
DELIVERY_BUCKETS = (HOUR, 4 * HOUR, 12 * HOUR, 24 * HOUR, 48 * HOUR, 72 * HOUR, 120 * HOUR,
                    168 * HOUR, 336 * HOUR)
"""Delivery times are hours to days: 1 h, 4 h, 12 h, 1-3 days, 5 days, 1 and 2 weeks."""

ROUTED = Sampled("vbp_supply_orders_routed", "Orders routed to a distributor",
                 ("program", "region"), "counter")
UNROUTED = Sampled("vbp_supply_orders_unrouted",
                   "Orders placed that no distributor has been routed yet (open, not cancelled)",
                   ("program", "region"))
DELIVERY = SampledHistogram(
    "vbp_supply_delivery_duration_seconds",
    "Time from placing an order to its full delivery, per distributor (R-SUP-3); _count is the "
    "number of orders delivered", ("program", "region", "distributor"), DELIVERY_BUCKETS)
RISKS_OPEN = Sampled("vbp_supply_risks_open",
                     "Open supply risks: orders nobody may distribute (R-SUP-4)",
                     ("program", "region", "reason"))
RISKS_OPENED = Sampled("vbp_supply_risks_opened", "Supply risks opened (R-SUP-4)",
                       ("program", "region", "reason"), "counter")
RISK_AGE = Sampled("vbp_supply_risks_oldest_open_age_seconds",
                   "Age of the oldest open supply risk", ("program", "region"))
BARRED = Sampled("vbp_supply_distributor_barred",
                 "1 for each distributor on the violation list now (R-SUP-4)", ("distributor",))
GAPS = Sampled("vbp_supply_contingency_gaps_open",
               "Places a barred distributor left with no valid assignment (R-SUP-4)",
               ("region",))


async def sample(runtime: Runtime) -> None:
    assert runtime.reader is not None
    now = runtime.clock.now()
    async with runtime.reader.connect() as conn:
        regions = await _routing(conn)
        await _deliveries(conn)
        await _risks(conn, now)
        await _violations(conn, now, regions)


async def _routing(conn: AsyncConnection) -> set[str]:
    """Orders routed and waiting, per program and region; returns the regions seen."""
    rows = await conn.execute(
        select(orders.c.program_id, orders.c.region, func.count(orders.c.routed_at),
               func.count().filter(and_(orders.c.routed_at.is_(None),
                                        orders.c.cancelled_at.is_(None))))
        .group_by(orders.c.program_id, orders.c.region))
    routed: dict[Labels, int] = {}
    unrouted: dict[Labels, int] = {}
    for program, region, done, waiting in rows:
        routed[(program, region)] = done
        unrouted[(program, region)] = waiting
    ROUTED.replace(routed)
    UNROUTED.replace(unrouted)
    return {region for _, region in routed}


async def _deliveries(conn: AsyncConnection) -> None:
    distributor = func.coalesce(orders.c.distributor_id, UNKNOWN)
    buckets = [func.sum(case((orders.c.delivery_us <= int(bound * 1_000_000), 1), else_=0))
               for bound in DELIVERY_BUCKETS]
    rows = await conn.execute(
        select(orders.c.program_id, orders.c.region, distributor, func.count(),
               func.coalesce(func.sum(orders.c.delivery_us), 0), *buckets)
        .where(orders.c.delivery_us.is_not(None))
        .group_by(orders.c.program_id, orders.c.region, distributor))
    values: dict[Labels, tuple[list[int], float]] = {}
    for program, region, dist, count, total_us, *counts in rows:
        values[(program, region, dist)] = ([int(c or 0) for c in counts] + [count],
                                           int(total_us) / 1_000_000)
    DELIVERY.replace(values)


async def _risks(conn: AsyncConnection, now: datetime) -> None:
    program = func.coalesce(orders.c.program_id, UNKNOWN)
    region = func.coalesce(orders.c.region, UNKNOWN)
    rows = await conn.execute(
        select(program, region, risks.c.reason, func.count(),
               func.count().filter(risks.c.closed_at.is_(None)),
               type_coerce(func.min(case((risks.c.closed_at.is_(None), risks.c.opened_at))),
                           UTCDateTime()))
        .select_from(risks.outerjoin(orders, orders.c.order_id == risks.c.order_id))
        .group_by(program, region, risks.c.reason))
    opened: dict[Labels, int] = {}
    still_open: dict[Labels, int] = {}
    oldest: dict[Labels, datetime] = {}
    for prog, reg, reason, count, open_count, first in rows:
        opened[(prog, reg, reason)] = count
        still_open[(prog, reg, reason)] = open_count
        if first is not None:
            oldest[(prog, reg)] = min(first, oldest.get((prog, reg), first))
    RISKS_OPENED.replace(opened)
    RISKS_OPEN.replace(still_open)
    RISK_AGE.replace({key: max((now - first).total_seconds(), 0.0)
                      for key, first in oldest.items()})


async def _violations(conn: AsyncConnection, now: datetime, regions: set[str]) -> None:
    barred = await conn.execute(
        select(bars.c.distributor_id).distinct()
        .where(bars.c.lifted_at.is_(None), bars.c.barred_from <= now, bars.c.barred_until > now))
    BARRED.replace({(distributor,): 1 for (distributor,) in barred})
    gaps: dict[Labels, int] = {(region,): 0 for region in regions}  # 0 rather than no series
    region = func.coalesce(gaps_table.c.region, UNKNOWN)  # one expression: PostgreSQL must see the
    rows = await conn.execute(  # same parameter in SELECT and GROUP BY
        select(region, func.count()).where(gaps_table.c.closed_at.is_(None)).group_by(region))
    for place, count in rows:
        gaps[(place,)] = count
    GAPS.replace(gaps)
