"""The violation list (R-SUP-4, R-CRD-3): BarDistributor and LiftBar, by a regulator or by a
credit measure (monitoring's ``CreditMeasureApplied`` / ``CreditMeasureLifted``), and the
contingency items of the enterprises that lose a distributor."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, or_, select, update

from contracts.base import CloudEvent
from contracts.monitoring import CreditMeasureApplied, CreditMeasureLifted
from contracts.supply import (
    AssignmentRevoked,
    BarOut,
    BarOutcomeOut,
    DistributorBarred,
    DistributorReinstated,
)
from services.runtime.db import UnitOfWork
from services.runtime.ids import time_ordered_id
from services.runtime.problems import not_found
from services.supply import deliveries, domain, errors, routing, store, views
from services.supply.distributors import insert_distributor

log = logging.getLogger("vbp.supply")


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
        raise errors.bar_period(until, at)
    orders, assignments = store.orders, store.assignments
    mine = await store.assignments_where(
        conn, assignments.c.distributor_id == distributor_id,
        or_(assignments.c.revoked_at.is_(None), assignments.c.revoked_at > at))
    open_rows = list((await conn.execute(select(orders).where(
        orders.c.distributor_id == distributor_id,
        orders.c.status.in_(store.OPEN_STATUSES)))).all())
    moves = await store.movements_of(conn, [r.order_id for r in open_rows if r.shipped_units])
    states = [deliveries.shipment_state(r, moves.get(r.order_id, [])) for r in open_rows]
    keys = ({(a.enterprise_id, a.registration_no) for a in mine}
            | {(r.enterprise_id, r.registration_no) for r in open_rows})
    pool = await store.assignments_of_products(conn, keys)
    distributors = await store.distributors_by_id(
        conn, {a.distributor_id for a in pool} | {distributor_id})
    try:
        outcome = domain.bar_distributor(distributor_id, at, until, reason, pool, states,
                                         distributors=distributors)
    except ValueError as exc:
        raise errors.BAR_REJECTED(exc.args[0]) from exc

    bar_id = time_ordered_id("BAR", now)
    await conn.execute(insert(store.bars).values(
        bar_id=bar_id, distributor_id=distributor_id, reason=reason, barred_from=at,
        barred_until=until, measure_id=measure_id, barred_by=actor))
    barred = domain.apply_bar(distributors[distributor_id], outcome.bar)
    await conn.execute(update(store.distributors)
                       .where(store.distributors.c.distributor_id == distributor_id)
                       .values(barred_from=barred.barred_from, barred_until=barred.barred_until,
                               updated_at=now))
    await store.write_changes(conn, [("distributor", distributor_id, "barred",
                                      {"bar_id": bar_id, "barred_from": at,
                                       "barred_until": until, "measure_id": measure_id})],
                              actor, reason, uow.clock.now())
    uow.record(DistributorBarred(distributor_id=distributor_id, reason=reason, barred_from=at,
                                 barred_until=until, measure_id=measure_id, barred_by=actor,
                                 bar_id=bar_id))

    why = f"distributor {distributor_id} barred: {reason}"
    if outcome.revoked:
        await conn.execute(
            update(assignments).where(assignments.c.assignment_id == bindparam("b_id"))
            .values(revoked_at=at, revoked_by=actor, revoke_reason=why),
            [{"b_id": a.assignment_id} for a in outcome.revoked])
        await store.write_changes(conn, [("assignment", a.assignment_id, "revoked",
                                          {"bar_id": bar_id}) for a in outcome.revoked],
                                  actor, why, uow.clock.now())
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
    await routing.apply_routes(uow, routes, now, rerouted_from=distributor_id)
    if risks:
        await conn.execute(
            update(orders).where(orders.c.order_id == bindparam("b_order"))
            .values(status="pending", distributor_id=None, assignment_id=None, routed_at=None),
            [{"b_order": order_id} for order_id, *_ in risks])
        await routing.open_risks(uow, risks, now)
    opened = await _open_contingencies(uow, outcome, bar_id, open_rows, now)
    return BarOutcomeOut(
        bar=views.bar_out(await _bar_row(uow, bar_id), now),
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
        cid = time_ordered_id("CT", now)
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


async def close_contingencies(uow: UnitOfWork, new: domain.Assignment,
                               pool: Sequence[domain.Assignment],
                               distributors: dict[str, domain.Distributor],
                               now: datetime) -> list[str]:
    """The enterprise assigned a distributor: close the gaps it covers, and the contingency
    items with no gap left (R-SUP-4)."""
    contingencies, gaps_table = store.contingencies, store.contingency_gaps
    items = list((await uow.conn.execute(select(contingencies).where(
        contingencies.c.enterprise_id == new.enterprise_id,
        contingencies.c.closed_at.is_(None)))).all())
    if not items:
        return []
    at = max(now, new.valid_from)
    closed = []
    for item in items:
        gaps = list((await uow.conn.execute(select(gaps_table).where(
            gaps_table.c.contingency_id == item.contingency_id))).all())
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
            await uow.conn.execute(update(gaps_table).where(
                gaps_table.c.contingency_id == g.contingency_id,
                gaps_table.c.registration_no == g.registration_no,
                gaps_table.c.scope == g.scope, gaps_table.c.place == g.place)
                .values(closed_at=now, closed_by=new.assignment_id))
        done = {(g.registration_no, g.scope, g.place) for g in newly}
        still_open = [g for g in gaps if g.closed_at is None
                      and (g.registration_no, g.scope, g.place) not in done]
        if still_open:
            continue
        if not gaps and new.registration_no not in json.loads(item.registration_nos):
            continue  # no gap to fill: the item waits for a new distributor for a lost product
        await uow.conn.execute(update(contingencies)
                               .where(contingencies.c.contingency_id == item.contingency_id)
                               .values(closed_at=now, closed_by=new.assignment_id))
        await store.write_changes(uow.conn, [("contingency", item.contingency_id, "closed",
                                              {"assignment_id": new.assignment_id})],
                                  f"enterprise:{new.enterprise_id}",
                                  "replacement distributor assigned", uow.clock.now())
        closed.append(item.contingency_id)
    return closed


async def lift_bar(uow: UnitOfWork, actor: str, reason: str, *, bar_id: str | None = None,
                   measure_id: str | None = None) -> BarOut | None:
    """LiftBar: the distributor is qualified again once no other bar holds it; the revoked
    assignments stay revoked (the enterprise assigns again)."""
    conn, now = uow.conn, uow.clock.now()
    await store.routing_lock(conn, exclusive=True)
    bars = store.bars
    query = select(bars).where(bars.c.bar_id == bar_id if bar_id
                               else bars.c.measure_id == measure_id)
    bar = (await conn.execute(query.with_for_update())).first()
    if bar is None:
        if bar_id is not None:
            raise not_found("bar", bar_id)
        return None
    if bar.lifted_at is not None:
        if bar_id is not None:
            raise errors.already_lifted(bar.bar_id, bar.lifted_at)
        return views.bar_out(bar, now)
    await conn.execute(update(bars).where(bars.c.bar_id == bar.bar_id)
                       .values(lifted_at=now, lifted_by=actor, lift_reason=reason))
    others = list((await conn.execute(select(bars).where(
        bars.c.distributor_id == bar.distributor_id, bars.c.lifted_at.is_(None),
        bars.c.barred_until > now))).all())
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
    await store.write_changes(conn, [("distributor", bar.distributor_id, "bar-lifted",
                                      {"bar_id": bar.bar_id,
                                       "still_barred_by": [o.bar_id for o in others]})],
                              actor, reason, uow.clock.now())
    if not others and domain.is_barred(current, now):
        uow.record(DistributorReinstated(
            distributor_id=bar.distributor_id, reason=reason, reinstated_by=actor,
            reinstated_at=now, bar_id=bar.bar_id, measure_id=bar.measure_id))
    return views.bar_out(await _bar_row(uow, bar.bar_id), now)


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
        await insert_distributor(uow, event.subject_id, event.subject_id, True, actor,
                                 f"first named by credit measure {event.measure_id}")
    await bar_distributor(uow, event.subject_id, reason, until, actor,
                          measure_id=event.measure_id, at=at)


async def on_measure_lifted(uow: UnitOfWork, event: CreditMeasureLifted,
                            ce: CloudEvent) -> None:
    """R-CRD-3: the credit measure was lifted: so is its bar (as ``lift_bar``)."""
    if event.subject_kind != "distributor":
        return
    await lift_bar(uow, f"credit:{event.lifted_by}", f"credit measure lifted: {event.reason}",
                   measure_id=event.measure_id)
