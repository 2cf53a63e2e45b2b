"""Supply command handlers, and the routing table of the events it consumes.

Each handler runs in one unit of work: it reads what the rules need, asks ``domain`` for the
decision, writes the result and records the events (who, when, why) in the same transaction.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from contracts.base import CloudEvent
from contracts.catalog import ProductListed, WinningProductCorrected
from contracts.monitoring import CreditMeasureApplied, CreditMeasureLifted
from contracts.orders import OrderCancelled, OrderPlaced
from contracts.supply import (
    AccountIn,
    AccountOut,
    AssignmentIn,
    AssignmentOut,
    AssignmentRecorded,
    AssignmentRecordedOut,
    AssignmentRevoked,
    BarOut,
    BarOutcomeOut,
    DeliveryIn,
    DistributorBarred,
    DistributorIn,
    DistributorOut,
    DistributorRegistered,
    DistributorReinstated,
    MovementOut,
    OrderDelivered,
    OrderRouted,
    OrderShipped,
    ShipmentIn,
    SupplyOrderOut,
    SupplyRiskOpened,
    SweepOut,
)
from services.runtime.auth import Principal
from services.runtime.consumer import ConsumerSpec, traced
from services.runtime.db import UnitOfWork, is_postgres
from services.runtime.problems import Problem, not_found
from services.supply import domain, store
from services.supply.waiting import OrderNotKnownYet

log = logging.getLogger("vbp.supply")

CLOCK_SKEW = timedelta(minutes=5)
"""How far in the future a reported shipment or delivery instant may be (clock drift)."""


def new_id(prefix: str, now: datetime) -> str:
    """Time-ordered ids: a later id sorts after an earlier one (``domain`` breaks ties so)."""
    return f"{prefix}-{int(now.timestamp() * 1000):012x}{secrets.token_hex(4)}"


async def _history(uow: UnitOfWork, entries: Iterable[tuple[str, str, str, Any]], actor: str,
                   reason: str, at: datetime | None = None) -> None:
    rows = [{"subject_kind": kind, "subject_id": ident, "change": change,
             "detail": json.dumps(detail, ensure_ascii=False, default=str), "actor": actor,
             "reason": reason, "at": at or uow.clock.now()}
            for kind, ident, change, detail in entries]
    if rows:
        await uow.conn.execute(insert(store.history), rows)


_ORDER_COLUMNS = ("order_id", "program_id", "institution_id", "region", "enterprise_id",
                  "registration_no", "units", "placed_at", "status", "distributor_id",
                  "assignment_id", "routed_at")
# built once per dialect: constructing the insert per event cost more than running it
_ADD_ORDER = {
    name: dialect.insert(store.orders)
    .values({c: bindparam(c) for c in _ORDER_COLUMNS})
    .on_conflict_do_nothing(index_elements=["order_id"])
    .returning(store.orders.c.order_id)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


def _insert_ignore(uow: UnitOfWork, table: Any) -> Any:
    dialect = postgresql if is_postgres(uow.conn) else sqlite
    return dialect.insert(table)


# --- views ----------------------------------------------------------------------------------------


def distributor_out(row: Any, now: datetime) -> DistributorOut:
    d = store.to_distributor(row)
    status = ("barred" if domain.is_barred(d, now)
              else "qualified" if d.qualified else "unqualified")
    return DistributorOut(
        distributor_id=row.distributor_id, name=row.name, qualified=row.qualified, status=status,
        barred_from=row.barred_from if status == "barred" else None,
        barred_until=row.barred_until if status == "barred" else None,
        registered_by=row.registered_by, registered_at=row.registered_at)


def assignment_status(a: domain.Assignment, now: datetime) -> str:
    if domain.is_revoked(a, now):
        return "revoked"
    if domain.is_in_force(a, now):
        return "in_force"
    return "future" if a.valid_from > now else "expired"


def assignment_out(row: Any, now: datetime, names: Mapping[str, str] | None = None
                   ) -> AssignmentOut:
    """An assignment as answered; ``names`` (enterprise id → name) adds the enterprise's
    name beside its id."""
    data = row._asdict()
    return AssignmentOut(**data, status=assignment_status(store.to_assignment(row), now),
                         enterprise_name=(names or {}).get(row.enterprise_id))


def bar_out(row: Any, now: datetime) -> BarOut:
    active = row.lifted_at is None and row.barred_from <= now < row.barred_until
    return BarOut(**row._asdict(), active=active)


def order_out(row: Any, moves: Sequence[Any] = (),
              names: Mapping[str, str] | None = None) -> SupplyOrderOut:
    """An order as answered; ``names`` (enterprise id → name) adds the enterprise's name."""
    data = row._asdict()
    us = data.pop("delivery_us")
    data.pop("cancelled_at")
    return SupplyOrderOut(
        **data, enterprise_name=(names or {}).get(row.enterprise_id),
        delivery_seconds=None if us is None else us // 1_000_000,
        movements=[MovementOut(kind=m.kind, units=m.units, at=m.at, recorded_by=m.recorded_by)
                   for m in moves])


# --- distributors ---------------------------------------------------------------------------------


async def _insert_distributor(uow: UnitOfWork, distributor_id: str, name: str, qualified: bool,
                              actor: str, reason: str) -> None:
    now = uow.clock.now()
    await uow.conn.execute(insert(store.distributors).values(
        distributor_id=distributor_id, name=name, qualified=qualified, registered_by=actor,
        registered_at=now, updated_at=now))
    await _history(uow, [("distributor", distributor_id, "registered",
                          {"name": name, "qualified": qualified})], actor, reason)
    uow.record(DistributorRegistered(distributor_id=distributor_id, name=name,
                                     qualified=qualified, registered_by=actor, registered_at=now,
                                     reason=reason))


async def register_distributor(uow: UnitOfWork, body: DistributorIn,
                               caller: Principal) -> DistributorOut:
    """RegisterDistributor."""
    if await store.get_distributor(uow.conn, body.distributor_id) is not None:
        raise Problem(409, "distributor-exists", "Distributor already registered",
                      f"distributor {body.distributor_id!r} is already registered")
    await _insert_distributor(uow, body.distributor_id, body.name, body.qualified, caller.actor,
                              body.reason or "registered")
    row = await store.get_distributor(uow.conn, body.distributor_id)
    return distributor_out(row, uow.clock.now())


# --- assignments (R-SUP-1) ------------------------------------------------------------------------


_FIELD_HINTS = (("valid_until", "valid_until"), ("institution_id", "institution_id"),
                ("needs a region", "region"), ("distributor", "distributor_id"),
                ("overlaps", "valid_from"), ("valid_from", "valid_from"))


def _problem_field(message: str) -> str:
    for needle, field in _FIELD_HINTS:
        if needle in message:
            return f"body.{field}"
    return "body"


async def _check_product_owner(uow: UnitOfWork, registration_no: str, enterprise_id: str) -> None:
    """An enterprise assigns distributors for its own products only (R-SUP-1). A product not
    (yet) in the listing read model cannot be checked and is accepted."""
    owners = set((await uow.conn.execute(
        select(store.products.c.enterprise_id)
        .where(store.products.c.registration_no == registration_no))).scalars())
    if owners and enterprise_id not in owners:
        name = (await store.enterprise_names(uow.conn, [enterprise_id])).get(enterprise_id)
        raise Problem(
            422, "not-your-product", "Product belongs to another enterprise",
            f"{registration_no} is not a product of enterprise {enterprise_id}"
            + (f" ({name})" if name else ""),
            errors=[{"field": "body.registration_no",
                     "message": "listed for another enterprise"}])


async def record_assignment(uow: UnitOfWork, body: AssignmentIn,
                            caller: Principal) -> AssignmentRecordedOut:
    """RecordAssignment: the caller's enterprise chooses a distributor (R-SUP-1); orders left
    pending for want of one are routed at once, and contingency gaps it covers are closed."""
    conn, now = uow.conn, uow.clock.now()
    enterprise_id = caller.org
    await store.routing_lock(conn)
    await _check_product_owner(uow, body.registration_no, enterprise_id)
    await store.product_lock(conn, enterprise_id, body.registration_no)
    new = domain.Assignment(
        assignment_id=new_id("A", now), enterprise_id=enterprise_id,
        registration_no=body.registration_no, distributor_id=body.distributor_id,
        scope=domain.Scope(body.scope), institution_id=body.institution_id, region=body.region,
        valid_from=body.valid_from or now, valid_until=body.valid_until)
    existing = await store.assignments_where(
        conn, store.assignments.c.enterprise_id == enterprise_id,
        store.assignments.c.registration_no == body.registration_no)
    distributors = await store.distributors_by_id(
        conn, [a.distributor_id for a in existing] + [new.distributor_id])
    problems = domain.validate_assignment(new, existing, distributors=distributors)
    chosen = distributors.get(new.distributor_id)
    starts = max(now, new.valid_from)
    if chosen is not None and not problems and not domain.is_qualified(chosen, starts):
        # backdated, but it would start distributing now: it must be qualified now (R-SUP-4)
        problems.append(f"distributor {new.distributor_id} is not qualified at "
                        f"{starts.isoformat()} (R-SUP-4)")
    if problems:
        overlap_only = all(p.startswith("overlaps") for p in problems)
        raise Problem(
            409 if overlap_only else 422,
            "assignment-overlaps" if overlap_only else "assignment-rejected",
            "Assignment overlaps another" if overlap_only else "Assignment is not valid",
            "; ".join(problems),
            errors=[{"field": _problem_field(p), "message": p} for p in problems])
    await conn.execute(insert(store.assignments).values(
        assignment_id=new.assignment_id, enterprise_id=enterprise_id,
        registration_no=new.registration_no, distributor_id=new.distributor_id,
        scope=body.scope, institution_id=new.institution_id, region=new.region,
        valid_from=new.valid_from, valid_until=new.valid_until, recorded_by=caller.actor,
        recorded_at=now, reason=body.reason))
    event = AssignmentRecorded(
        assignment_id=new.assignment_id, enterprise_id=enterprise_id,
        registration_no=new.registration_no, distributor_id=new.distributor_id, scope=body.scope,
        institution_id=new.institution_id, region=new.region, valid_from=new.valid_from,
        valid_until=new.valid_until, recorded_by=caller.actor, recorded_at=now,
        reason=body.reason)
    await _history(uow, [("assignment", new.assignment_id, "recorded",
                          event.model_dump(mode="json"))], caller.actor, body.reason)
    uow.record(event)

    pool = [*existing, new]
    waiting = await store.pending_orders(
        conn, enterprise_id, new.registration_no,
        institution_id=new.institution_id if new.scope == domain.Scope.INSTITUTION else None,
        region=new.region if new.scope == domain.Scope.REGION else None)
    routed = await _route_pending(uow, waiting, pool, distributors, now)
    closed = await _close_contingencies(uow, new, pool, distributors, now)
    row = await store.get_assignment(conn, new.assignment_id)
    return AssignmentRecordedOut(**assignment_out(row, now).model_dump(), routed_orders=routed,
                                 contingencies_closed=closed)


async def revoke_assignment(uow: UnitOfWork, assignment_id: str, reason: str,
                            caller: Principal) -> AssignmentOut:
    """RevokeAssignment, by its enterprise. Orders already routed stay with the distributor
    (it is still qualified); new orders go by the remaining assignments."""
    conn, now = uow.conn, uow.clock.now()
    await store.routing_lock(conn)
    row = await store.get_assignment(conn, assignment_id, for_update=True)
    if row is None or row.enterprise_id != caller.org:
        raise not_found("assignment", assignment_id)
    current = store.to_assignment(row)
    if not domain.is_live(current, now):
        raise Problem(409, "assignment-not-live", "Assignment already ended",
                      f"assignment {assignment_id} is {assignment_status(current, now)}")
    revoked = domain.revoke(current, now)
    await conn.execute(update(store.assignments)
                       .where(store.assignments.c.assignment_id == assignment_id)
                       .values(revoked_at=revoked.revoked_at, revoked_by=caller.actor,
                               revoke_reason=reason))
    await _history(uow, [("assignment", assignment_id, "revoked", {"revoked_at": now})],
                   caller.actor, reason)
    uow.record(AssignmentRevoked(assignment_id=assignment_id, enterprise_id=row.enterprise_id,
                                 distributor_id=row.distributor_id, reason=reason,
                                 revoked_by=caller.actor, revoked_at=now))
    return assignment_out(await store.get_assignment(conn, assignment_id), now)


# --- routing (R-SUP-1, R-SUP-3, R-SUP-5, R-AGR-4, R-AGR-7) ----------------------------------------


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
    statement = _ADD_ORDER["postgresql" if is_postgres(conn) else "sqlite"]
    added = set((await conn.execute(statement, rows)).scalars())
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
    await _open_risks(uow, risks, now, traces={order.order_id: ce
                                                 for order, _, ce in firsts.values()})


async def _open_risks(uow: UnitOfWork,
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


async def _close_risks(uow: UnitOfWork, order_ids: Sequence[str], resolution: str,
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


async def _apply_routes(uow: UnitOfWork, routes: Sequence[tuple[Any, domain.Routed]],
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
    taken = await _close_risks(uow, [row.order_id for row, _ in routes], "routed", now)
    for row, r in routes:
        uow.record(OrderRouted(
            order_id=row.order_id, institution_id=row.institution_id,
            enterprise_id=row.enterprise_id, distributor_id=r.distributor_id,
            assignment_id=r.assignment_id, rerouted_from=rerouted_from or taken.get(row.order_id),
            routed_at=now))


async def _route_pending(uow: UnitOfWork, waiting: Sequence[Any],
                         pool: Sequence[domain.Assignment],
                         distributors: dict[str, domain.Distributor], now: datetime) -> int:
    routes = []
    for row in waiting:
        decision = domain.route(store.to_order(row), pool, distributors, now)
        if isinstance(decision, domain.Routed):
            routes.append((row, decision))
    await _apply_routes(uow, routes, now)
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
    routed = await _route_pending(uow, rows, pool, distributors, now)
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
    await _close_risks(uow, [row.order_id], "cancelled", uow.clock.now())


# --- shipment and delivery (R-SUP-3) --------------------------------------------------------------


def _state(row: Any, moves: Sequence[Any]) -> domain.ShipmentState:
    def of(kind: str) -> tuple[domain.Movement, ...]:
        return tuple(domain.Movement(m.units, m.at) for m in moves if m.kind == kind)

    return domain.ShipmentState(store.to_order(row), row.distributor_id, row.assignment_id,
                                of("shipment"), of("delivery"))


@dataclass(frozen=True)
class _Step:
    kind: str
    units: int
    at: datetime
    field: str


async def _movement(uow: UnitOfWork, order_id: str, step: _Step, caller: Principal
                    ) -> tuple[Any, domain.ShipmentState, Any]:
    conn, now = uow.conn, uow.clock.now()
    if step.at > now + CLOCK_SKEW:
        raise Problem(422, "in-the-future", "Instant is in the future",
                      f"{step.field} {step.at.isoformat()} is after now",
                      errors=[{"field": f"body.{step.field}", "message": "in the future"}])
    await store.routing_lock(conn)
    row = await store.get_order(conn, order_id, for_update=True)
    if row is None:
        raise OrderNotKnownYet(order_id)  # placed a moment ago, or never (waiting.py)
    if row.distributor_id != caller.org:
        raise not_found("order", order_id)  # another distributor's order does not exist for it
    if row.status not in store.OPEN_STATUSES:
        raise Problem(409, "order-not-open", f"Order is {row.status}",
                      f"order {order_id} is {row.status}: nothing more to ship or deliver")
    moves = (await store.movements_of(conn, [order_id])).get(order_id, [])
    state = _state(row, moves)
    try:
        if step.kind == "shipment":
            state = state.ship(caller.org, step.units, step.at)
        else:
            state = state.deliver(caller.org, step.units, step.at)
    except domain.NotYourOrder as exc:
        raise not_found("order", order_id) from exc
    except domain.QuantityError as exc:
        raise Problem(422, "quantity", "Quantity not allowed", str(exc),
                      errors=[{"field": "body.units", "message": str(exc)}]) from exc
    except domain.TimeOrderError as exc:
        raise Problem(422, "time-order", "Instant not allowed", str(exc),
                      errors=[{"field": f"body.{step.field}", "message": str(exc)}]) from exc
    await conn.execute(insert(store.movements).values(
        order_id=order_id, kind=step.kind, units=step.units, at=step.at,
        distributor_id=caller.org, recorded_by=caller.actor, recorded_at=now))
    return row, state, moves


async def record_shipment(uow: UnitOfWork, order_id: str, body: ShipmentIn,
                          caller: Principal) -> SupplyOrderOut:
    """RecordShipment: by the distributor the order is routed to, only."""
    at = body.shipped_at or uow.clock.now()
    _, state, _ = await _movement(uow, order_id, _Step("shipment", body.units, at,
                                                         "shipped_at"), caller)
    await uow.conn.execute(update(store.orders).where(store.orders.c.order_id == order_id)
                           .values(status="shipped", shipped_units=state.shipped_quantity))
    uow.record(OrderShipped(order_id=order_id, distributor_id=caller.org, units=body.units,
                            shipped_at=at, recorded_by=caller.actor))
    return await get_order_view(uow, order_id)


async def record_delivery(uow: UnitOfWork, order_id: str, body: DeliveryIn,
                          caller: Principal) -> SupplyOrderOut:
    """RecordDelivery: delivery time placed → delivered is measured (R-SUP-3)."""
    at = body.delivered_at or uow.clock.now()
    row, state, _ = await _movement(uow, order_id, _Step("delivery", body.units, at,
                                                         "delivered_at"), caller)
    done = state.delivered()
    values: dict[str, Any] = {"delivered_units": state.delivered_quantity}
    if done is not None:
        span = domain.delivery_time(done.placed_at, done.delivered_at)
        values.update(status="delivered", delivered_at=done.delivered_at,
                      delivery_us=span // timedelta(microseconds=1))
    else:
        span = domain.delivery_time(row.placed_at, at)
    await uow.conn.execute(update(store.orders).where(store.orders.c.order_id == order_id)
                           .values(values))
    uow.record(OrderDelivered(
        order_id=order_id, distributor_id=caller.org, enterprise_id=row.enterprise_id,
        units=body.units, delivered_at=at, delivery_seconds=int(span.total_seconds()),
        recorded_by=caller.actor, complete=done is not None))
    return await get_order_view(uow, order_id)


async def get_order_view(uow: UnitOfWork, order_id: str) -> SupplyOrderOut:
    row = await store.get_order(uow.conn, order_id)
    moves = (await store.movements_of(uow.conn, [order_id])).get(order_id, [])
    return order_out(row, moves)


# --- violation list (R-SUP-4, R-CRD-3) ------------------------------------------------------------


async def bar_distributor(uow: UnitOfWork, distributor_id: str, reason: str, until: datetime,
                          actor: str, *, measure_id: str | None = None,
                          at: datetime | None = None) -> BarOutcomeOut:
    """BarDistributor: at once, its assignments are revoked, its unshipped orders taken back
    and re-routed (or flagged as supply risks), and every enterprise affected gets an open
    contingency item (R-SUP-4)."""
    conn, now = uow.conn, uow.clock.now()
    at = at or now
    await store.routing_lock(conn, exclusive=True)
    row = await store.get_distributor(conn, distributor_id, for_update=True)
    if row is None:
        raise not_found("distributor", distributor_id)
    if until <= at:
        raise Problem(422, "bar-period", "A bar must end after it starts",
                      f"until {until.isoformat()} is not after {at.isoformat()}",
                      errors=[{"field": "body.until", "message": "not after now"}])
    Ord, A = store.orders, store.assignments
    mine = await store.assignments_where(conn, A.c.distributor_id == distributor_id,
                                         or_(A.c.revoked_at.is_(None), A.c.revoked_at > at))
    open_rows = list((await conn.execute(select(Ord).where(
        Ord.c.distributor_id == distributor_id, Ord.c.status.in_(store.OPEN_STATUSES)))).all())
    moves = await store.movements_of(conn, [r.order_id for r in open_rows if r.shipped_units])
    states = [_state(r, moves.get(r.order_id, [])) for r in open_rows]
    keys = ({(a.enterprise_id, a.registration_no) for a in mine}
            | {(r.enterprise_id, r.registration_no) for r in open_rows})
    pool = await store.assignments_of_products(conn, keys)
    distributors = await store.distributors_by_id(
        conn, {a.distributor_id for a in pool} | {distributor_id})
    try:
        outcome = domain.bar_distributor(distributor_id, at, until, reason, pool, states,
                                         distributors=distributors)
    except ValueError as exc:
        raise Problem(422, "bar-rejected", "Bar not valid", str(exc)) from exc

    bar_id = new_id("BAR", now)
    await conn.execute(insert(store.bars).values(
        bar_id=bar_id, distributor_id=distributor_id, reason=reason, barred_from=at,
        barred_until=until, measure_id=measure_id, barred_by=actor))
    barred = domain.apply_bar(distributors[distributor_id], outcome.bar)
    await conn.execute(update(store.distributors)
                       .where(store.distributors.c.distributor_id == distributor_id)
                       .values(barred_from=barred.barred_from, barred_until=barred.barred_until,
                               updated_at=now))
    await _history(uow, [("distributor", distributor_id, "barred",
                          {"bar_id": bar_id, "barred_from": at, "barred_until": until,
                           "measure_id": measure_id})], actor, reason)
    uow.record(DistributorBarred(distributor_id=distributor_id, reason=reason, barred_from=at,
                                 barred_until=until, measure_id=measure_id, barred_by=actor,
                                 bar_id=bar_id))

    why = f"distributor {distributor_id} barred: {reason}"
    if outcome.revoked:
        await conn.execute(
            update(A).where(A.c.assignment_id == bindparam("b_id"))
            .values(revoked_at=at, revoked_by=actor, revoke_reason=why),
            [{"b_id": a.assignment_id} for a in outcome.revoked])
        await _history(uow, [("assignment", a.assignment_id, "revoked", {"bar_id": bar_id})
                             for a in outcome.revoked], actor, why)
        for a in outcome.revoked:
            uow.record(AssignmentRevoked(
                assignment_id=a.assignment_id, enterprise_id=a.enterprise_id,
                distributor_id=a.distributor_id, reason=why, revoked_by=actor, revoked_at=at))

    by_id = {r.order_id: r for r in open_rows}
    routes: list[tuple[Any, domain.Routed]] = []
    risks: list[tuple[str, str, domain.SupplyRisk, str | None]] = []
    for x in outcome.reroutes:
        if isinstance(x.decision, domain.Routed):
            routes.append((by_id[x.order_id], x.decision))
        else:
            risks.append((x.order_id, by_id[x.order_id].institution_id, x.decision,
                           distributor_id))
    await _apply_routes(uow, routes, now, rerouted_from=distributor_id)
    if risks:
        await conn.execute(
            update(Ord).where(Ord.c.order_id == bindparam("b_order"))
            .values(status="pending", distributor_id=None, assignment_id=None, routed_at=None),
            [{"b_order": order_id} for order_id, *_ in risks])
        await _open_risks(uow, risks, now)
    opened = await _open_contingencies(uow, outcome, bar_id, open_rows, now)
    return BarOutcomeOut(
        bar=bar_out(await _bar_row(uow, bar_id), now),
        revoked_assignments=[a.assignment_id for a in outcome.revoked],
        taken_back=len(outcome.taken_back), rerouted=len(routes), supply_risks=len(risks),
        kept=len(outcome.kept), contingencies=opened)


async def _bar_row(uow: UnitOfWork, bar_id: str) -> Any:
    return (await uow.conn.execute(select(store.bars)
                                   .where(store.bars.c.bar_id == bar_id))).first()


async def _open_contingencies(uow: UnitOfWork, outcome: domain.BarOutcome, bar_id: str,
                              open_rows: Sequence[Any], now: datetime) -> list[str]:
    if not outcome.contingencies:
        return []
    taken = set(outcome.taken_back)
    lost: dict[str, set[str]] = {}
    for a in outcome.revoked:
        lost.setdefault(a.enterprise_id, set()).add(a.registration_no)
    for r in open_rows:
        if r.order_id in taken:
            lost.setdefault(r.enterprise_id, set()).add(r.registration_no)
    regions = {r.institution_id: r.region for r in open_rows}
    regions.update({a.institution_id: a.region for a in outcome.revoked
                    if a.institution_id and a.region})
    wanted = {g.place for c in outcome.contingencies for g in c.gaps
              if g.scope == domain.Scope.INSTITUTION and g.place not in regions}
    regions.update(await store.institution_regions(uow.conn, wanted))
    opened, gap_rows = [], []
    for c in outcome.contingencies:
        cid = new_id("CT", now)
        opened.append(cid)
        await uow.conn.execute(insert(store.contingencies).values(
            contingency_id=cid, bar_id=bar_id, enterprise_id=c.enterprise_id,
            distributor_id=outcome.bar.distributor_id,
            registration_nos=json.dumps(sorted(lost.get(c.enterprise_id, set())),
                                        ensure_ascii=False),
            opened_at=now))
        gap_rows += [{"contingency_id": cid, "registration_no": g.registration_no,
                      "scope": str(g.scope), "place": g.place,
                      "region": regions.get(g.place) if g.scope == domain.Scope.INSTITUTION
                      else g.place} for g in c.gaps]
    if gap_rows:
        await uow.conn.execute(insert(store.contingency_gaps), gap_rows)
    return opened


async def _close_contingencies(uow: UnitOfWork, new: domain.Assignment,
                               pool: Sequence[domain.Assignment],
                               distributors: dict[str, domain.Distributor],
                               now: datetime) -> list[str]:
    """The enterprise assigned a distributor: close the gaps it covers, and the contingency
    items with no gap left (R-SUP-4)."""
    C, G = store.contingencies, store.contingency_gaps
    items = list((await uow.conn.execute(select(C).where(
        C.c.enterprise_id == new.enterprise_id, C.c.closed_at.is_(None)))).all())
    if not items:
        return []
    at = max(now, new.valid_from)
    closed = []
    for item in items:
        gaps = list((await uow.conn.execute(select(G).where(
            G.c.contingency_id == item.contingency_id))).all())
        newly = []
        for g in gaps:
            if g.closed_at is not None or g.registration_no != new.registration_no:
                continue
            covered = domain.resolve_assignment(
                pool, enterprise_id=new.enterprise_id, registration_no=g.registration_no,
                institution_id=g.place if g.scope == "institution" else None,
                region=g.region, at=at, distributors=distributors)
            if covered is not None:
                newly.append(g)
        for g in newly:
            await uow.conn.execute(update(G).where(
                G.c.contingency_id == g.contingency_id, G.c.registration_no == g.registration_no,
                G.c.scope == g.scope, G.c.place == g.place)
                .values(closed_at=now, closed_by=new.assignment_id))
        done = {(g.registration_no, g.scope, g.place) for g in newly}
        still_open = [g for g in gaps if g.closed_at is None
                      and (g.registration_no, g.scope, g.place) not in done]
        if still_open:
            continue
        if not gaps and new.registration_no not in json.loads(item.registration_nos):
            continue  # no gap to fill: the item waits for a new distributor for a lost product
        await uow.conn.execute(update(C).where(C.c.contingency_id == item.contingency_id)
                               .values(closed_at=now, closed_by=new.assignment_id))
        await _history(uow, [("contingency", item.contingency_id, "closed",
                              {"assignment_id": new.assignment_id})],
                       f"enterprise:{new.enterprise_id}", "replacement distributor assigned")
        closed.append(item.contingency_id)
    return closed


async def lift_bar(uow: UnitOfWork, actor: str, reason: str, *, bar_id: str | None = None,
                   measure_id: str | None = None) -> BarOut | None:
    """LiftBar: the distributor is qualified again once no other bar holds it; the revoked
    assignments stay revoked (the enterprise assigns again)."""
    conn, now = uow.conn, uow.clock.now()
    await store.routing_lock(conn, exclusive=True)
    B = store.bars
    query = select(B).where(B.c.bar_id == bar_id if bar_id else B.c.measure_id == measure_id)
    bar = (await conn.execute(query.with_for_update())).first()
    if bar is None:
        if bar_id is not None:
            raise not_found("bar", bar_id)
        return None
    if bar.lifted_at is not None:
        if bar_id is not None:
            raise Problem(409, "already-lifted", "Bar already lifted",
                          f"bar {bar.bar_id} was lifted at {bar.lifted_at.isoformat()}")
        return bar_out(bar, now)
    await conn.execute(update(B).where(B.c.bar_id == bar.bar_id)
                       .values(lifted_at=now, lifted_by=actor, lift_reason=reason))
    others = list((await conn.execute(select(B).where(
        B.c.distributor_id == bar.distributor_id, B.c.lifted_at.is_(None),
        B.c.barred_until > now))).all())
    row = await store.get_distributor(conn, bar.distributor_id, for_update=True)
    assert row is not None
    current = store.to_distributor(row)
    if others:
        window = {"barred_from": min(o.barred_from for o in others),
                  "barred_until": max(o.barred_until for o in others)}
    else:
        lifted = domain.lift_bar(current, now)
        window = {"barred_from": lifted.barred_from, "barred_until": lifted.barred_until}
    await conn.execute(update(store.distributors)
                       .where(store.distributors.c.distributor_id == bar.distributor_id)
                       .values(**window, updated_at=now))
    await _history(uow, [("distributor", bar.distributor_id, "bar-lifted",
                          {"bar_id": bar.bar_id, "still_barred_by": [o.bar_id for o in others]})],
                   actor, reason)
    if not others and domain.is_barred(current, now):
        uow.record(DistributorReinstated(
            distributor_id=bar.distributor_id, reason=reason, reinstated_by=actor,
            reinstated_at=now, bar_id=bar.bar_id, measure_id=bar.measure_id))
    return bar_out(await _bar_row(uow, bar.bar_id), now)


async def on_measure_applied(uow: UnitOfWork, event: CreditMeasureApplied,
                             ce: CloudEvent) -> None:
    """R-CRD-3: a distributor rated dishonest loses its qualification: the violation list."""
    if event.subject_kind != "distributor" or event.measure != "distributor_bar":
        return
    known = await uow.conn.scalar(select(store.bars.c.bar_id)
                                  .where(store.bars.c.measure_id == event.measure_id))
    if known is not None:
        return
    now = uow.clock.now()
    actor = f"credit:{event.decided_by}"
    until = event.effective_until
    reason = f"credit measure {event.measure_id} ({event.level}): {event.reason}"
    if until is None:
        try:
            until = domain.credit_bar_until(event.level, event.effective_from)
        except ValueError:  # unknown level: the longest period, never none (R-CRD-3)
            years = max(domain.BAR_YEARS_2025.values())
            until = domain.CalendarYears(years).after(event.effective_from)
            reason += f" [level not in the bar table: {years} years]"
    at = max(now, event.effective_from)
    if until <= at:
        log.info("measure %s ended before it reached supply: not applied", event.measure_id)
        return
    if await store.get_distributor(uow.conn, event.subject_id) is None:
        await _insert_distributor(uow, event.subject_id, event.subject_id, True, actor,
                                  f"first named by credit measure {event.measure_id}")
    await bar_distributor(uow, event.subject_id, reason, until, actor,
                          measure_id=event.measure_id, at=at)


async def on_measure_lifted(uow: UnitOfWork, event: CreditMeasureLifted,
                            ce: CloudEvent) -> None:
    if event.subject_kind != "distributor":
        return
    await lift_bar(uow, f"credit:{event.lifted_by}", f"credit measure lifted: {event.reason}",
                   measure_id=event.measure_id)


# --- accounts (R-SUP-2) ---------------------------------------------------------------------------


async def record_account(uow: UnitOfWork, body: AccountIn, caller: Principal) -> AccountOut:
    """The caller institution requested or opened an account for a distributor. Tracked only:
    never consulted when routing or supplying (R-AGR-7)."""
    conn, now = uow.conn, uow.clock.now()
    if await store.get_distributor(conn, body.distributor_id) is None:
        raise Problem(422, "unknown-distributor", "Unknown distributor",
                      f"distributor {body.distributor_id!r} is not registered",
                      errors=[{"field": "body.distributor_id", "message": "not registered"}])
    T = store.accounts
    key = and_(T.c.institution_id == caller.org, T.c.distributor_id == body.distributor_id)
    current = (await conn.execute(select(T).where(key).with_for_update())).first()
    if current is not None and current.status == "opened" and body.status == "requested":
        raise Problem(409, "account-already-open", "Account already opened",
                      f"the account for {body.distributor_id} was opened at "
                      f"{current.opened_at.isoformat()}")
    values = {"status": body.status, "updated_by": caller.actor, "updated_at": now}
    if body.status == "requested":
        values["requested_at"] = now
    else:
        values["opened_at"] = now
    if current is None:
        await conn.execute(insert(T).values(institution_id=caller.org,
                                            distributor_id=body.distributor_id, **values))
    else:
        await conn.execute(update(T).where(key).values(values))
    await _history(uow, [("account", f"{caller.org}/{body.distributor_id}"[:64], body.status,
                          {"institution_id": caller.org, "distributor_id": body.distributor_id,
                           "note": body.note})], caller.actor, body.note or body.status)
    row = (await conn.execute(select(T).where(key))).first()
    return AccountOut.model_validate(row._asdict() if row is not None else {})


async def open_account_items(conn: Any, now: datetime, institution_id: str | None,
                             ) -> list[domain.OpenAccountItem]:
    """R-SUP-2: assigned institution–distributor pairs with no opened account."""
    A, T = store.assignments, store.accounts
    live = and_(A.c.revoked_at.is_(None), or_(A.c.valid_until.is_(None), A.c.valid_until > now))
    if institution_id is not None:
        regions = await store.institution_regions(conn, [institution_id])
        place = A.c.institution_id == institution_id
        if institution_id in regions:
            place = or_(place, and_(A.c.scope == "region",
                                    A.c.region == regions[institution_id]))
        pool = await store.assignments_where(conn, live, place)
        account_rows = (await conn.execute(select(T).where(
            T.c.institution_id == institution_id))).all()
    else:
        pool = await store.assignments_where(conn, live)
        regions = await store.institution_regions(conn)
        account_rows = (await conn.execute(select(T))).all()
    accounts = [domain.DistributorAccount(r.institution_id, r.distributor_id,
                                          domain.AccountStatus(r.status)) for r in account_rows]
    return domain.open_items(accounts, pool, at=now, institution_regions=regions)


# --- catalog read model ---------------------------------------------------------------------------


async def on_product_listed(uow: UnitOfWork, event: ProductListed, ce: CloudEvent) -> None:
    statement = (_insert_ignore(uow, store.products)
                 .values(listing_id=event.listing_id, registration_no=event.registration_no,
                         enterprise_id=event.enterprise_id,
                         enterprise_name=event.enterprise_name, version=event.version)
                 .on_conflict_do_nothing(index_elements=["listing_id"]))
    await uow.conn.execute(statement)


async def on_product_corrected(uow: UnitOfWork, event: WinningProductCorrected,
                               ce: CloudEvent) -> None:
    P = store.products
    await uow.conn.execute(update(P).where(P.c.listing_id == event.listing_id,
                                           P.c.version < event.version)
                           .values(enterprise_id=event.enterprise_id,
                                   enterprise_name=event.enterprise_name,
                                   version=event.version))


CONSUMERS = [
    ConsumerSpec(name="orders", routes={
        OrderCancelled: on_order_cancelled,
    }, batch_routes={
        OrderPlaced: on_orders_placed,
    }),
    ConsumerSpec(name="credit-measures", routes={
        CreditMeasureApplied: on_measure_applied,
        CreditMeasureLifted: on_measure_lifted,
    }),
    ConsumerSpec(name="catalog-listings", routes={
        ProductListed: on_product_listed,
        WinningProductCorrected: on_product_corrected,
    }),
]
