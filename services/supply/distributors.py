"""Distributors: RegisterDistributor (by an overseer), and the registry entry a credit measure
creates for a distributor supply has not seen yet."""

from __future__ import annotations

from sqlalchemy import insert

from contracts.supply import (
    DistributorIn,
    DistributorOut,
    DistributorRegistered,
)
from services.runtime.auth import Principal
from services.runtime.db import UnitOfWork
from services.supply import errors, store, views


async def insert_distributor(uow: UnitOfWork, distributor_id: str, name: str, qualified: bool,
                             actor: str, reason: str) -> None:
    """A distributor enters the registry (by an overseer, or first named by a credit
    measure)."""
    now = uow.clock.now()
    await uow.conn.execute(insert(store.distributors).values(
        distributor_id=distributor_id, name=name, qualified=qualified, registered_by=actor,
        registered_at=now, updated_at=now))
    await store.write_changes(uow.conn, [("distributor", distributor_id, "registered",
                                          {"name": name, "qualified": qualified})],
                              actor, reason, uow.clock.now())
    uow.record(DistributorRegistered(distributor_id=distributor_id, name=name,
                                     qualified=qualified, registered_by=actor, registered_at=now,
                                     reason=reason))


async def register_distributor(uow: UnitOfWork, body: DistributorIn,
                               caller: Principal) -> DistributorOut:
    """RegisterDistributor."""
    if await store.get_distributor(uow.conn, body.distributor_id) is not None:
        raise errors.distributor_exists(body.distributor_id)
    await insert_distributor(uow, body.distributor_id, body.name, body.qualified, caller.actor,
                             body.reason or "registered")
    row = await store.get_distributor(uow.conn, body.distributor_id)
    return views.distributor_out(row, uow.clock.now())
