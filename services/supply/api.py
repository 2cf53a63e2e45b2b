"""Supply HTTP routes: thin; the work is in handlers and domain.

Who sees what: regulators and operators everything; an enterprise its own assignments, orders,
risks and contingencies; a distributor the orders routed to it and the assignments naming it;
an institution its own orders, accounts and open items. Another org's object is 404.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from sqlalchemy import select

from contracts.supply import (
    AccountIn,
    AccountOut,
    AssignmentIn,
    AssignmentOut,
    AssignmentRecordedOut,
    AssignmentsPage,
    BarIn,
    BarOut,
    BarOutcomeOut,
    BarsPage,
    ContingenciesPage,
    ContingencyOut,
    DeliveryIn,
    DeliveryStatsOut,
    DistributorIn,
    DistributorOut,
    DistributorsPage,
    GapOut,
    HistoryOut,
    OpenAccountItemOut,
    OpenAccountItemsPage,
    ReasonIn,
    ShipmentIn,
    SupplyOrderOut,
    SupplyOrdersPage,
    SupplyRiskOut,
    SupplyRisksPage,
    SweepOut,
)
from services.runtime.app import ClockDep, Engine, UoW
from services.runtime.auth import Principal, authorize
from services.runtime.idempotency import IdempotencyRequired
from services.runtime.problems import Problem, not_found
from services.supply import domain, handlers, store
from services.supply.waiting import OrderNotKnownYet

router = APIRouter(prefix="/v1", tags=["supply"])
Regulator = Annotated[Principal, Depends(authorize("regulator"))]
Overseer = Annotated[Principal, Depends(authorize("regulator", "operator"))]
Enterprise = Annotated[Principal, Depends(authorize("enterprise"))]
Institution = Annotated[Principal, Depends(authorize("institution"))]
Distributor = Annotated[Principal, Depends(authorize("distributor"))]
AnyRole = Annotated[Principal, Depends(authorize(
    "regulator", "operator", "institution", "enterprise", "distributor"))]
Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(max_length=200)]
Status = Annotated[Literal["open", "closed", "all"], Query()]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
NOT_OPEN: dict[int | str, dict[str, Any]] = {
    409: {"description": "the order is not open for this (cancelled, or not routed to you)"}}


def _page(items: list[Any], limit: int, key: str) -> tuple[list[Any], str | None]:
    if len(items) > limit:
        items = items[:limit]
        return items, str(getattr(items[-1], key))
    return items, None


def _scoped(caller: Principal, field: str, wanted: str | None) -> tuple[str | None, bool]:
    """The filter value for ``field`` when the caller is limited to its own org: (value,
    empty) where ``empty`` says the caller asked for another org's (so nothing)."""
    if caller.sees_all:
        return wanted, False
    return caller.org, wanted not in (None, caller.org)


# --- distributors ---------------------------------------------------------------------------------


@router.post("/distributors", status_code=201, response_model=DistributorOut,
             responses={409: {"description": "a distributor with this id is registered"}})
async def register_distributor(body: DistributorIn, caller: Overseer, uow: UoW,
                               idem: IdempotencyRequired) -> JSONResponse:
    """Register a distribution company, with its standing qualification."""
    return await idem.run(uow, caller.actor,
                          lambda u: handlers.register_distributor(u, body, caller))


@router.get("/distributors", response_model=DistributorsPage)
async def list_distributors(
    caller: AnyRole, engine: Engine, clock: ClockDep, cursor: Cursor = None, limit: Limit = 50,
    q: Annotated[str | None, Query(max_length=100, description="in the name")] = None,
) -> DistributorsPage:
    """The registry, with each distributor's qualification status now (qualified, barred,
    unqualified)."""
    async with engine.connect() as conn:
        rows = await store.list_distributors(conn, after=cursor, limit=limit + 1, q=q)
    now = clock.now()
    items, nxt = _page([handlers.distributor_out(r, now) for r in rows], limit,
                       "distributor_id")
    return DistributorsPage(items=items, next_cursor=nxt)


@router.get("/distributors/{distributor_id}", response_model=DistributorOut)
async def get_distributor(distributor_id: str, caller: AnyRole, engine: Engine,
                          clock: ClockDep) -> DistributorOut:
    async with engine.connect() as conn:
        row = await store.get_distributor(conn, distributor_id)
    if row is None:
        raise not_found("distributor", distributor_id)
    return handlers.distributor_out(row, clock.now())


async def _history(engine: Any, kind: str, ident: str) -> list[HistoryOut]:
    H = store.history
    async with engine.connect() as conn:
        rows = (await conn.execute(select(H).where(H.c.subject_kind == kind,
                                                   H.c.subject_id == ident)
                                   .order_by(H.c.id).limit(1000))).all()
    return [HistoryOut(change=r.change, detail=json.loads(r.detail), actor=r.actor,
                       reason=r.reason, at=r.at) for r in rows]


@router.get("/distributors/{distributor_id}/history", response_model=list[HistoryOut])
async def distributor_history(distributor_id: str, caller: AnyRole,
                              engine: Engine) -> list[HistoryOut]:
    """Registration, bars and lifts: who, when, why."""
    if caller.role != "distributor" and not caller.sees_all:
        raise Problem(403, "forbidden", "Not allowed for this role",
                      "a distributor's history is for regulators, operators and itself")
    caller.check_owns(distributor_id, "distributor", distributor_id)
    async with engine.connect() as conn:
        if await store.get_distributor(conn, distributor_id) is None:
            raise not_found("distributor", distributor_id)
    return await _history(engine, "distributor", distributor_id)


# --- violation list -------------------------------------------------------------------------------


@router.post("/violations", status_code=201, response_model=BarOutcomeOut,
             responses={404: {"description": "no such distributor"},
                        422: {"description": "invalid: give exactly one of 'until' and "
                                             "'years'; 'until' after now"}})
async def bar_distributor(body: BarIn, caller: Regulator, uow: UoW, idem: IdempotencyRequired,
                          clock: ClockDep) -> JSONResponse:
    """Place a distributor on the violation list (R-SUP-4). At once: its assignments are
    revoked, its unshipped orders re-routed or flagged as supply risks, and every enterprise
    affected gets a contingency item."""
    now = clock.now()
    until = body.until or domain.CalendarYears(body.years or 0).after(now)
    return await idem.run(uow, caller.actor, lambda u: handlers.bar_distributor(
        u, body.distributor_id, body.reason, until, caller.actor))


@router.post("/violations/{bar_id}/lift", response_model=BarOut,
             responses={409: {"description": "the bar is lifted already"}})
async def lift_bar(bar_id: str, body: ReasonIn, caller: Regulator, uow: UoW,
                   idem: IdempotencyRequired) -> JSONResponse:
    """Lift a listing: qualification comes back (once no other bar holds the distributor);
    the revoked assignments do not."""
    return await idem.run(uow, caller.actor, lambda u: handlers.lift_bar(
        u, caller.actor, body.reason, bar_id=bar_id), status_code=200)


@router.get("/violations", response_model=BarsPage)
async def list_bars(caller: AnyRole, engine: Engine, clock: ClockDep,
                    distributor_id: str | None = None, active: bool | None = None,
                    cursor: Cursor = None, limit: Limit = 50) -> BarsPage:
    """The violation list (public): every bar, active or not."""
    B = store.bars
    query = select(B).order_by(B.c.bar_id)
    if distributor_id:
        query = query.where(B.c.distributor_id == distributor_id)
    if cursor:
        query = query.where(B.c.bar_id > cursor)
    now = clock.now()
    if active is not None:
        live = (B.c.lifted_at.is_(None) & (B.c.barred_from <= now) & (B.c.barred_until > now))
        query = query.where(live if active else ~live)
    async with engine.connect() as conn:
        rows = (await conn.execute(query.limit(limit + 1))).all()
    items, nxt = _page([handlers.bar_out(r, now) for r in rows], limit, "bar_id")
    return BarsPage(items=items, next_cursor=nxt)


@router.get("/violations/{bar_id}", response_model=BarOut)
async def get_bar(bar_id: str, caller: AnyRole, engine: Engine, clock: ClockDep) -> BarOut:
    async with engine.connect() as conn:
        row = (await conn.execute(select(store.bars)
                                  .where(store.bars.c.bar_id == bar_id))).first()
    if row is None:
        raise not_found("bar", bar_id)
    return handlers.bar_out(row, clock.now())


# --- assignments ----------------------------------------------------------------------------------


@router.post("/assignments", status_code=201, response_model=AssignmentRecordedOut,
             responses={409: {"description": "overlaps a live assignment of the product and "
                                             "place"}})
async def record_assignment(body: AssignmentIn, caller: Enterprise, uow: UoW,
                            idem: IdempotencyRequired) -> JSONResponse:
    """The calling enterprise chooses a distributor for one of its products, for one
    institution or one region (R-SUP-1). Orders waiting for one are routed at once."""
    return await idem.run(uow, caller.actor,
                          lambda u: handlers.record_assignment(u, body, caller))


@router.post("/assignments/{assignment_id}/revoke", response_model=AssignmentOut,
             responses={409: {"description": "the assignment has ended already"}})
async def revoke_assignment(assignment_id: str, body: ReasonIn, caller: Enterprise, uow: UoW,
                            idem: IdempotencyRequired) -> JSONResponse:
    return await idem.run(uow, caller.actor, lambda u: handlers.revoke_assignment(
        u, assignment_id, body.reason, caller), status_code=200)


_ASSIGNMENT_SCOPE = {"enterprise": "enterprise_id", "distributor": "distributor_id",
                     "institution": "institution_id"}


@router.get("/assignments", response_model=AssignmentsPage)
async def list_assignments(
    caller: AnyRole, engine: Engine, clock: ClockDep, enterprise_id: str | None = None,
    distributor_id: str | None = None, institution_id: str | None = None,
    region: str | None = None, registration_no: str | None = None,
    cursor: Cursor = None, limit: Limit = 50,
) -> AssignmentsPage:
    """Enterprises see their own; distributors those naming them; institutions those naming
    them; regulators and operators all."""
    filters: dict[str, str | None] = {
        "enterprise_id": enterprise_id, "distributor_id": distributor_id,
        "institution_id": institution_id, "region": region, "registration_no": registration_no}
    if not caller.sees_all:
        field = _ASSIGNMENT_SCOPE[caller.role]
        if filters[field] not in (None, caller.org):
            return AssignmentsPage(items=[])
        filters[field] = caller.org
    async with engine.connect() as conn:
        rows = await store.search_assignments(conn, filters=filters, after=cursor,
                                              limit=limit + 1)
        names = await store.enterprise_names(conn, (r.enterprise_id for r in rows))
    now = clock.now()
    items, nxt = _page([handlers.assignment_out(r, now, names) for r in rows], limit,
                       "assignment_id")
    return AssignmentsPage(items=items, next_cursor=nxt)


async def _visible_assignment(engine: Any, caller: Principal, assignment_id: str) -> Any:
    async with engine.connect() as conn:
        row = await store.get_assignment(conn, assignment_id)
    if row is None:
        raise not_found("assignment", assignment_id)
    if not caller.sees_all:
        owner = getattr(row, _ASSIGNMENT_SCOPE[caller.role])
        caller.check_owns(owner or "", "assignment", assignment_id)
    return row


@router.get("/assignments/{assignment_id}", response_model=AssignmentOut)
async def get_assignment(assignment_id: str, caller: AnyRole, engine: Engine,
                         clock: ClockDep) -> AssignmentOut:
    row = await _visible_assignment(engine, caller, assignment_id)
    async with engine.connect() as conn:
        names = await store.enterprise_names(conn, [row.enterprise_id])
    return handlers.assignment_out(row, clock.now(), names)


@router.get("/assignments/{assignment_id}/history", response_model=list[HistoryOut])
async def assignment_history(assignment_id: str, caller: AnyRole,
                             engine: Engine) -> list[HistoryOut]:
    """Every change of an assignment: who, when, why."""
    await _visible_assignment(engine, caller, assignment_id)
    return await _history(engine, "assignment", assignment_id)


# --- accounts (R-SUP-2) ---------------------------------------------------------------------------


@router.post("/accounts", status_code=201, response_model=AccountOut,
             responses={409: {"description": "the account is opened already"}})
async def record_account(body: AccountIn, caller: Institution, uow: UoW,
                         idem: IdempotencyRequired) -> JSONResponse:
    """The calling institution requested or opened an account with a distributor. Tracked
    only: an unopened account never holds up supply (R-AGR-7)."""
    return await idem.run(uow, caller.actor, lambda u: handlers.record_account(u, body, caller))


@router.get("/accounts", response_model=list[AccountOut])
async def list_accounts(
    caller: Annotated[Principal, Depends(authorize(
        "regulator", "operator", "institution", "distributor"))],
    engine: Engine, institution_id: str | None = None, distributor_id: str | None = None,
    offset: Offset = 0, limit: Limit = 100,
) -> list[AccountOut]:
    """Accounts institutions requested or opened (R-SUP-2); paginated by offset."""
    T = store.accounts
    if caller.role == "institution":
        institution_id, empty = _scoped(caller, "institution_id", institution_id)
    elif caller.role == "distributor":
        distributor_id, empty = _scoped(caller, "distributor_id", distributor_id)
    else:
        empty = False
    if empty:
        return []
    query = (select(T).order_by(T.c.institution_id, T.c.distributor_id)
             .offset(offset).limit(limit))
    if institution_id:
        query = query.where(T.c.institution_id == institution_id)
    if distributor_id:
        query = query.where(T.c.distributor_id == distributor_id)
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [AccountOut.model_validate(r._asdict()) for r in rows]


@router.get("/account-open-items", response_model=OpenAccountItemsPage)
async def open_account_items(
    caller: Annotated[Principal, Depends(authorize("regulator", "operator", "institution"))],
    engine: Engine, clock: ClockDep, institution_id: str | None = None,
    cursor: Annotated[int, Query(ge=0, le=1_000_000, description="offset")] = 0,
    limit: Limit = 100,
) -> OpenAccountItemsPage:
    """Assigned institution–distributor pairs whose account is not opened (R-SUP-2): for
    follow-up; they never block supply."""
    institution_id, empty = _scoped(caller, "institution_id", institution_id)
    if empty:
        return OpenAccountItemsPage(items=[])
    async with engine.connect() as conn:
        items = await handlers.open_account_items(conn, clock.now(), institution_id)
    page = items[cursor:cursor + limit]
    return OpenAccountItemsPage(
        items=[OpenAccountItemOut(institution_id=i.institution_id,
                                  distributor_id=i.distributor_id,
                                  status=None if i.status is None else i.status.value)
               for i in page],
        next_cursor=str(cursor + limit) if len(items) > cursor + limit else None)


# --- orders, shipment and delivery (R-SUP-3) ------------------------------------------------------


_ORDER_SCOPE = {"enterprise": "enterprise_id", "distributor": "distributor_id",
                "institution": "institution_id"}


@router.get("/deliveries", response_model=SupplyOrdersPage)
async def list_orders(
    caller: AnyRole, engine: Engine,
    status: Annotated[Literal["pending", "routed", "shipped", "delivered", "cancelled"] | None,
                      Query()] = None,
    distributor_id: str | None = None, enterprise_id: str | None = None,
    institution_id: str | None = None, cursor: Cursor = None, limit: Limit = 50,
) -> SupplyOrdersPage:
    """Orders as supply sees them. A distributor sees the orders routed to it (its work
    queue); an enterprise and an institution their own."""
    filters: dict[str, str | None] = {"status": status, "distributor_id": distributor_id,
                                      "enterprise_id": enterprise_id,
                                      "institution_id": institution_id}
    if not caller.sees_all:
        field = _ORDER_SCOPE[caller.role]
        if filters[field] not in (None, caller.org):
            return SupplyOrdersPage(items=[])
        filters[field] = caller.org
    async with engine.connect() as conn:
        rows = await store.search_orders(conn, filters=filters, after=cursor, limit=limit + 1)
        names = await store.enterprise_names(conn, (r.enterprise_id for r in rows))
    items, nxt = _page([handlers.order_out(r, names=names) for r in rows], limit, "order_id")
    return SupplyOrdersPage(items=items, next_cursor=nxt)


@router.get("/deliveries/{order_id}", response_model=SupplyOrderOut)
async def get_order(order_id: str, caller: AnyRole, engine: Engine) -> SupplyOrderOut:
    async with engine.connect() as conn:
        row = await store.get_order(conn, order_id)
        if row is None:
            raise OrderNotKnownYet(order_id)  # 404 with Retry-After (waiting.py)
        if not caller.sees_all:
            caller.check_owns(getattr(row, _ORDER_SCOPE[caller.role]) or "", "order", order_id)
        moves = (await store.movements_of(conn, [order_id])).get(order_id, [])
        names = await store.enterprise_names(conn, [row.enterprise_id])
    return handlers.order_out(row, moves, names)


@router.post("/deliveries/{order_id}/shipments", status_code=201, response_model=SupplyOrderOut,
             responses=NOT_OPEN)
async def record_shipment(order_id: str, body: ShipmentIn, caller: Distributor, uow: UoW,
                          idem: IdempotencyRequired) -> JSONResponse:
    """The distributor the order is routed to ships (part of) it. Idempotency-Key required."""
    return await idem.run(uow, caller.actor,
                          lambda u: handlers.record_shipment(u, order_id, body, caller))


@router.post("/deliveries/{order_id}/deliveries", status_code=201,
             response_model=SupplyOrderOut, responses=NOT_OPEN)
async def record_delivery(order_id: str, body: DeliveryIn, caller: Distributor, uow: UoW,
                          idem: IdempotencyRequired) -> JSONResponse:
    """The distributor delivers (part of) what it shipped; delivery time is measured from
    placement to the last unit delivered (R-SUP-3). Idempotency-Key required."""
    return await idem.run(uow, caller.actor,
                          lambda u: handlers.record_delivery(u, order_id, body, caller))


@router.get("/delivery-stats", response_model=list[DeliveryStatsOut])
async def delivery_stats(
    caller: Annotated[Principal, Depends(authorize(
        "regulator", "operator", "enterprise", "distributor"))],
    engine: Engine, distributor_id: str | None = None, enterprise_id: str | None = None,
    since: datetime | None = None, until: datetime | None = None,
    offset: Offset = 0, limit: Limit = 100,
) -> list[DeliveryStatsOut]:
    """Delivery time (placed → fully delivered), per distributor and enterprise, in hours:
    mean and nearest-rank 90th percentile (R-SUP-3)."""
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise Problem(422, "validation", "Request is not valid", f"invalid fields: {name}",
                          errors=[{"field": f"query.{name}", "message": "needs an offset"}])
    if caller.role == "enterprise":
        enterprise_id, empty = _scoped(caller, "enterprise_id", enterprise_id)
    elif caller.role == "distributor":
        distributor_id, empty = _scoped(caller, "distributor_id", distributor_id)
    else:
        empty = False
    if empty:
        return []
    async with engine.connect() as conn:
        rows = await store.delivery_stats(conn, distributor_id=distributor_id,
                                          enterprise_id=enterprise_id, since=since,
                                          until=until, offset=offset, limit=limit)
    out = []
    for r in rows:
        stats = domain.stats_from_totals(r.distributor_id, r.enterprise_id, int(r.n),
                                         int(r.total), int(r.p90))
        out.append(DeliveryStatsOut(
            distributor_id=stats.distributor_id, enterprise_id=stats.enterprise_id,
            count=stats.count, mean_hours=domain.to_decimal(stats.mean_hours),
            p90_hours=domain.to_decimal(stats.p90_hours)))
    return out


# --- supply risks and contingencies (R-SUP-4) -----------------------------------------------------


@router.get("/supply-risks", response_model=SupplyRisksPage)
async def list_risks(
    caller: Annotated[Principal, Depends(authorize(
        "regulator", "operator", "enterprise", "institution"))],
    engine: Engine, status: Status = "open", enterprise_id: str | None = None,
    institution_id: str | None = None, registration_no: str | None = None,
    cursor: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None, limit: Limit = 50,
) -> SupplyRisksPage:
    """Orders nobody may distribute now, until an assignment routes them."""
    R = store.supply_risks
    if caller.role == "enterprise":
        enterprise_id, empty = _scoped(caller, "enterprise_id", enterprise_id)
    elif caller.role == "institution":
        institution_id, empty = _scoped(caller, "institution_id", institution_id)
    else:
        empty = False
    if empty:
        return SupplyRisksPage(items=[])
    query = select(R).order_by(R.c.risk_id).limit(limit + 1)
    for column, value in ((R.c.enterprise_id, enterprise_id),
                          (R.c.institution_id, institution_id),
                          (R.c.registration_no, registration_no)):
        if value is not None:
            query = query.where(column == value)
    if status != "all":
        query = query.where(R.c.closed_at.is_(None) if status == "open"
                            else R.c.closed_at.is_not(None))
    if cursor is not None:
        query = query.where(R.c.risk_id > cursor)
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    items, nxt = _page([SupplyRiskOut.model_validate(r._asdict()) for r in rows], limit,
                       "risk_id")
    return SupplyRisksPage(items=items, next_cursor=nxt)


@router.post("/pending-orders/route", response_model=SweepOut)
async def route_pending(caller: Overseer, uow: UoW,
                        limit: Annotated[int, Query(ge=1, le=10_000)] = 5000) -> SweepOut:
    """Route the pending orders an assignment now covers (one that has started since it was
    recorded). Safe to call any time."""
    async with uow:
        out = await handlers.route_pending(uow, limit)
        await uow.commit()
    return out


async def _contingency_out(conn: Any, rows: list[Any]) -> list[ContingencyOut]:
    G = store.contingency_gaps
    ids = [r.contingency_id for r in rows]
    gaps: dict[str, list[GapOut]] = {}
    if ids:
        for g in (await conn.execute(select(G).where(G.c.contingency_id.in_(ids))
                                     .order_by(G.c.registration_no, G.c.place))).all():
            gaps.setdefault(g.contingency_id, []).append(GapOut(
                registration_no=g.registration_no, scope=g.scope, place=g.place,
                closed_at=g.closed_at, closed_by=g.closed_by))
    return [ContingencyOut(
        contingency_id=r.contingency_id, enterprise_id=r.enterprise_id,
        distributor_id=r.distributor_id, bar_id=r.bar_id,
        registration_nos=json.loads(r.registration_nos),
        status="open" if r.closed_at is None else "closed", opened_at=r.opened_at,
        closed_at=r.closed_at, closed_by=r.closed_by, gaps=gaps.get(r.contingency_id, []))
        for r in rows]


@router.get("/contingencies", response_model=ContingenciesPage)
async def list_contingencies(
    caller: Annotated[Principal, Depends(authorize("regulator", "operator", "enterprise"))],
    engine: Engine, status: Status = "open", enterprise_id: str | None = None,
    distributor_id: str | None = None, cursor: Cursor = None, limit: Limit = 50,
) -> ContingenciesPage:
    """Enterprises that lost a distributor to a bar and must assign another (R-SUP-4)."""
    C = store.contingencies
    enterprise_id, empty = _scoped(caller, "enterprise_id", enterprise_id)
    if empty:
        return ContingenciesPage(items=[])
    query = select(C).order_by(C.c.contingency_id).limit(limit + 1)
    if enterprise_id is not None:
        query = query.where(C.c.enterprise_id == enterprise_id)
    if distributor_id is not None:
        query = query.where(C.c.distributor_id == distributor_id)
    if status != "all":
        query = query.where(C.c.closed_at.is_(None) if status == "open"
                            else C.c.closed_at.is_not(None))
    if cursor:
        query = query.where(C.c.contingency_id > cursor)
    async with engine.connect() as conn:
        items = await _contingency_out(conn, list((await conn.execute(query)).all()))
    items, nxt = _page(items, limit, "contingency_id")
    return ContingenciesPage(items=items, next_cursor=nxt)


@router.get("/contingencies/{contingency_id}", response_model=ContingencyOut)
async def get_contingency(
    contingency_id: str,
    caller: Annotated[Principal, Depends(authorize("regulator", "operator", "enterprise"))],
    engine: Engine,
) -> ContingencyOut:
    C = store.contingencies
    async with engine.connect() as conn:
        row = (await conn.execute(select(C).where(C.c.contingency_id == contingency_id))).first()
        if row is None:
            raise not_found("contingency", contingency_id)
        caller.check_owns(row.enterprise_id, "contingency", contingency_id)
        return (await _contingency_out(conn, [row]))[0]
