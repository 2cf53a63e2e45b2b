"""Credit records monitoring proposes from what it sees on the topics (R-CRD-1), for a
regulator to confirm or dismiss: deliveries later than the profile's limit, repeated quality
rejections (both as the events arrive), orders unfilled after N days and supply risks left
open after N days (both by ``sweep``, run by an operator's job with the injectable clock).
Each finding is proposed once (a stable ``proposal_key``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.base import CloudEvent
from services.monitoring import credit, metrics, programs, store
from services.monitoring.domain import credit as rules
from services.monitoring.domain.reports import Month
from services.monitoring.programs import Program
from services.runtime.clock import business_date
from services.runtime.db import UnitOfWork

ACTOR = "monitoring:proposals"
O, F = store.orders, store.facts  # noqa: E741


async def _program(conn: AsyncConnection, program_id: str,
                   cache: dict[str, Program | None]) -> Program | None:
    if program_id not in cache:
        cache[program_id] = await programs.find(conn, program_id)
    return cache[program_id]


async def _orders(conn: AsyncConnection, order_ids: Sequence[str]) -> dict[str, Any]:
    rows = await conn.execute(select(O).where(O.c.order_id.in_(sorted(set(order_ids)))))
    return {r.order_id: r for r in rows}


async def after_deliveries(uow: UnitOfWork, batch: Sequence[tuple[Any, CloudEvent]]) -> None:
    """Late deliveries (R-CRD-1, R-SUP-3): placed → delivered beyond ``late_delivery_hours``,
    proposed against the enterprise (the distributor is named in the evidence)."""
    await _late(uow, [(e.order_id, e.distributor_id, e.delivery_seconds, e.delivered_at)
                      for e, _ in batch])


async def after_placements(uow: UnitOfWork, batch: Sequence[tuple[Any, CloudEvent]]) -> None:
    """A delivery seen before its order's placement (two topics, no order between them) is
    judged when the placement arrives."""
    rows = (await uow.conn.execute(select(F.c.order_id, F.c.distributor_id, F.c.seconds,
                                          F.c.at).where(
        F.c.kind == "delivered", F.c.order_id.in_([e.order_id for e, _ in batch])))).all()
    await _late(uow, [(r.order_id, r.distributor_id, r.seconds, r.at) for r in rows])


async def _late(uow: UnitOfWork, deliveries: Sequence[tuple[str, str, int, Any]]) -> None:
    if not deliveries:
        return
    cache: dict[str, Program | None] = {}
    orders = await _orders(uow.conn, [d[0] for d in deliveries])
    found = []
    for order_id, distributor_id, seconds, delivered_at in deliveries:
        order = orders.get(order_id)
        program = order and await _program(uow.conn, order.program_id, cache)
        if order is None or program is None:
            continue  # the order's placement not seen yet: judged when it arrives
        policy = program.profile.monitoring
        if not rules.is_late_delivery(seconds, policy):
            continue
        found.append(credit.Proposal(
            key=f"late:{order_id}", subject_kind="enterprise",
            subject_id=order.enterprise_id, program=program, conduct="late_delivery",
            description=f"order {order_id} delivered {seconds // 3600} h after placing "
            f"(limit {policy.late_delivery_hours} h)",
            evidence=[f"order:{order_id}", f"distributor:{distributor_id}",
                      f"delivered_at:{delivered_at.isoformat()}"],
            registration_nos=[order.registration_no],
            occurred_on=business_date(delivered_at)))
    await credit.propose_many(uow, found, ACTOR)


async def after_rejections(uow: UnitOfWork, batch: Sequence[tuple[Any, CloudEvent]]) -> None:
    """Repeated quality rejections (R-CRD-1): ``rejections_threshold`` rejections of one
    enterprise's deliveries in a region within the window; one proposal per enterprise,
    program and month of the rejection that crossed the threshold."""
    rejected = [e for e, _ in batch if getattr(e, "rejected_units", 1) != 0]
    if not rejected:  # acceptances in full: nothing to look up
        return
    cache: dict[str, Program | None] = {}
    orders = await _orders(uow.conn, [e.order_id for e in rejected])
    for e in rejected:
        at = getattr(e, "rejected_at", None) or e.accepted_at
        order = orders.get(e.order_id)
        program = order and await _program(uow.conn, order.program_id, cache)
        if order is None or program is None:
            continue
        policy = program.profile.monitoring
        since = at - timedelta(days=policy.rejections_window_days)
        times = list((await uow.conn.execute(
            select(F.c.at).join(O, O.c.order_id == F.c.order_id).where(
                F.c.kind == "rejected", O.c.enterprise_id == order.enterprise_id,
                O.c.program_id == program.program_id, F.c.at > since, F.c.at <= at)
        )).scalars())
        if not rules.repeated_rejections(times, at, policy):
            continue
        await credit.propose(
            uow, key=f"rejections:{program.program_id}:{order.enterprise_id}:{Month.of(at)}",
            subject_kind="enterprise", subject_id=order.enterprise_id, program=program,
            conduct="quality_failure",
            description=f"{len(times)} rejected deliveries within "
            f"{policy.rejections_window_days} days (threshold {policy.rejections_threshold})",
            evidence=[f"order:{e.order_id}"], registration_nos=[order.registration_no],
            occurred_on=business_date(at), actor=ACTOR)


class SweepResult(BaseModel):
    unfilled: int
    open_risks: int


async def sweep(uow: UnitOfWork) -> SweepResult:
    """Orders neither delivered, cancelled nor rejected ``unfilled_order_days`` after placing,
    and supply risks open ``open_supply_risk_days`` (R-CRD-1): proposed once each."""
    now = uow.clock.now()
    cache: dict[str, Program | None] = {}
    unfilled = risks = 0
    closed = select(F.c.order_id).where(
        F.c.order_id == O.c.order_id,
        F.c.kind.in_(("delivered", "cancelled", "rejected", "accepted"))).exists()
    for program in await programs.all_programs(uow.conn):
        cache[program.program_id] = program
        policy = program.profile.monitoring
        cutoff = now - timedelta(days=policy.unfilled_order_days)
        rows = (await uow.conn.execute(select(O).where(
            O.c.program_id == program.program_id, O.c.placed_at <= cutoff, ~closed))).all()
        for o in rows:
            unfilled += await credit.propose(
                uow, key=f"unfilled:{o.order_id}", subject_kind="enterprise",
                subject_id=o.enterprise_id, program=program, conduct="unfilled_orders",
                description=f"order {o.order_id} ({o.units} units) not delivered "
                f"{policy.unfilled_order_days} days after placing",
                evidence=[f"order:{o.order_id}", f"placed_at:{o.placed_at.isoformat()}"],
                registration_nos=[o.registration_no], occurred_on=business_date(now),
                actor=ACTOR)
    risks_table = store.supply_risks
    open_risks = (await uow.conn.execute(
        select(risks_table, O.c.program_id).join(O, O.c.order_id == risks_table.c.order_id)
        .where(risks_table.c.closed_at.is_(None)))).all()
    for r in open_risks:
        of_risk = await _program(uow.conn, r.program_id, cache)
        if of_risk is None or not rules.is_risk_left_open(r.opened_at, now,
                                                          of_risk.profile.monitoring):
            continue
        risks += await credit.propose(
            uow, key=f"risk:{r.event_id}", subject_kind="enterprise",
            subject_id=r.enterprise_id, program=of_risk, conduct="open_supply_risk",
            description=f"supply risk on order {r.order_id} open since "
            f"{r.opened_at.isoformat()} (limit {of_risk.profile.monitoring.open_supply_risk_days}"
            " days)",
            evidence=[f"order:{r.order_id}"], registration_nos=[r.registration_no],
            occurred_on=business_date(now), actor=ACTOR)
    if unfilled or risks:
        await metrics.refresh_credit(uow.conn)
    return SweepResult(unfilled=unfilled, open_risks=risks)

