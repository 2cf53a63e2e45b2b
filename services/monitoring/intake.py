"""What the consumers do with the other services' events: project them into the read models
(``readmodels``) and, for deliveries and rejections, look for credit findings (``proposals``).
A rebuild uses the projectors alone: proposals are credit data, not a read model."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from contracts.base import CloudEvent, Event
from contracts.orders import OrderAccepted, OrderPlaced, OrderRejected
from contracts.supply import OrderDelivered
from services.monitoring import proposals
from services.monitoring.readmodels import PROJECTORS
from services.runtime.consumer import BatchHandler
from services.runtime.db import UnitOfWork

After = Callable[[UnitOfWork, Sequence[tuple[Any, CloudEvent]]], Awaitable[None]]
AFTER: dict[type[Event], After] = {
    OrderPlaced: proposals.after_placements,
    OrderDelivered: proposals.after_deliveries,
    OrderAccepted: proposals.after_rejections,
    OrderRejected: proposals.after_rejections,
}


def handler(event_type: type[Event]) -> BatchHandler:
    """The batch handler of one event type: its projector, then its proposals (if any)."""
    project = PROJECTORS[event_type]
    after = AFTER.get(event_type)

    async def handle(uow: UnitOfWork, batch: Sequence[tuple[Any, CloudEvent]]) -> None:
        await project(uow.conn, batch)
        if after is not None:
            await after(uow, batch)

    handle.__name__ = f"on_{event_type.__name__}"
    return handle
