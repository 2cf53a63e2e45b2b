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
from services.monitoring.readmodels import PROJECTORS, groups
from services.runtime.db import UnitOfWork

After = Callable[[UnitOfWork, Sequence[tuple[Any, CloudEvent]]], Awaitable[None]]
AFTER: dict[type[Event], After] = {
    OrderPlaced: proposals.after_placements,
    OrderDelivered: proposals.after_deliveries,
    OrderAccepted: proposals.after_rejections,
    OrderRejected: proposals.after_rejections,
}


async def apply(uow: UnitOfWork, batch: Sequence[tuple[Any, CloudEvent]]) -> None:
    """The chunk handler of every type monitoring reads (``handlers.CONSUMERS``): the events
    of a chunk of one partition, types mixed, in partition order. Cut into groups of one type
    (``readmodels.groups``: by type on the topics whose projectors commute, so a chunk of
    interleaved orders events takes one statement or two per type); each group is projected,
    then its proposals looked for (the projectors count the facts into ``month_activity`` as
    they insert them)."""
    for event_type, events in groups(batch):
        await PROJECTORS[event_type](uow.conn, events)
        after = AFTER.get(event_type)
        if after is not None:
            await after(uow, events)
