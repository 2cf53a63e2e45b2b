"""Shipment and delivery (R-SUP-3): RecordShipment and RecordDelivery, by the distributor the
order is routed to; delivery time is measured placed → fully delivered."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, update

from contracts.supply import (
    DeliveryIn,
    OrderDelivered,
    OrderShipped,
    ShipmentIn,
    SupplyOrderOut,
)
from services.runtime.auth import Principal
from services.runtime.db import UnitOfWork
from services.runtime.problems import not_found
from services.supply import domain, errors, store, views
from services.supply.waiting import OrderNotKnownYet

CLOCK_SKEW = timedelta(minutes=5)
"""How far in the future a reported shipment or delivery instant may be (clock drift)."""


def shipment_state(row: Any, moves: Sequence[Any]) -> domain.ShipmentState:
    """An order row and its movements as the rules see them."""
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
        raise errors.in_the_future(step.field, step.at)
    await store.routing_lock(conn)
    row = await store.get_order(conn, order_id, for_update=True)
    if row is None:
        raise OrderNotKnownYet(order_id)  # placed a moment ago, or never (waiting.py)
    if row.distributor_id != caller.org:
        raise not_found("order", order_id)  # another distributor's order does not exist for it
    if row.status not in store.OPEN_STATUSES:
        raise errors.order_not_open(order_id, row.status)
    moves = (await store.movements_of(conn, [order_id])).get(order_id, [])
    state = shipment_state(row, moves)
    try:
        if step.kind == "shipment":
            state = state.ship(caller.org, step.units, step.at)
        else:
            state = state.deliver(caller.org, step.units, step.at)
    except domain.NotYourOrder as exc:
        raise not_found("order", order_id) from exc
    except domain.QuantityError as exc:
        raise errors.quantity(exc.args[0]) from exc
    except domain.TimeOrderError as exc:
        raise errors.time_order(step.field, exc.args[0]) from exc
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
    return await views.order_view(uow, order_id)


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
    return await views.order_view(uow, order_id)
