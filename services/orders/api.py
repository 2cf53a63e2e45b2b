"""Orders HTTP routes: thin; the work is in the command modules and the domain.

Who may do what: institutions place and act on their own orders, submit their own renewals
and see their own agreements, progress and pacing; regulators and operators see everything
(filterable) and import agreement volumes; a regulator approves renewal exceptions;
enterprises and distributors see the orders (and enterprises the agreements) of their own
products / deliveries. Another org's object is not found (404).
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from contracts.catalog import ListingsPage
from contracts.orders import (
    AcceptanceIn,
    AgreementImportResult,
    AgreementOut,
    AgreementsPage,
    ExceptionIn,
    HistoryEntryOut,
    HistoryImportResult,
    InstitutionsIn,
    InstitutionsPage,
    InstitutionsRegistered,
    OrderIn,
    OrderOut,
    OrdersPage,
    OrderStatus,
    PacingEvaluationIn,
    PacingEvaluationResult,
    PacingWarningsPage,
    ProgramView,
    ProgressReport,
    ReasonIn,
    RenewalIn,
    RenewalOut,
    RenewalsPage,
)
from services.orders import (
    agreements,
    errors,
    history,
    importing,
    institutions,
    listings,
    order_views,
    pacing,
    purchasing,
    renewals,
    store,
)
from services.orders.errors import program_unknown
from services.orders.importing import FileRejected
from services.orders.programs import Program
from services.runtime.app import ClockDep, Engine, UoW, Writes
from services.runtime.auth import AnyRole, Overseer, Principal, Regulator, Role, authorize
from services.runtime.db import analyze
from services.runtime.direct import DirectRoute
from services.runtime.history import history_of
from services.runtime.idempotency import IdempotencyRequired
from services.runtime.problems import not_found
from services.runtime.texts import text

router = APIRouter(prefix="/v1", tags=["orders"])
INSTITUTION_ONLY: tuple[Role, ...] = ("institution",)
"""The roles of ``Institution`` routes, also those of the direct order route."""
Institution = Annotated[Principal, Depends(authorize(*INSTITUTION_ONLY))]
Viewer = Annotated[Principal, Depends(authorize("institution", "regulator", "operator"))]
AgreementViewer = Annotated[Principal, Depends(authorize(
    "institution", "enterprise", "regulator", "operator"))]
Limit = Annotated[int, Query(ge=1, le=500)]
AgreementYear = Annotated[int, Query(ge=1, le=50)]
YearFilter = Annotated[int | None, Query(ge=1, le=50)]
TRANSITION: dict[int | str, dict[str, Any]] = {
    409: {"description": "not allowed in the order's status (R-AGR-8)"}}


OWN_INSTITUTION = {"institution": "institution_id"}
"""An institution sees and acts for its own institution (``Principal.filters``)."""


def _own(caller: Principal, institution_id: str) -> None:
    for org in caller.filters(OWN_INSTITUTION).values():
        if institution_id != org:
            raise errors.not_your_institution(institution_id, org)


def _narrowed(caller: Principal, viewers: dict[str, str],
              filters: dict[str, str | None]) -> bool:
    """Narrow the query ``filters`` (column → value) to what the caller may see; False when
    they ask for something outside it (the answer is then empty)."""
    for column, org in caller.filters(viewers).items():
        if filters.get(column) not in (None, org):
            return False
        filters[column] = org
    return True


def _history(rows: list[Any]) -> list[HistoryEntryOut]:
    return [HistoryEntryOut(seq=r.seq, change=r.change, detail=json.loads(r.detail),
                            actor=r.actor, reason=r.reason, at=r.at) for r in rows]


def _cursor(items: list[Any], limit: int, key: str) -> str | None:
    return getattr(items[limit - 1], key) if len(items) > limit else None


# --- catalog read models ------------------------------------------------------------------------


@router.get("/listings", response_model=ListingsPage, responses={200: {"links": {
    "place_order": {"operationId": "place_order", "requestBody": {
        "listing_id": "$response.body#/items/0/listing_id",
        "unit_price": "$response.body#/items/0/listing_price"}}}}})
async def list_listings(
    caller: AnyRole,
    engine: Engine,
    program_id: str | None = None,
    enterprise_id: str | None = None,
    cursor: str | None = None,
    limit: Limit = 100,
) -> ListingsPage:
    """Listed products that may be ordered (the orders service's read model of the catalog).
    An enterprise sees only its own products, as in catalog's ``GET /v1/listings``."""
    async with engine.connect() as conn:
        return await listings.search(conn, caller, program_id=program_id,
                                     enterprise_id=enterprise_id, cursor=cursor, limit=limit)


@router.get("/programs", response_model=list[ProgramView])
async def list_programs(caller: AnyRole, engine: Engine) -> list[ProgramView]:
    """The programs as the orders service knows them (from catalog's events). Not paged:
    bounded by nature, as a region publishes a few procurement programs a year."""
    async with engine.connect() as conn:
        rows = await store.list_programs(conn)
    out = []
    for row in rows:
        p = Program.of(row)
        out.append(ProgramView(
            program_id=p.program_id, category=p.category, region=p.region,
            execution_start=p.execution_start, cycle_years=p.cycle_years,
            profile_version=p.profile_version, pacing_enabled=p.pacing is not None,
            renewal_thresholds={
                "total_min_ratio": _str(p.renewal.total_min_ratio),
                "per_enterprise_min_ratio": _str(p.renewal.per_enterprise_min_ratio)}))
    return out


def _str(value: object) -> str | None:
    return None if value is None else str(value)


# --- institutions -----------------------------------------------------------------------------


@router.post("/institutions", status_code=201, response_model=InstitutionsRegistered)
async def register_institutions(body: InstitutionsIn, caller: Overseer, uow: UoW,
                                idem: IdempotencyRequired) -> JSONResponse:
    """Register a region's institutions (R-PRG-3); imports and orders of the region's programs
    then accept only them."""
    return await idem.run(uow, caller.actor,
                          lambda u: institutions.register(u, body, caller))


@router.get("/institutions", response_model=InstitutionsPage)
async def list_institutions(caller: Overseer, engine: Engine, region: str | None = None,
                            cursor: str | None = None, limit: Limit = 100) -> InstitutionsPage:
    """The registered medical institutions the caller may see."""
    async with engine.connect() as conn:
        items = await institutions.list_institutions(conn, region=region, after=cursor,
                                                     limit=limit + 1)
    return InstitutionsPage(items=items[:limit],
                            next_cursor=_cursor(items, limit, "institution_id"))


# --- agreements -------------------------------------------------------------------------------


@router.post(
    "/programs/{program_id}/agreements", status_code=201, response_model=AgreementImportResult,
    responses={415: {"description": "not CSV or XLSX"},
               422: {"description": "the file is rejected, every bad row named; nothing is "
                                    "imported"}},
    openapi_extra={"requestBody": {"required": True, "content": {
        kind: {"schema": {"type": "string", "description": what}}
        for kind, what in importing.FORMATS.items()}}},
)
async def import_agreements(
    program_id: str, request: Request, caller: Overseer, uow: UoW, idem: IdempotencyRequired,
    engine: Engine, agreement_year: AgreementYear,
    reason: Annotated[str | None, Query(max_length=1000)] = None,
) -> JSONResponse:
    """Import one agreement year's volumes (R-AGR-1): CSV or XLSX, all or nothing, every bad
    row reported; the same file again is a no-op."""
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    try:
        rows = await asyncio.to_thread(importing.parse, content_type, body)
    except FileRejected as exc:
        raise errors.agreements_rejected(exc.errors) from exc
    except ValueError as exc:
        raise errors.unsupported_media_type(content_type, list(importing.FORMATS)) from exc
    digest = agreements.content_hash(body)
    response = await idem.run(uow, caller.actor, lambda u: agreements.import_agreements(
        u, program_id, agreement_year, rows, digest, caller, reason))
    await analyze(engine, store.agreements, store.history)  # orders are planned on them
    return response


@router.post(
    "/programs/{program_id}/history", status_code=201, response_model=HistoryImportResult,
    openapi_extra={"requestBody": {"required": True, "content": {
        kind: {"schema": {"type": "string", "description": what}}
        for kind, what in importing.FORMATS.items()}}},
)
async def import_history(
    program_id: str, request: Request, caller: Overseer, uow: UoW, idem: IdempotencyRequired,
    engine: Engine, reason: Annotated[str | None, Query(max_length=1000)] = None,
) -> JSONResponse:
    """Onboard a program under way: earlier agreement years' volumes and each institution's
    actual accepted purchases per product (columns ``agreement_year, institution_id,
    institution_type, enterprise_id (optional), registration_no, agreement_units,
    accepted_units``), CSV or XLSX, all or nothing, every bad row named; the same file again
    is a no-op. Renewal (R-AGR-2) and progress (R-AGR-3) read them as accepted orders."""
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    try:
        rows = await asyncio.to_thread(importing.parse_history, content_type, body)
    except FileRejected as exc:
        raise errors.history_rejected(exc.errors) from exc
    except ValueError as exc:
        raise errors.unsupported_media_type(content_type, list(importing.FORMATS)) from exc
    digest = agreements.content_hash(body)
    response = await idem.run(uow, caller.actor, lambda u: history.import_history(
        u, program_id, rows, digest, caller, reason))
    await analyze(engine, store.agreements, store.historical_purchases, store.history)
    return response


AGREEMENT_VIEWERS = {"institution": "institution_id", "enterprise": "enterprise_id"}
"""Per role, the column of an agreement that holds the caller's org (``Principal.filters``)."""


def _agreement_scope(caller: Principal) -> dict[str, str]:
    return caller.filters(AGREEMENT_VIEWERS)


@router.get("/agreements", response_model=AgreementsPage)
async def list_agreements(
    caller: AgreementViewer, engine: Engine, program_id: str | None = None,
    agreement_year: YearFilter = None, region: str | None = None,
    institution_id: str | None = None, enterprise_id: str | None = None,
    registration_no: str | None = None, cursor: str | None = None, limit: Limit = 100,
) -> AgreementsPage:
    """Agreement volumes with progress and remaining volume (R-AGR-3); an institution sees its
    own, an enterprise those of its products, regulators and operators all."""
    filters: dict[str, str | None] = {"institution_id": institution_id,
                                      "enterprise_id": enterprise_id}
    if not _narrowed(caller, AGREEMENT_VIEWERS, filters):
        return AgreementsPage(items=[])
    async with engine.connect() as conn:
        items = await agreements.list_agreements(
            conn, program_id=program_id, agreement_year=agreement_year, region=region,
            registration_no=registration_no, after=cursor, limit=limit + 1, **filters)
    return AgreementsPage(items=items[:limit], next_cursor=_cursor(items, limit, "agreement_id"))


async def _visible_agreement(conn: Any, agreement_id: str, caller: Principal) -> AgreementOut:
    item = await agreements.get_agreement(conn, agreement_id)
    if item is None or any(getattr(item, k) != v for k, v in _agreement_scope(caller).items()):
        raise not_found("agreement", agreement_id)
    return item


@router.get("/agreements/{agreement_id}", response_model=AgreementOut)
async def get_agreement(agreement_id: str, caller: AgreementViewer,
                        engine: Engine) -> AgreementOut:
    """One agreement volume (institution × product × agreement year) with its progress."""
    async with engine.connect() as conn:
        return await _visible_agreement(conn, agreement_id, caller)


@router.get("/agreements/{agreement_id}/history", response_model=list[HistoryEntryOut])
async def agreement_history(agreement_id: str, caller: AgreementViewer,
                            engine: Engine) -> list[HistoryEntryOut]:
    """Every version of an agreement: who recorded it, when, why (R-AGR-9)."""
    async with engine.connect() as conn:
        await _visible_agreement(conn, agreement_id, caller)
        return _history(await history_of(conn, store.history, store.AGREEMENT, agreement_id))


@router.get("/progress", response_model=ProgressReport,
            responses={404: {"description": "no such program, or another institution"}})
async def progress(
    caller: Viewer, engine: Engine, clock: ClockDep, program_id: str,
    agreement_year: YearFilter = None,
    institution_id: str | None = None, region: str | None = None,
    enterprise_id: str | None = None,
) -> ProgressReport:
    """Progress per product, per enterprise and in total, with pacing warnings (R-AGR-3/6). An
    institution sees its own; a regulator one institution's, or the sum over the filters.
    The agreement year defaults to the one holding now. Not paged: one program's report,
    bounded by its winning products (tens) and their enterprises."""
    wanted: dict[str, str | None] = {"institution_id": institution_id}
    if not _narrowed(caller, OWN_INSTITUTION, wanted):
        raise not_found("institution", institution_id or "")
    institution_id = wanted["institution_id"]
    async with engine.connect() as conn:
        row = await store.get_program(conn, program_id)
        if row is None:
            raise program_unknown(program_id)
        program = Program.of(row)
        year = agreement_year or program.year_at(clock.now()) or 1
        program.year(year)
        warnings = await pacing.list_warnings(
            conn, institution_id=institution_id, program_id=program_id, agreement_year=year,
            region=region)
        return await agreements.progress_report(
            conn, program, year, institution_id=institution_id, region=region,
            enterprise_id=enterprise_id, warnings=warnings)


# --- renewals ---------------------------------------------------------------------------------


@router.post("/renewals", status_code=201, response_model=RenewalOut,
             responses={404: {"description": "no such program"},
                        409: {"description": "a renewal of the year is accepted, or last "
                                             "year's figures changed meanwhile"},
                        422: {"description": "refused (type renewal-refused): every failed "
                                             "threshold with numbers, and the stored renewal"}})
async def submit_renewal(body: RenewalIn, caller: Institution, uow: UoW, engine: Engine,
                         idem: IdempotencyRequired) -> JSONResponse:
    """Next agreement year's demand (R-AGR-2): accepted (201), or refused (422 problem naming
    every failed check with its numbers; stored, so a regulator may approve an exception)."""
    _own(caller, body.institution_id)
    async with engine.connect() as conn:
        program = await renewals.load_program(conn, body.program_id)
        preview = await renewals.assess(conn, program, body)
    ok = not preview.failures
    response = await idem.run(uow, caller.actor,
                              lambda u: renewals.submit(u, body, caller, ok),
                              status_code=201 if ok else 422)
    if response.status_code == 422:  # a refusal, its texts noted for i18n
        return renewals.refused_response(response)
    return response


@router.post("/renewals/{renewal_id}/exception", status_code=201, response_model=RenewalOut,
             responses={409: {"description": "the renewal is not a refused one"}})
async def approve_exception(renewal_id: str, body: ExceptionIn, caller: Regulator, uow: UoW,
                            idem: IdempotencyRequired) -> JSONResponse:
    """A regulator accepts a refused renewal as an exception, with a reason (R-AGR-2)."""
    return await idem.run(uow, caller.actor, lambda u: renewals.approve_exception(
        u, renewal_id, body.reason, caller))


@router.get("/renewals", response_model=RenewalsPage)
async def list_renewals(
    caller: Viewer, engine: Engine, program_id: str | None = None,
    agreement_year: YearFilter = None, institution_id: str | None = None,
    status: Annotated[str | None, Query(
        pattern="^(accepted|refused|accepted_with_exception)$")] = None,
    cursor: str | None = None, limit: Limit = 100,
) -> RenewalsPage:
    """Renewal requests the caller may see (R-AGR-2)."""
    wanted: dict[str, str | None] = {"institution_id": institution_id}
    if not _narrowed(caller, OWN_INSTITUTION, wanted):
        return RenewalsPage(items=[])
    institution_id = wanted["institution_id"]
    async with engine.connect() as conn:
        items = await renewals.list_renewals(
            conn, institution_id=institution_id, program_id=program_id,
            agreement_year=agreement_year, status=status, after=cursor, limit=limit + 1)
    return RenewalsPage(items=items[:limit], next_cursor=_cursor(items, limit, "renewal_id"))


async def _visible_renewal(conn: Any, renewal_id: str, caller: Principal) -> RenewalOut:
    row = (await conn.execute(store.renewals.select().where(
        store.renewals.c.renewal_id == renewal_id))).first()
    if row is None or any(getattr(row, column) != org
                          for column, org in caller.filters(OWN_INSTITUTION).items()):
        raise not_found("renewal", renewal_id)
    return renewals.renewal_out(row)


@router.get("/renewals/{renewal_id}", response_model=RenewalOut)
async def get_renewal(renewal_id: str, caller: Viewer, engine: Engine) -> RenewalOut:
    """One renewal request with its decision and the checks it failed (R-AGR-2)."""
    async with engine.connect() as conn:
        return await _visible_renewal(conn, renewal_id, caller)


@router.get("/renewals/{renewal_id}/history", response_model=list[HistoryEntryOut])
async def renewal_history(renewal_id: str, caller: Viewer,
                          engine: Engine) -> list[HistoryEntryOut]:
    """Every change of a renewal request: who, when, why."""
    async with engine.connect() as conn:
        await _visible_renewal(conn, renewal_id, caller)
        return _history(await history_of(conn, store.history, store.RENEWAL, renewal_id))


# --- orders -----------------------------------------------------------------------------------


@router.post("/orders", status_code=201, response_model=OrderOut)
async def place_order(body: OrderIn, caller: Institution, writes: Writes,
                      idem: IdempotencyRequired) -> JSONResponse:
    """A purchase order at exactly the listing price (R-CAT-5); send an Idempotency-Key.
    Orders placed at the same moment share a transaction, a context query and an insert
    (runtime/groupcommit.py), holding the institution's placement lock."""
    _own(caller, body.institution_id)
    return await writes.run_batched(idem, caller.actor, purchasing.place_orders, (body, caller),
                                    lock=purchasing.placement_lock(body.institution_id))


DIRECT = [DirectRoute("/v1/orders", place_order, OrderIn, frozenset(INSTITUTION_ONLY))]
"""Placing orders, the hot path (300/s), also served without FastAPI's per-request machinery
(runtime/direct.py): the same function, roles and checks."""


@router.get("/orders", response_model=OrdersPage)
async def list_orders(
    caller: AnyRole, engine: Engine, program_id: str | None = None,
    institution_id: str | None = None, enterprise_id: str | None = None,
    listing_id: str | None = None, status: OrderStatus | None = None,
    order_class: str | None = None, cursor: str | None = None, limit: Limit = 100,
) -> OrdersPage:
    """Orders, oldest first, each caller seeing only its own (``order_views.ORDER_VIEWERS``)."""
    filters = {"program_id": program_id, "institution_id": institution_id,
               "enterprise_id": enterprise_id, "listing_id": listing_id, "status": status,
               "order_class": order_class}
    for key, value in order_views.scope_filters(caller).items():
        if filters.get(key) not in (None, value):
            return OrdersPage(items=[])
    async with engine.connect() as conn:
        items = await order_views.list_orders(conn, caller, filters=filters, after=cursor,
                                             limit=limit + 1)
    return OrdersPage(items=items[:limit], next_cursor=_cursor(items, limit, "order_id"))


@router.get("/orders/{order_id}", response_model=OrderOut)
async def get_order(order_id: str, caller: AnyRole, engine: Engine) -> OrderOut:
    """One order with its status, class and quantities."""
    async with engine.connect() as conn:
        return await order_views.order_view(
            conn, await order_views.get_visible(conn, order_id, caller))


@router.get("/orders/{order_id}/history", response_model=list[HistoryEntryOut])
async def order_history(order_id: str, caller: AnyRole,
                        engine: Engine) -> list[HistoryEntryOut]:
    """Every change of the order: what, who, when, why (R-AGR-9)."""
    async with engine.connect() as conn:
        await order_views.get_visible(conn, order_id, caller)
        return _history(await history_of(conn, store.history, store.ORDER, order_id))


@router.post("/orders/{order_id}/cancel", response_model=OrderOut, responses=TRANSITION)
async def cancel_order(order_id: str, body: ReasonIn, caller: Institution, uow: UoW,
                       idem: IdempotencyRequired) -> JSONResponse:
    """Cancel before shipping (R-AGR-8)."""
    return await idem.run(uow, caller.actor,
                          lambda u: purchasing.cancel(u, order_id, body.reason, caller),
                          status_code=200)


@router.post("/orders/{order_id}/acceptance", response_model=OrderOut, responses=TRANSITION)
async def accept_order(order_id: str, body: AcceptanceIn, caller: Institution, uow: UoW,
                       idem: IdempotencyRequired) -> JSONResponse:
    """Accept a delivered order, fully or partly (R-AGR-8); starts the settlement clock."""
    return await idem.run(uow, caller.actor,
                          lambda u: purchasing.accept(u, order_id, body, caller),
                          status_code=200)


@router.post("/orders/{order_id}/rejection", response_model=OrderOut, responses=TRANSITION)
async def reject_order(order_id: str, body: ReasonIn, caller: Institution, uow: UoW,
                       idem: IdempotencyRequired) -> JSONResponse:
    """Reject a delivered order, with a reason (R-AGR-8)."""
    return await idem.run(uow, caller.actor,
                          lambda u: purchasing.reject(u, order_id, body.reason, caller),
                          status_code=200)


# --- pacing -----------------------------------------------------------------------------------


@router.get("/pacing-warnings", response_model=PacingWarningsPage)
async def list_pacing_warnings(
    caller: Viewer, engine: Engine, program_id: str | None = None,
    agreement_year: YearFilter = None, institution_id: str | None = None,
    registration_no: str | None = None, region: str | None = None,
    cursor: str | None = None, limit: Limit = 100,
) -> PacingWarningsPage:
    """Pacing warnings (R-AGR-6): an institution's own; all for regulators and operators."""
    wanted: dict[str, str | None] = {"institution_id": institution_id}
    if not _narrowed(caller, OWN_INSTITUTION, wanted):
        return PacingWarningsPage(items=[])
    institution_id = wanted["institution_id"]
    async with engine.connect() as conn:
        items = await pacing.list_warnings(
            conn, institution_id=institution_id, program_id=program_id,
            agreement_year=agreement_year, registration_no=registration_no, region=region,
            after=cursor, limit=limit + 1)
    return PacingWarningsPage(items=items[:limit],
                              next_cursor=_cursor(items, limit, "warning_id"))


@router.post("/pacing/evaluations", response_model=PacingEvaluationResult,
             responses={404: {"description": "no such program"}})
async def evaluate_pacing(body: PacingEvaluationIn, caller: Overseer,
                          uow: UoW) -> PacingEvaluationResult:
    """Judge the closed months of an agreement year (R-AGR-6; run monthly). Warnings already
    raised are not raised again."""
    async with uow:
        row = await store.get_program(uow.conn, body.program_id)
        if row is None:
            raise program_unknown(body.program_id)
        program = Program.of(row)
        year = body.agreement_year or program.year_at(uow.clock.now())
        if year is None:
            raise errors.NO_AGREEMENT_YEAR_NOW(text("name the agreement_year to evaluate"))
        program.year(year)
        result = await pacing.evaluate_closed_months(uow, program, year, caller)
        await uow.commit()
    return result

