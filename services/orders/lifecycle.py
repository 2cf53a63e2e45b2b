"""Supply's events moving an order through its lifecycle (R-AGR-8): routed (or re-routed,
R-SUP-4) to a distributor, shipped, delivered, and a supply risk opened on it. An event the
order's status does not allow (e.g. shipped after the institution cancelled) is not applied:
the status stands and the history records ``<change>_ignored`` with the reason; an event for
an order of no institution here is ignored."""

from __future__ import annotations

import logging
from typing import Any

from contracts.base import CloudEvent
from contracts.supply import OrderDelivered, OrderRouted, OrderShipped, SupplyRiskOpened
from services.orders import domain, store
from services.orders.domain import OrderAction, OrderStatus
from services.runtime.db import UnitOfWork
from services.runtime.history import history_row, write_history

log = logging.getLogger("vbp.orders")


async def _supply_move(uow: UnitOfWork, order_id: str, action: OrderAction, change: str,
                       values: dict[str, Any], detail: dict[str, Any], actor: str,
                       reason: str) -> None:
    row = await store.get_order(uow.conn, order_id, for_update=True)
    if row is None:
        log.info("%s for order %s, not an order of this service: ignored", change, order_id)
        return
    try:
        status = domain.transition(OrderStatus(row.status), action)
    except domain.IllegalTransition as exc:
        # e.g. routed after the institution cancelled: the order's status stands; noted.
        log.warning("order %s: %s", order_id, exc)
        await write_history(uow.conn, store.history, [history_row(
            store.ORDER, order_id, f"{change}_ignored", {"status": row.status}, actor, str(exc),
            uow.clock.now())])
        return
    await store.change_order(uow.conn, row, change, {**values, "status": status.value},
                             {**detail, "status": status.value}, actor, reason,
                             uow.clock.now())


async def on_routed(uow: UnitOfWork, event: OrderRouted, ce: CloudEvent) -> None:
    reason = (f"re-routed from {event.rerouted_from}" if event.rerouted_from
              else "routed to the assigned distributor")
    await _supply_move(uow, event.order_id, OrderAction.ROUTE, "routed",
                       {"distributor_id": event.distributor_id, "supply_risk": None},
                       {"distributor_id": event.distributor_id,
                        "assignment_id": event.assignment_id,
                        "rerouted_from": event.rerouted_from},
                       f"supply:{ce.source}", reason)


async def on_shipped(uow: UnitOfWork, event: OrderShipped, ce: CloudEvent) -> None:
    await _supply_move(uow, event.order_id, OrderAction.SHIP, "shipped",
                       {"shipped_units": event.units},
                       {"units": event.units, "distributor_id": event.distributor_id,
                        "shipped_at": event.shipped_at.isoformat()},
                       event.recorded_by, "shipped")


async def on_delivered(uow: UnitOfWork, event: OrderDelivered, ce: CloudEvent) -> None:
    await _supply_move(uow, event.order_id, OrderAction.DELIVER, "delivered",
                       {"delivered_units": event.units},
                       {"units": event.units, "distributor_id": event.distributor_id,
                        "delivered_at": event.delivered_at.isoformat(),
                        "delivery_seconds": event.delivery_seconds},
                       event.recorded_by, "delivered")


async def on_supply_risk(uow: UnitOfWork, event: SupplyRiskOpened, ce: CloudEvent) -> None:
    row = await store.get_order(uow.conn, event.order_id, for_update=True)
    if row is None:
        return
    await store.change_order(uow.conn, row, "supply_risk_opened", {"supply_risk": event.reason},
                             {"status": row.status}, f"supply:{ce.source}", event.reason,
                             uow.clock.now())
