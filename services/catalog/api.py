"""Catalog HTTP routes: thin; the work is in handlers and domain."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from contracts.catalog import ListingOut, ProgramIn, ProgramOut, WinningProductsIn
from services.catalog import handlers, store
from services.catalog.importing import TableRejected, WinningRow, validate
from services.runtime.app import Engine, UoW
from services.runtime.auth import Principal, authorize
from services.runtime.idempotency import Idempotency
from services.runtime.problems import Problem, not_found

router = APIRouter(prefix="/v1", tags=["catalog"])
Regulator = Annotated[Principal, Depends(authorize("regulator"))]
Overseer = Annotated[Principal, Depends(authorize("regulator", "operator"))]
AnyRole = Annotated[
    Principal,
    Depends(authorize("regulator", "operator", "institution", "enterprise", "distributor")),
]


def table_problem(exc: TableRejected) -> Problem:
    return Problem(
        422,
        "table-rejected",
        "Table rejected, nothing imported",
        f"{len(exc.errors)} bad rows",
        errors=[{"row": e.row, "field": e.field, "reason": e.reason} for e in exc.errors],
    )


@router.post("/programs", status_code=201, response_model=ProgramOut)
async def publish_program(
    body: ProgramIn, caller: Regulator, uow: UoW, idem: Idempotency
) -> JSONResponse:
    return await idem.run(uow, caller.actor, lambda u: handlers.publish_program(u, body, caller))


@router.get("/programs/{program_id}", response_model=ProgramOut)
async def get_program(program_id: str, caller: AnyRole, engine: Engine) -> ProgramOut:
    async with engine.connect() as conn:
        row = await store.get_program(conn, program_id)
    if row is None:
        raise not_found("program", program_id)
    return ProgramOut.model_validate(row._asdict())


@router.post("/programs/{program_id}/winning-products", status_code=201)
async def import_winning_products(
    program_id: str, body: WinningProductsIn, caller: Overseer, uow: UoW, idem: Idempotency
) -> JSONResponse:
    rows = [WinningRow(**r.model_dump()) for r in body.rows]
    errors = validate(rows)
    if errors:
        raise table_problem(TableRejected(errors))
    return await idem.run(
        uow, caller.actor, lambda u: handlers.import_winning(u, program_id, rows, caller)
    )


def enterprise_scope(caller: Principal) -> str | None:
    """Enterprises see only their own products; everyone else sees every listing."""
    return caller.org if caller.role == "enterprise" else None


@router.get("/listings/{listing_id}", response_model=ListingOut)
async def get_listing(listing_id: str, caller: AnyRole, engine: Engine) -> ListingOut:
    async with engine.connect() as conn:
        row = await store.get_listing(conn, listing_id, enterprise_id=enterprise_scope(caller))
    if row is None:
        raise not_found("listing", listing_id)
    return ListingOut.model_validate(row._asdict())
