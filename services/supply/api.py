"""Supply HTTP routes: thin; the work is in the use-case modules (``distributors``,
``assignments``, ``deliveries``, ``violations``, ``accounts``, ``routing``), the answers in
``views``, the queries in ``store``.

Who sees what: regulators and operators everything; an enterprise its own assignments, orders,
risks and contingencies; a distributor the orders routed to it and the assignments naming it;
an institution its own orders, accounts and open items. Another org's object is 404.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse

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
    HistoryOut,
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
from services.runtime.auth import Overseer, Principal, Regulator, authorize
from services.runtime.idempotency import IdempotencyRequired
from services.runtime.problems import not_found
from services.supply import (
    accounts,
    assignments,
    deliveries,
    distributors,
    domain,
    errors,
    routing,
    store,
    views,
    violations,
)
from services.supply.waiting import OrderNotKnownYet

router = APIRouter(prefix="/v1", tags=["supply"])
Enterprise = Annotated[Principal, Depends(authorize("enterprise"))]
Institution = Annotated[Principal, Depends(authorize("institution"))]
Distributor = Annotated[Principal, Depends(authorize("distributor"))]
AnyRole = Annotated[Principal, Depends(authorize(
    "regulator", "operator", "institution", "enterprise", "distributor"))]
"""Every role but ``agency`` (the runtime's ``AnyRole`` admits it too)."""
HistoryReader = Annotated[Principal, Depends(authorize("regulator", "operator", "distributor"))]
"""A distributor's history: regulators, operators and the distributor itself (function-level
authorisation: any other role is a 403 before anything is read)."""
Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(max_length=200)]
Status = Annotated[Literal["open", "closed", "all"], Query()]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
NOT_OPEN: dict[int | str, dict[str, Any]] = {
    409: {"description": "the order is not open for this (cancelled, or not routed to you)"}}


def _scoped(caller: Principal, columns: Mapping[str, str],
            wanted: dict[str, str | None]) -> dict[str, str | None] | None:
    """The filters ``wanted`` limited to the caller's own org (``Principal.filters``: the
    column that holds the owner for the caller's role, from ``columns``); None when the
    caller asked for another org's objects (so nothing)."""
    for column, org in caller.filters(columns).items():
        if wanted.get(column) not in (None, org):
            return None
        wanted[column] = org
    return wanted


# --- distributors ---------------------------------------------------------------------------------


@router.post("/distributors", status_code=201, response_model=DistributorOut,
             responses={409: {"description": "a distributor with this id is registered"}})
async def register_distributor(body: DistributorIn, caller: Overseer, uow: UoW,
                               idem: IdempotencyRequired) -> JSONResponse:
    """Register a distribution company, with its standing qualification."""
    return await idem.run(uow, caller.actor,
                          lambda u: distributors.register_distributor(u, body, caller))


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
    items, nxt = views.page([views.distributor_out(r, now) for r in rows], limit, "distributor_id")
    return DistributorsPage(items=items, next_cursor=nxt)


@router.get("/distributors/{distributor_id}", response_model=DistributorOut)
async def get_distributor(distributor_id: str, caller: AnyRole, engine: Engine,
                          clock: ClockDep) -> DistributorOut:
    """One distribution company, with its bar if it is on the violation list."""
    async with engine.connect() as conn:
        row = await store.get_distributor(conn, distributor_id)
    if row is None:
        raise not_found("distributor", distributor_id)
    return views.distributor_out(row, clock.now())


@router.get("/distributors/{distributor_id}/history", response_model=list[HistoryOut])
async def distributor_history(distributor_id: str, caller: HistoryReader,
                              engine: Engine) -> list[HistoryOut]:
    """Registration, bars and lifts: who, when, why."""
    caller.check_owns(distributor_id, "distributor", distributor_id)
    async with engine.connect() as conn:
        if await store.get_distributor(conn, distributor_id) is None:
            raise not_found("distributor", distributor_id)
        return await views.history(conn, "distributor", distributor_id)


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
    return await idem.run(uow, caller.actor, lambda u: violations.bar_distributor(
        u, body.distributor_id, body.reason, until, caller.actor))


@router.post("/violations/{bar_id}/lift", response_model=BarOut,
             responses={409: {"description": "the bar is lifted already"}})
async def lift_bar(bar_id: str, body: ReasonIn, caller: Regulator, uow: UoW,
                   idem: IdempotencyRequired) -> JSONResponse:
    """Lift a listing: qualification comes back (once no other bar holds the distributor);
    the revoked assignments do not."""
    return await idem.run(uow, caller.actor, lambda u: violations.lift_bar(
        u, caller.actor, body.reason, bar_id=bar_id), status_code=200)


@router.get("/violations", response_model=BarsPage)
async def list_bars(caller: AnyRole, engine: Engine, clock: ClockDep,
                    distributor_id: str | None = None, active: bool | None = None,
                    cursor: Cursor = None, limit: Limit = 50) -> BarsPage:
    """The violation list (public): every bar, active or not."""
    now = clock.now()
    async with engine.connect() as conn:
        rows = await store.list_bars(conn, distributor_id=distributor_id, active=active, now=now,
                                     after=cursor, limit=limit + 1)
    items, nxt = views.page([views.bar_out(r, now) for r in rows], limit, "bar_id")
    return BarsPage(items=items, next_cursor=nxt)


@router.get("/violations/{bar_id}", response_model=BarOut)
async def get_bar(bar_id: str, caller: AnyRole, engine: Engine, clock: ClockDep) -> BarOut:
    """One entry of the violation list (R-SUP-4)."""
    async with engine.connect() as conn:
        row = await store.get_bar(conn, bar_id)
    if row is None:
        raise not_found("bar", bar_id)
    return views.bar_out(row, clock.now())


# --- assignments ----------------------------------------------------------------------------------


@router.post("/assignments", status_code=201, response_model=AssignmentRecordedOut,
             responses={409: {"description": "overlaps a live assignment of the product and "
                                             "place"}})
async def record_assignment(body: AssignmentIn, caller: Enterprise, uow: UoW,
                            idem: IdempotencyRequired) -> JSONResponse:
    """The calling enterprise chooses a distributor for one of its products, for one
    institution or one region (R-SUP-1). Orders waiting for one are routed at once."""
    return await idem.run(uow, caller.actor,
                          lambda u: assignments.record_assignment(u, body, caller))


@router.post("/assignments/{assignment_id}/revoke", response_model=AssignmentOut,
             responses={409: {"description": "the assignment has ended already"}})
async def revoke_assignment(assignment_id: str, body: ReasonIn, caller: Enterprise, uow: UoW,
                            idem: IdempotencyRequired) -> JSONResponse:
    """The enterprise ends an assignment; orders placed afterwards are not routed by it
    (R-SUP-1)."""
    return await idem.run(uow, caller.actor, lambda u: assignments.revoke_assignment(
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
    filters = _scoped(caller, _ASSIGNMENT_SCOPE, {
        "enterprise_id": enterprise_id, "distributor_id": distributor_id,
        "institution_id": institution_id, "region": region, "registration_no": registration_no})
    if filters is None:
        return AssignmentsPage(items=[])
    async with engine.connect() as conn:
        rows = await store.search_assignments(conn, filters=filters, after=cursor,
                                              limit=limit + 1)
        names = await store.enterprise_names(conn, (r.enterprise_id for r in rows))
    now = clock.now()
    items, nxt = views.page([views.assignment_out(r, now, names) for r in rows], limit,
                       "assignment_id")
    return AssignmentsPage(items=items, next_cursor=nxt)


async def _visible_assignment(engine: Any, caller: Principal, assignment_id: str) -> Any:
    async with engine.connect() as conn:
        row = await store.get_assignment(conn, assignment_id)
    if row is None:
        raise not_found("assignment", assignment_id)
    for column, org in caller.filters(_ASSIGNMENT_SCOPE).items():
        if (getattr(row, column) or "") != org:
            raise not_found("assignment", assignment_id)
    return row


@router.get("/assignments/{assignment_id}", response_model=AssignmentOut)
async def get_assignment(assignment_id: str, caller: AnyRole, engine: Engine,
                         clock: ClockDep) -> AssignmentOut:
    """One distributor assignment (R-SUP-1)."""
    row = await _visible_assignment(engine, caller, assignment_id)
    async with engine.connect() as conn:
        names = await store.enterprise_names(conn, [row.enterprise_id])
    return views.assignment_out(row, clock.now(), names)


@router.get("/assignments/{assignment_id}/history", response_model=list[HistoryOut])
async def assignment_history(assignment_id: str, caller: AnyRole,
                             engine: Engine) -> list[HistoryOut]:
    """Every change of an assignment: who, when, why."""
    await _visible_assignment(engine, caller, assignment_id)
    async with engine.connect() as conn:
        return await views.history(conn, "assignment", assignment_id)


# --- accounts (R-SUP-2) ---------------------------------------------------------------------------


@router.post("/accounts", status_code=201, response_model=AccountOut,
             responses={409: {"description": "the account is opened already"}})
async def record_account(body: AccountIn, caller: Institution, uow: UoW,
                         idem: IdempotencyRequired) -> JSONResponse:
    """The calling institution requested or opened an account with a distributor. Tracked
    only: an unopened account never holds up supply (R-AGR-7)."""
    return await idem.run(uow, caller.actor, lambda u: accounts.record_account(u, body, caller))


@router.get("/accounts", response_model=list[AccountOut])
async def list_accounts(
    caller: Annotated[Principal, Depends(authorize(
        "regulator", "operator", "institution", "distributor"))],
    engine: Engine, institution_id: str | None = None, distributor_id: str | None = None,
    offset: Offset = 0, limit: Limit = 100,
) -> list[AccountOut]:
    """Accounts institutions requested or opened (R-SUP-2); paginated by offset."""
    filters = _scoped(caller, {"institution": "institution_id", "distributor": "distributor_id"},
                      {"institution_id": institution_id, "distributor_id": distributor_id})
    if filters is None:
        return []
    async with engine.connect() as conn:
        rows = await store.list_accounts(conn, institution_id=filters["institution_id"],
                                         distributor_id=filters["distributor_id"],
                                         offset=offset, limit=limit)
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
    filters = _scoped(caller, {"institution": "institution_id"},
                      {"institution_id": institution_id})
    if filters is None:
        return OpenAccountItemsPage(items=[])
    async with engine.connect() as conn:
        items = await accounts.open_account_items(conn, clock.now(), filters["institution_id"])
    return OpenAccountItemsPage(
        items=[views.open_item_out(i) for i in items[cursor:cursor + limit]],
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
    filters = _scoped(caller, _ORDER_SCOPE, {
        "status": status, "distributor_id": distributor_id, "enterprise_id": enterprise_id,
        "institution_id": institution_id})
    if filters is None:
        return SupplyOrdersPage(items=[])
    async with engine.connect() as conn:
        rows = await store.search_orders(conn, filters=filters, after=cursor, limit=limit + 1)
        names = await store.enterprise_names(conn, (r.enterprise_id for r in rows))
    items, nxt = views.page([views.order_out(r, names=names) for r in rows], limit, "order_id")
    return SupplyOrdersPage(items=items, next_cursor=nxt)


@router.get("/deliveries/{order_id}", response_model=SupplyOrderOut)
async def get_order(order_id: str, caller: AnyRole, engine: Engine) -> SupplyOrderOut:
    """One order as supply sees it: routing, shipments and deliveries."""
    async with engine.connect() as conn:
        row = await store.get_order(conn, order_id)
        if row is None:
            raise OrderNotKnownYet(order_id)  # 404 with Retry-After (waiting.py)
        for column, org in caller.filters(_ORDER_SCOPE).items():
            if (getattr(row, column) or "") != org:
                raise not_found("order", order_id)
        moves = (await store.movements_of(conn, [order_id])).get(order_id, [])
        names = await store.enterprise_names(conn, [row.enterprise_id])
    return views.order_out(row, moves, names)


@router.post("/deliveries/{order_id}/shipments", status_code=201, response_model=SupplyOrderOut,
             responses=NOT_OPEN)
async def record_shipment(order_id: str, body: ShipmentIn, caller: Distributor, uow: UoW,
                          idem: IdempotencyRequired) -> JSONResponse:
    """The distributor the order is routed to ships (part of) it. Idempotency-Key required."""
    return await idem.run(uow, caller.actor,
                          lambda u: deliveries.record_shipment(u, order_id, body, caller))


@router.post("/deliveries/{order_id}/deliveries", status_code=201,
             response_model=SupplyOrderOut, responses=NOT_OPEN)
async def record_delivery(order_id: str, body: DeliveryIn, caller: Distributor, uow: UoW,
                          idem: IdempotencyRequired) -> JSONResponse:
    """The distributor delivers (part of) what it shipped; delivery time is measured from
    placement to the last unit delivered (R-SUP-3). Idempotency-Key required."""
    return await idem.run(uow, caller.actor,
                          lambda u: deliveries.record_delivery(u, order_id, body, caller))


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
            raise errors.query_needs_offset(name)
    filters = _scoped(caller, {"enterprise": "enterprise_id", "distributor": "distributor_id"},
                      {"enterprise_id": enterprise_id, "distributor_id": distributor_id})
    if filters is None:
        return []
    async with engine.connect() as conn:
        rows = await store.delivery_stats(conn, distributor_id=filters["distributor_id"],
                                          enterprise_id=filters["enterprise_id"], since=since,
                                          until=until, offset=offset, limit=limit)
    return [views.delivery_stats_out(r) for r in rows]


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
    filters = _scoped(caller, {"enterprise": "enterprise_id", "institution": "institution_id"},
                      {"enterprise_id": enterprise_id, "institution_id": institution_id,
                       "registration_no": registration_no})
    if filters is None:
        return SupplyRisksPage(items=[])
    async with engine.connect() as conn:
        rows = await store.search_risks(conn, filters=filters, status=status, after=cursor,
                                        limit=limit + 1)
    items, nxt = views.page([SupplyRiskOut.model_validate(r._asdict()) for r in rows], limit,
                       "risk_id")
    return SupplyRisksPage(items=items, next_cursor=nxt)


@router.post("/pending-orders/route", response_model=SweepOut)
async def route_pending(caller: Overseer, uow: UoW,
                        limit: Annotated[int, Query(ge=1, le=10_000)] = 5000) -> SweepOut:
    """Route the pending orders an assignment now covers (one that has started since it was
    recorded). Safe to call any time."""
    async with uow:
        out = await routing.route_pending(uow, limit)
        await uow.commit()
    return out


@router.get("/contingencies", response_model=ContingenciesPage)
async def list_contingencies(
    caller: Annotated[Principal, Depends(authorize("regulator", "operator", "enterprise"))],
    engine: Engine, status: Status = "open", enterprise_id: str | None = None,
    distributor_id: str | None = None, cursor: Cursor = None, limit: Limit = 50,
) -> ContingenciesPage:
    """Enterprises that lost a distributor to a bar and must assign another (R-SUP-4)."""
    filters = _scoped(caller, {"enterprise": "enterprise_id"},
                      {"enterprise_id": enterprise_id, "distributor_id": distributor_id})
    if filters is None:
        return ContingenciesPage(items=[])
    async with engine.connect() as conn:
        rows = await store.search_contingencies(conn, filters=filters, status=status,
                                                after=cursor, limit=limit + 1)
        items = await views.contingencies_out(conn, rows)
    items, nxt = views.page(items, limit, "contingency_id")
    return ContingenciesPage(items=items, next_cursor=nxt)


@router.get("/contingencies/{contingency_id}", response_model=ContingencyOut)
async def get_contingency(
    contingency_id: str,
    caller: Annotated[Principal, Depends(authorize("regulator", "operator", "enterprise"))],
    engine: Engine,
) -> ContingencyOut:
    """One contingency item (R-SUP-4) and the gaps it still has."""
    async with engine.connect() as conn:
        row = await store.get_contingency(conn, contingency_id)
        if row is None:
            raise not_found("contingency", contingency_id)
        caller.check_owns(row.enterprise_id, "contingency", contingency_id)
        return (await views.contingencies_out(conn, [row]))[0]
