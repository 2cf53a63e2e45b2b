"""Account opening (R-SUP-2): RecordAccount, by the institution, and the assigned
institution–distributor pairs with no opened account. Tracked only: an unopened account never
holds up supply (R-AGR-7)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, insert, or_, select, update

from contracts.supply import (
    AccountIn,
    AccountOut,
)
from services.runtime.auth import Principal
from services.runtime.db import UnitOfWork
from services.supply import domain, errors, store


async def record_account(uow: UnitOfWork, body: AccountIn, caller: Principal) -> AccountOut:
    """The caller institution requested or opened an account for a distributor. Tracked only:
    never consulted when routing or supplying (R-AGR-7)."""
    conn, now = uow.conn, uow.clock.now()
    if await store.get_distributor(conn, body.distributor_id) is None:
        raise errors.unknown_distributor(body.distributor_id)
    accounts = store.accounts
    key = and_(accounts.c.institution_id == caller.org,
               accounts.c.distributor_id == body.distributor_id)
    current = (await conn.execute(select(accounts).where(key).with_for_update())).first()
    if current is not None and current.status == "opened" and body.status == "requested":
        raise errors.account_already_open(body.distributor_id, current.opened_at)
    values = {"status": body.status, "updated_by": caller.actor, "updated_at": now}
    if body.status == "requested":
        values["requested_at"] = now
    else:
        values["opened_at"] = now
    if current is None:
        await conn.execute(insert(accounts).values(institution_id=caller.org,
                                                   distributor_id=body.distributor_id, **values))
    else:
        await conn.execute(update(accounts).where(key).values(values))
    subject = f"{caller.org}/{body.distributor_id}"[:64]
    await store.write_changes(conn, [("account", subject, body.status,
                                      {"institution_id": caller.org,
                                       "distributor_id": body.distributor_id,
                                       "note": body.note})],
                              caller.actor, body.note or body.status, uow.clock.now())
    row = (await conn.execute(select(accounts).where(key))).first()
    return AccountOut.model_validate(row._asdict() if row is not None else {})


async def open_account_items(conn: Any, now: datetime, institution_id: str | None,
                             ) -> list[domain.OpenAccountItem]:
    """R-SUP-2: assigned institution–distributor pairs with no opened account."""
    assignments, accounts = store.assignments, store.accounts
    live = and_(assignments.c.revoked_at.is_(None),
                or_(assignments.c.valid_until.is_(None), assignments.c.valid_until > now))
    if institution_id is not None:
        regions = await store.institution_regions(conn, [institution_id])
        place = assignments.c.institution_id == institution_id
        if institution_id in regions:
            place = or_(place, and_(assignments.c.scope == "region",
                                    assignments.c.region == regions[institution_id]))
        pool = await store.assignments_where(conn, live, place)
        account_rows = (await conn.execute(select(accounts).where(
            accounts.c.institution_id == institution_id))).all()
    else:
        pool = await store.assignments_where(conn, live)
        regions = await store.institution_regions(conn)
        account_rows = (await conn.execute(select(accounts))).all()
    known = [domain.DistributorAccount(r.institution_id, r.distributor_id,
                                       domain.AccountStatus(r.status)) for r in account_rows]
    return domain.open_items(known, pool, at=now, institution_regions=regions)
