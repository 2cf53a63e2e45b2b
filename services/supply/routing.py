"""Routing (R-SUP-1, R-SUP-3, R-SUP-5, R-AGR-4, R-AGR-7): placed orders to their assigned
distributor or to a supply risk (R-SUP-4), the sweep of pending orders, and cancellations
(R-AGR-8)."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, select, text, update
from sqlalchemy.dialects import sqlite

from contracts.base import CloudEvent
from contracts.orders import OrderCancelled, OrderPlaced
from contracts.supply import (
    OrderRouted,
    SupplyRiskOpened,
    SweepOut,
)
from services.runtime.consumer import traced
from services.runtime.db import UnitOfWork, is_postgres
from services.supply import domain, store

log = logging.getLogger("vbp.supply")


_ORDER_COLUMNS = ("order_id", "program_id", "institution_id", "region", "enterprise_id",
                  "registration_no", "units", "placed_at", "status", "distributor_id",
                  "assignment_id", "routed_at")
# built once per dialect: constructing the insert per event cost more than running it
_ADD_ORDER = {
    name: dialect.insert(store.orders)
    .values({c: bindparam(c) for c in _ORDER_COLUMNS})
    .on_conflict_do_nothing(index_elements=["order_id"])
    .returning(store.orders.c.order_id)
    for name, dialect in (("sqlite", sqlite),)
}
_ORDER_TYPES = ("text", "text", "text", "text", "text", "text", "integer", "timestamptz",
                "text", "text", "text", "timestamptz")
_ADD_ORDER_PG = text(
    f"INSERT INTO orders ({', '.join(_ORDER_COLUMNS)}) SELECT {', '.join(_ORDER_COLUMNS)} "
    "FROM json_to_recordset(CAST(:rows AS json)) AS o("
    + ", ".join(f"{c} {t}" for c, t in zip(_ORDER_COLUMNS, _ORDER_TYPES, strict=True))
    + ") ON CONFLICT (order_id) DO NOTHING RETURNING order_id")
"""The same on PostgreSQL with the rows bound as one JSON text: one statement whatever the
number of orders (the multi-row insert cost a quarter of a millisecond per order), and no
per-element work in the driver (asyncpg's array encoder checks each element's type)."""


async def on_orders_placed(uow: UnitOfWork,
                           placed: Sequence[tuple[OrderPlaced, CloudEvent]]) -> None:
    """Route placed orders (consecutive ``OrderPlaced`` of one partition, applied together as if
    one after the other) to the assigned distributor, or open a supply risk and keep the order
    pending (R-SUP-1, R-SUP-4). Orders beyond the agreement volume route like any other
    (R-SUP-5, R-AGR-4): nothing about volume or account opening is looked at (R-SUP-2,
    R-AGR-7). An order already known — from an earlier event, or earlier in this run — is
    never routed again.

    One query finds the candidates of every order, one statement inserts the orders; only
    orders left without a distributor take their product's lock and are decided again."""
    conn, now = uow.conn, uow.clock.now()
    firsts: dict[str, tuple[domain.OrderToRoute, OrderPlaced, CloudEvent]] = {}
    for event, ce in placed:
        if event.order_id in firsts:
            log.info("order %s is already known: not routed again", event.order_id)
            continue
        firsts[event.order_id] = (
            domain.OrderToRoute(event.order_id, event.enterprise_id, event.registration_no,
                                event.institution_id, event.region, event.units,
                                event.placed_at), event, ce)
    orders = [order for order, _, _ in firsts.values()]
    pool, distributors = await store.routing_candidates(conn, orders)
    decisions = dict(zip(firsts, domain.route_each(orders, pool, distributors, now),
                         strict=True))
    at_risk = [o for o in orders if isinstance(decisions[o.order_id], domain.SupplyRisk)]
    if at_risk and is_postgres(conn):
        # meet any assignment being recorded right now (it holds this lock while it looks for
        # pending orders): decide again once it has committed
        for key in sorted({(o.enterprise_id, o.registration_no) for o in at_risk}):
            await store.product_lock(conn, *key)
        pool, distributors = await store.routing_candidates(conn, at_risk)
        decisions.update(zip((o.order_id for o in at_risk),
                             domain.route_each(at_risk, pool, distributors, now), strict=True))
    rows = []
    for order, event, _ in firsts.values():
        decision = decisions[order.order_id]
        row: dict[str, Any] = {
            "order_id": order.order_id, "program_id": event.program_id,
            "institution_id": order.institution_id, "region": order.region,
            "enterprise_id": order.enterprise_id, "registration_no": order.registration_no,
            "units": order.quantity, "placed_at": order.placed_at, "status": "pending",
            "distributor_id": None, "assignment_id": None, "routed_at": None}
        if isinstance(decision, domain.Routed):
            row.update(status="routed", distributor_id=decision.distributor_id,
                       assignment_id=decision.assignment_id, routed_at=now)
        rows.append(row)
    if is_postgres(conn):
        added = set((await conn.execute(_ADD_ORDER_PG, {
            "rows": json.dumps(rows, default=datetime.isoformat)})).scalars())
    else:
        added = set((await conn.execute(_ADD_ORDER["sqlite"], rows)).scalars())
    risks: list[tuple[str, str, domain.SupplyRisk, str | None]] = []
    for order, _, ce in firsts.values():
        decision = decisions[order.order_id]
        if order.order_id not in added:
            log.info("order %s is already known: not routed again", order.order_id)
        elif isinstance(decision, domain.Routed):
            with traced(ce):
                uow.record(OrderRouted(
                    order_id=order.order_id, institution_id=order.institution_id,
                    enterprise_id=order.enterprise_id, distributor_id=decision.distributor_id,
                    assignment_id=decision.assignment_id, routed_at=now), time=now)
        else:
            risks.append((order.order_id, order.institution_id, decision, None))
    await open_risks(uow, risks, now, traces={order.order_id: ce
                                                 for order, _, ce in firsts.values()})


async def open_risks(uow: UnitOfWork,
                      risks: Sequence[tuple[str, str, domain.SupplyRisk, str | None]],
                      now: datetime, *, traces: Mapping[str, CloudEvent] | None = None) -> None:
    """Record supply risks (R-SUP-4) for orders nobody may distribute now: (order id,
    institution id, risk, distributor it was taken back from). ``traces``: the event each
    order's risk follows from, by order id."""
    if not risks:
        return
    rows = [{"order_id": order_id, "enterprise_id": risk.enterprise_id,
             "registration_no": risk.registration_no, "institution_id": institution_id,
             "reason": str(risk.reason), "taken_back_from": taken_back_from, "opened_at": now}
            for order_id, institution_id, risk, taken_back_from in risks]
    await uow.conn.execute(insert(store.supply_risks), rows)
    for (order_id, *_), r in zip(risks, rows, strict=True):
        cause = traces.get(order_id) if traces else None
        with traced(cause) if cause is not None else nullcontext():
            uow.record(SupplyRiskOpened(
                order_id=r["order_id"], enterprise_id=r["enterprise_id"],
                registration_no=r["registration_no"], institution_id=r["institution_id"],
                reason=r["reason"], opened_at=now, taken_back_from=r["taken_back_from"]))


async def close_risks(uow: UnitOfWork, order_ids: Sequence[str], resolution: str,
                       now: datetime) -> dict[str, str | None]:
    """Close the open risks of these orders; returns order → distributor it was taken back
    from (if it was)."""
    taken: dict[str, str | None] = {}
    risks = store.supply_risks
    for start in range(0, len(order_ids), 5000):
        chunk = order_ids[start:start + 5000]
        where = and_(risks.c.order_id.in_(chunk), risks.c.closed_at.is_(None))
        for oid, source in (await uow.conn.execute(
                select(risks.c.order_id, risks.c.taken_back_from).where(where))).all():
            taken[oid] = source
        await uow.conn.execute(update(risks).where(where)
                               .values(closed_at=now, resolution=resolution))
    return taken


async def apply_routes(uow: UnitOfWork, routes: Sequence[tuple[Any, domain.Routed]],
                        now: datetime, *, rerouted_from: str | None = None) -> None:
    """Point orders at their (new) distributor and publish OrderRouted for each."""
    if not routes:
        return
    await uow.conn.execute(
        update(store.orders).where(store.orders.c.order_id == bindparam("b_order"))
        .values(status="routed", distributor_id=bindparam("b_dist"),
                assignment_id=bindparam("b_assignment"), routed_at=now),
        [{"b_order": row.order_id, "b_dist": r.distributor_id, "b_assignment": r.assignment_id}
         for row, r in routes])
    taken = await close_risks(uow, [row.order_id for row, _ in routes], "routed", now)
    for row, r in routes:
        uow.record(OrderRouted(
            order_id=row.order_id, institution_id=row.institution_id,
            enterprise_id=row.enterprise_id, distributor_id=r.distributor_id,
            assignment_id=r.assignment_id, rerouted_from=rerouted_from or taken.get(row.order_id),
            routed_at=now))


async def route_orders(uow: UnitOfWork, waiting: Sequence[Any],
                         pool: Sequence[domain.Assignment],
                         distributors: dict[str, domain.Distributor], now: datetime) -> int:
    routes = []
    for row in waiting:
        decision = domain.route(store.to_order(row), pool, distributors, now)
        if isinstance(decision, domain.Routed):
            routes.append((row, decision))
    await apply_routes(uow, routes, now)
    return len(routes)


async def route_pending(uow: UnitOfWork, limit: int) -> SweepOut:
    """RoutePendingOrders: route the pending orders that an assignment now covers (one that
    has started since it was recorded, or a distributor whose bar has ended)."""
    conn, now = uow.conn, uow.clock.now()
    await store.routing_lock(conn, exclusive=True)
    rows = list((await conn.execute(
        select(store.orders).where(store.orders.c.status == "pending")
        .order_by(store.orders.c.placed_at, store.orders.c.order_id).limit(limit))).all())
    keys = {(r.enterprise_id, r.registration_no) for r in rows}
    pool = await store.assignments_of_products(conn, keys)
    distributors = await store.distributors_by_id(conn, {a.distributor_id for a in pool})
    routed = await route_orders(uow, rows, pool, distributors, now)
    still = await conn.scalar(select(func.count()).select_from(store.orders)
                              .where(store.orders.c.status == "pending"))
    return SweepOut(routed=routed, still_pending=int(still or 0))


async def on_order_cancelled(uow: UnitOfWork, event: OrderCancelled, ce: CloudEvent) -> None:
    """Cancelled before shipping (R-AGR-8): stop tracking it.

    Locks in the order a bar or an assignment takes them (its distributor, or its product when
    pending, then the order), never the routing lock: this may share a transaction with orders
    just routed, whose distributors it already holds."""
    conn = uow.conn
    row = await store.get_order(conn, event.order_id)
    if row is None or row.status in ("cancelled", "delivered"):
        return
    if row.distributor_id is not None:
        await store.distributors_by_id(conn, [row.distributor_id], key_share=True)
    else:
        await store.product_lock(conn, row.enterprise_id, row.registration_no)
    row = await store.get_order(conn, event.order_id, for_update=True)
    assert row is not None
    if row.shipped_units > 0 or row.status in ("cancelled", "delivered"):
        log.warning("order %s cancelled while %s with %d units shipped: kept", row.order_id,
                    row.status, row.shipped_units)
        return
    await conn.execute(update(store.orders).where(store.orders.c.order_id == row.order_id)
                       .values(status="cancelled", cancelled_at=event.cancelled_at))
    await close_risks(uow, [row.order_id], "cancelled", uow.clock.now())
