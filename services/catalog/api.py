"""Catalog HTTP routes: thin; the work is in handlers and domain."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from contracts.catalog import (
    HistoryEntry,
    ImportResult,
    ListingOut,
    ListingsPage,
    NonWinningListed,
    NonWinningListingIn,
    ObservationRecorded,
    PriceObservationIn,
    PriceObservationOut,
    ProfileChangeIn,
    ProgramIn,
    ProgramOut,
    WinningProductsIn,
)
from contracts.profiles import PolicyProfile
from services.catalog import handlers, importing, store
from services.catalog.importing import TableRejected, WinningRow
from services.catalog.presets import PRESETS
from services.runtime import jsonsql
from services.runtime.app import Engine, UoW
from services.runtime.auth import Principal, authorize
from services.runtime.db import analyze
from services.runtime.idempotency import Idempotency
from services.runtime.problems import Problem, not_found, validation_problem
from services.runtime.rows import as_problem_errors, plural

router = APIRouter(prefix="/v1", tags=["catalog"])
Regulator = Annotated[Principal, Depends(authorize("regulator"))]
Overseer = Annotated[Principal, Depends(authorize("regulator", "operator"))]
Lister = Annotated[Principal, Depends(authorize("enterprise", "operator", "regulator"))]
AnyRole = Annotated[Principal, Depends(authorize(
    "regulator", "operator", "institution", "enterprise", "distributor"))]
Limit = Annotated[int, Query(ge=1, le=500)]

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
WINNING_JSON = {**WinningProductsIn.model_json_schema(ref_template="#/components/schemas/{model}"),
                "description": "JSON {rows: [...]}"}
"""The JSON form of the winning-products table, for the OpenAPI document."""
TABLE_FORMATS = {
    "application/json": "JSON {rows: [...]}",
    "text/plain": "the notice's own text (its tab-separated attachment table)",
    "text/tab-separated-values": "the notice's attachment table",
    "text/csv": "CSV with the notice's or the English column names",
    XLSX: "XLSX, first sheet, same columns",
}


def enterprise_scope(caller: Principal) -> str | None:
    """Enterprises see only their own products; everyone else sees every listing."""
    return caller.org if caller.role == "enterprise" else None


def table_problem(exc: TableRejected) -> Problem:
    return Problem(
        422, "table-rejected", "Table rejected, nothing imported",
        plural(len(exc.errors), "problem"),
        errors=as_problem_errors(exc.errors),
    )


def read_table(content_type: str, body: bytes) -> importing.NoticeTable:
    """The winning-products table in any of the accepted formats (R-CAT-1), all or nothing;
    from the notice's text, with the lines skipped inside the table."""
    kind = content_type.split(";")[0].strip().lower()
    try:
        if kind == "application/json":
            try:
                parsed = WinningProductsIn.model_validate_json(body)
            except ValidationError as exc:
                raise validation_problem(exc.errors(), ("body",)) from exc
            rows = [WinningRow(**r.model_dump()) for r in parsed.rows]
            errors = importing.validate(rows)
            if errors:
                raise TableRejected(errors)
            return importing.NoticeTable(rows, [])
        if kind in ("text/plain", "text/tab-separated-values"):
            return importing.read_notice_text(body.decode("utf-8-sig"))
        if kind == "text/csv":
            return importing.NoticeTable(importing.parse_csv(body), [])
        if kind == XLSX:
            return importing.NoticeTable(importing.parse_xlsx(body), [])
    except UnicodeDecodeError as exc:
        raise Problem(422, "not-utf8", "Table is not UTF-8 text", str(exc)) from exc
    except TableRejected as exc:
        raise table_problem(exc) from exc
    raise Problem(415, "unsupported-media-type", "Unsupported table format",
                  f"Content-Type {kind!r}; send one of: {', '.join(TABLE_FORMATS)}")


# --- programs ----------------------------------------------------------------------------------


@router.get("/presets", response_model=dict[str, PolicyProfile])
async def presets(caller: AnyRole) -> dict[str, PolicyProfile]:
    """The policy profiles shipped with the platform (Chongqing stents 2023, Liaoning guide
    wires 2021)."""
    return PRESETS


@router.post("/programs", status_code=201, response_model=ProgramOut,
             responses={409: {"description": "a program with this id exists"}})
async def publish_program(
    body: ProgramIn, caller: Regulator, uow: UoW, idem: Idempotency
) -> JSONResponse:
    return await idem.run(uow, caller.actor,
                          lambda u: handlers.publish_program(u, body, caller))


@router.get("/programs", response_model=list[ProgramOut])
async def list_programs(caller: AnyRole, engine: Engine) -> list[ProgramOut]:
    async with engine.connect() as conn:
        return [handlers.program_out(row) for row in await store.list_programs(conn)]


@router.get("/programs/{program_id}", response_model=ProgramOut)
async def get_program(program_id: str, caller: AnyRole, engine: Engine) -> ProgramOut:
    async with engine.connect() as conn:
        row = await store.get_program(conn, program_id)
    if row is None:
        raise not_found("program", program_id)
    return handlers.program_out(row)


@router.post("/programs/{program_id}/profile", status_code=201, response_model=ProgramOut)
async def change_profile(program_id: str, body: ProfileChangeIn, caller: Regulator, uow: UoW,
                         idem: Idempotency) -> JSONResponse:
    """A new version of the program's policy profile."""
    return await idem.run(uow, caller.actor, lambda u: handlers.change_profile(
        u, program_id, body.profile, body.reason, caller))


@router.post(
    "/programs/{program_id}/winning-products", status_code=201, response_model=ImportResult,
    responses={409: {"description": "the table changes listed winning products: send "
                                    "'corrections_reason' to confirm (R-CAT-1)"},
               415: {"description": "not one of the table formats"},
               422: {"description": "the table is rejected, every bad row named; nothing is "
                                    "imported"}},
    openapi_extra={"requestBody": {"required": True, "content": {
        kind: {"schema": WINNING_JSON if kind == "application/json"
               else {"type": "string", "description": what}}
        for kind, what in TABLE_FORMATS.items()}}},
)
async def import_winning_products(
    program_id: str, request: Request, caller: Overseer, uow: UoW, idem: Idempotency,
    engine: Engine, corrections_reason: Annotated[str | None, Query(max_length=1000)] = None,
) -> JSONResponse:
    """Import the notice's winning products table: all or nothing, every bad row reported."""
    table = read_table(request.headers.get("content-type", ""), await request.body())
    response = await idem.run(uow, caller.actor, lambda u: handlers.import_winning(
        u, program_id, table.rows, caller, corrections_reason=corrections_reason,
        skipped=table.skipped))
    await analyze(engine, store.listings)
    return response


# --- listings ----------------------------------------------------------------------------------


@router.get("/listings", response_model=ListingsPage)
async def search_listings(
    caller: AnyRole, engine: Engine, program_id: str | None = None,
    category: str | None = None, enterprise_id: str | None = None,
    registration_no: str | None = None,
    q: Annotated[str | None, Query(max_length=100, description="in product/enterprise name")]
    = None,
    status: Annotated[str | None, Query(pattern="^(listed|suspended)$")] = None,
    winning: bool | None = None, cursor: str | None = None, limit: Limit = 50,
) -> Response:
    """Listed products, in a stable order (by id), paginated with ``next_cursor``."""
    scope = enterprise_scope(caller)
    if scope is not None and enterprise_id not in (None, scope):
        return Response(ListingsPage(items=[]).model_dump_json(), media_type="application/json")
    query, params = store.search_listings(
        program_id=program_id, category=category, enterprise_id=scope or enterprise_id,
        registration_no=registration_no, name=q, status=status, winning=winning, after=cursor)
    async with engine.connect() as conn:
        body = await jsonsql.page(conn, query, params, ListingOut, key="listing_id",
                                  limit=limit)
    return Response(body, media_type="application/json")


@router.get("/listings/{listing_id}", response_model=ListingOut)
async def get_listing(listing_id: str, caller: AnyRole, engine: Engine) -> ListingOut:
    async with engine.connect() as conn:
        row = await store.get_listing(conn, listing_id, enterprise_id=enterprise_scope(caller))
    if row is None:
        raise not_found("listing", listing_id)
    return ListingOut.model_validate(row._asdict())


@router.get("/listings/{listing_id}/history", response_model=list[HistoryEntry])
async def listing_history(listing_id: str, caller: AnyRole, engine: Engine) -> list[Any]:
    """Every change of a listing: version, what, who, when, why."""
    async with engine.connect() as conn:
        if await store.get_listing(conn, listing_id,
                                   enterprise_id=enterprise_scope(caller)) is None:
            raise not_found("listing", listing_id)
        rows = await store.history(conn, listing_id)
    return [HistoryEntry(version=r.version, change=r.change, detail=json.loads(r.detail),
                         actor=r.actor, reason=r.reason, at=r.at) for r in rows]


@router.post("/listings", status_code=201, response_model=NonWinningListed,
             responses={404: {"description": "no such program"},
                        409: {"description": "the product is listed in the program"}})
async def list_non_winning(body: NonWinningListingIn, caller: Lister, uow: UoW,
                           idem: Idempotency) -> JSONResponse:
    """List a non-winning product of the category at no more than the national lowest price."""
    return await idem.run(uow, caller.actor,
                          lambda u: handlers.list_non_winning(u, body, caller))


# --- price observations ------------------------------------------------------------------------


@router.post("/price-observations", status_code=201, response_model=ObservationRecorded)
async def record_observation(body: PriceObservationIn, caller: Overseer, uow: UoW,
                             idem: Idempotency) -> JSONResponse:
    """A price seen on a provincial platform (or a self-reported / filing price, which does not
    count toward the national lowest)."""
    return await idem.run(uow, caller.actor,
                          lambda u: handlers.record_observation(u, body, caller))


@router.get("/price-observations", response_model=list[PriceObservationOut])
async def list_observations(registration_no: str, caller: Overseer,
                            engine: Engine) -> list[PriceObservationOut]:
    async with engine.connect() as conn:
        rows = await store.observations(conn, registration_no)
    return [PriceObservationOut.model_validate(r._asdict()) for r in rows]

