"""Supply's answers: rows shaped as the contracts' ``…Out`` models, and the reads the routes
need (one object, a page, an object's history)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from contracts.supply import (
    AssignmentOut,
    BarOut,
    ContingencyOut,
    DeliveryStatsOut,
    DistributorOut,
    GapOut,
    HistoryOut,
    MovementOut,
    OpenAccountItemOut,
    SupplyOrderOut,
)
from services.runtime.db import UnitOfWork
from services.runtime.history import detail_of
from services.supply import domain, store


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


async def order_view(uow: UnitOfWork, order_id: str) -> SupplyOrderOut:
    row = await store.get_order(uow.conn, order_id)
    moves = (await store.movements_of(uow.conn, [order_id])).get(order_id, [])
    return order_out(row, moves)


def page(items: list[Any], limit: int, key: str) -> tuple[list[Any], str | None]:
    """The first ``limit`` of ``limit + 1`` items read, and the cursor of the next page (the
    last item's ``key``) when there is one."""
    if len(items) > limit:
        items = items[:limit]
        return items, str(getattr(items[-1], key))
    return items, None


async def history(conn: Any, subject_kind: str, subject_id: str) -> list[HistoryOut]:
    """An object's changes, oldest first: who, when, why."""
    return [HistoryOut(change=r.change, detail=detail_of(r), actor=r.actor, reason=r.reason,
                       at=r.at)
            for r in await store.history_page(conn, subject_kind, subject_id)]


async def contingencies_out(conn: Any, rows: Sequence[Any]) -> list[ContingencyOut]:
    """Contingency items with their gaps."""
    gaps = await store.gaps_of(conn, [r.contingency_id for r in rows])
    return [ContingencyOut(
        contingency_id=r.contingency_id, enterprise_id=r.enterprise_id,
        distributor_id=r.distributor_id, bar_id=r.bar_id,
        registration_nos=json.loads(r.registration_nos),
        status="open" if r.closed_at is None else "closed", opened_at=r.opened_at,
        closed_at=r.closed_at, closed_by=r.closed_by,
        gaps=[GapOut(registration_no=g.registration_no, scope=g.scope, place=g.place,
                     closed_at=g.closed_at, closed_by=g.closed_by)
              for g in gaps.get(r.contingency_id, [])])
        for r in rows]


def open_item_out(item: domain.OpenAccountItem) -> OpenAccountItemOut:
    return OpenAccountItemOut(institution_id=item.institution_id,
                              distributor_id=item.distributor_id,
                              status=None if item.status is None else item.status.value)


def delivery_stats_out(row: Any) -> DeliveryStatsOut:
    """One (distributor, enterprise) row of delivery-time totals, in hours (R-SUP-3)."""
    stats = domain.stats_from_totals(row.distributor_id, row.enterprise_id, int(row.n),
                                     int(row.total), int(row.p90))
    return DeliveryStatsOut(
        distributor_id=stats.distributor_id, enterprise_id=stats.enterprise_id,
        count=stats.count, mean_hours=domain.to_decimal(stats.mean_hours),
        p90_hours=domain.to_decimal(stats.p90_hours))
