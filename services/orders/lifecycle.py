"""Supply's events moving an order through its lifecycle (R-AGR-8): routed (or re-routed,
R-SUP-4) to a distributor, shipped, delivered, and a supply risk opened on it. An event the
order's status does not allow (e.g. shipped after the institution cancelled) is not applied:
the status stands and the history records ``<change>_ignored`` with the reason; an event for
an order of no institution here is ignored.

A chunk of a partition's events is applied set-wise (``on_supply_events``): its orders locked
in one statement, each event moved in order in memory, the orders written back and the
history appended in one statement each. Per event it used to be four statements while the
chunk held its orders' row locks, so at load a chunk of 100 held them for seconds and the
institutions' acceptances of those very orders queued behind it."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from contracts.base import CloudEvent
from contracts.supply import OrderDelivered, OrderRouted, OrderShipped, SupplyRiskOpened
from services.orders import domain, store
from services.orders.domain import OrderAction, OrderStatus
from services.runtime.db import UnitOfWork
from services.runtime.history import history_row, write_history

log = logging.getLogger("vbp.orders")

SupplyEvent = OrderRouted | OrderShipped | OrderDelivered | SupplyRiskOpened


@dataclass(frozen=True)
class Move:
    """What one of supply's events does to its order: the action (None: the status stands),
    the history's change, the order's new values, the history's detail, who and why."""

    action: OrderAction | None
    change: str
    values: dict[str, Any]
    detail: dict[str, Any]
    actor: str
    reason: str


def move_of(event: SupplyEvent, ce: CloudEvent) -> Move:
    if isinstance(event, OrderRouted):
        return Move(OrderAction.ROUTE, "routed",
                    {"distributor_id": event.distributor_id, "supply_risk": None},
                    {"distributor_id": event.distributor_id,
                     "assignment_id": event.assignment_id,
                     "rerouted_from": event.rerouted_from},
                    f"supply:{ce.source}",
                    f"re-routed from {event.rerouted_from}" if event.rerouted_from
                    else "routed to the assigned distributor")
    if isinstance(event, OrderShipped):
        return Move(OrderAction.SHIP, "shipped", {"shipped_units": event.units},
                    {"units": event.units, "distributor_id": event.distributor_id,
                     "shipped_at": event.shipped_at.isoformat()},
                    event.recorded_by, "shipped")
    if isinstance(event, OrderDelivered):
        return Move(OrderAction.DELIVER, "delivered", {"delivered_units": event.units},
                    {"units": event.units, "distributor_id": event.distributor_id,
                     "delivered_at": event.delivered_at.isoformat(),
                     "delivery_seconds": event.delivery_seconds},
                    event.recorded_by, "delivered")
    return Move(None, "supply_risk_opened", {"supply_risk": event.reason}, {},
                f"supply:{ce.source}", event.reason)


async def on_supply_events(uow: UnitOfWork, events: Sequence[tuple[Any, CloudEvent]]) -> None:
    """Supply's events, in partition order, as if applied one after the other."""
    found = await store.lock_orders(uow.conn, sorted({e.order_id for e, _ in events}))
    orders = {row.order_id: dict(row._mapping) for row in found}
    now = uow.clock.now()
    changed: dict[str, dict[str, Any]] = {}
    history: list[dict[str, Any]] = []
    for event, ce in events:
        order = orders.get(event.order_id)
        move = move_of(event, ce)
        if order is None:
            if move.action is not None:
                log.info("%s for order %s, not an order of this service: ignored",
                         move.change, event.order_id)
            continue
        values, detail = dict(move.values), dict(move.detail)
        if move.action is None:
            detail["status"] = order["status"]
        else:
            try:
                status = domain.transition(OrderStatus(order["status"]), move.action)
            except domain.IllegalTransition as exc:
                # e.g. routed after the institution cancelled: the status stands; noted.
                log.warning("order %s: %s", event.order_id, exc)
                history.append(history_row(store.ORDER, event.order_id,
                                           f"{move.change}_ignored",
                                           {"status": order["status"]}, move.actor, str(exc),
                                           now))
                continue
            values["status"] = detail["status"] = status.value
        order.update(values, updated_at=now, version=order["version"] + 1)
        changed[event.order_id] = order
        history.append(history_row(store.ORDER, event.order_id, move.change,
                                   {**detail, "version": order["version"]}, move.actor,
                                   move.reason, now))
    await store.save_supply_moves(uow.conn, changed.values())
    await write_history(uow.conn, store.history, history)
