"""Catalog HTTP routes: thin; the work is in the use-case modules (programs, listings,
observations) and the rules in domain/."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from contracts.catalog import (
    HistoryEntry,
    ImportResult,
    ListingOut,
    ListingsPage,
    NonWinningListed,
    NonWinningListingIn,
    ObservationRecorded,
    PriceObservationIn,
    PriceObservationsPage,
    ProfileChangeIn,
    ProgramIn,
    ProgramOut,
    WinningProductsIn,
)
from contracts.profiles import PolicyProfile
from services.catalog import listings, observations, programs, store
from services.catalog.listings import TABLE_FORMATS
from services.catalog.presets import PRESETS
from services.runtime.app import Engine, UoW
from services.runtime.auth import Overseer, Principal, Regulator, authorize
from services.runtime.db import analyze
from services.runtime.idempotency import Idempotency

router = APIRouter(prefix="/v1", tags=["catalog"])
Lister = Annotated[Principal, Depends(authorize("enterprise", "operator", "regulator"))]
Reader = Annotated[Principal, Depends(authorize(
    "regulator", "operator", "institution", "enterprise", "distributor"))]
"""Every role but the paying agency (which has nothing to read here)."""
Limit = Annotated[int, Query(ge=1, le=500)]

WINNING_JSON = {**WinningProductsIn.model_json_schema(ref_template="#/components/schemas/{model}"),
                "description": "JSON {rows: [...]}"}
"""The JSON form of the winning-products table, for the OpenAPI document."""


# --- programs ----------------------------------------------------------------------------------


@router.get("/presets", response_model=dict[str, PolicyProfile])
async def presets(caller: Reader) -> dict[str, PolicyProfile]:
    """The policy profiles shipped with the platform (Chongqing stents 2023, Liaoning guide
    wires 2021)."""
    return PRESETS


@router.post("/programs", status_code=201, response_model=ProgramOut,
             responses={409: {"description": "a program with this id exists"}})
async def publish_program(
    body: ProgramIn, caller: Regulator, uow: UoW, idem: Idempotency
) -> JSONResponse:
    """Publish a program (one procurement's results in a region) with its policy
    profile, given in full or by preset."""
    return await idem.run(uow, caller.actor,
                          lambda u: programs.publish_program(u, body, caller))


@router.get("/programs", response_model=list[ProgramOut])
async def list_programs(caller: Reader, engine: Engine) -> list[ProgramOut]:
    """Every published program with its current policy profile. Not paged: bounded by
    nature, as a region publishes a few procurement programs a year (tens over a decade)."""
    async with engine.connect() as conn:
        return await programs.list_programs(conn)


@router.get("/programs/{program_id}", response_model=ProgramOut)
async def get_program(program_id: str, caller: Reader, engine: Engine) -> ProgramOut:
    """One program with its current policy profile."""
    async with engine.connect() as conn:
        return await programs.get_program(conn, program_id)


@router.post("/programs/{program_id}/profile", status_code=201, response_model=ProgramOut)
async def change_profile(program_id: str, body: ProfileChangeIn, caller: Regulator, uow: UoW,
                         idem: Idempotency) -> JSONResponse:
    """A new version of the program's policy profile."""
    return await idem.run(uow, caller.actor, lambda u: programs.change_profile(
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
    table = listings.read_table(request.headers.get("content-type", ""), await request.body())
    response = await idem.run(uow, caller.actor, lambda u: listings.import_winning(
        u, program_id, table.rows, caller, corrections_reason=corrections_reason,
        skipped=table.skipped))
    await analyze(engine, store.listings)
    return response


# --- listings ----------------------------------------------------------------------------------


@router.get("/listings", response_model=ListingsPage)
async def search_listings(
    caller: Reader, engine: Engine, program_id: str | None = None,
    category: str | None = None, enterprise_id: str | None = None,
    registration_no: str | None = None,
    q: Annotated[str | None, Query(max_length=100, description="in product/enterprise name")]
    = None,
    status: Annotated[str | None, Query(pattern="^(listed|suspended)$")] = None,
    winning: bool | None = None, cursor: str | None = None, limit: Limit = 50,
) -> Response:
    """Listed products, in a stable order (by id), paginated with ``next_cursor``."""
    async with engine.connect() as conn:
        body = await listings.search_listings(
            conn, caller, program_id=program_id, category=category, enterprise_id=enterprise_id,
            registration_no=registration_no, name=q, status=status, winning=winning,
            cursor=cursor, limit=limit)
    return Response(body, media_type="application/json")


@router.get("/listings/{listing_id}", response_model=ListingOut)
async def get_listing(listing_id: str, caller: Reader, engine: Engine) -> ListingOut:
    """One listed product: price, status, payment standard."""
    async with engine.connect() as conn:
        return await listings.get_listing(conn, caller, listing_id)


@router.get("/listings/{listing_id}/history", response_model=list[HistoryEntry])
async def listing_history(listing_id: str, caller: Reader,
                          engine: Engine) -> list[HistoryEntry]:
    """Every change of a listing: version, what, who, when, why."""
    async with engine.connect() as conn:
        return await listings.listing_history(conn, caller, listing_id)


@router.post("/listings", status_code=201, response_model=NonWinningListed,
             responses={404: {"description": "no such program"},
                        409: {"description": "the product is listed in the program"}})
async def list_non_winning(body: NonWinningListingIn, caller: Lister, uow: UoW,
                           idem: Idempotency) -> JSONResponse:
    """List a non-winning product of the category at no more than the national lowest price."""
    return await idem.run(uow, caller.actor,
                          lambda u: listings.list_non_winning(u, body, caller))


# --- price observations ------------------------------------------------------------------------


@router.post("/price-observations", status_code=201, response_model=ObservationRecorded)
async def record_observation(body: PriceObservationIn, caller: Overseer, uow: UoW,
                             idem: Idempotency) -> JSONResponse:
    """A price seen on a provincial platform (or a self-reported / filing price, which does not
    count toward the national lowest)."""
    return await idem.run(uow, caller.actor,
                          lambda u: observations.record_observation(u, body, caller))


@router.get("/price-observations", response_model=PriceObservationsPage)
async def list_observations(registration_no: str, caller: Overseer, engine: Engine,
                            cursor: str | None = None,
                            limit: Limit = 100) -> PriceObservationsPage:
    """The prices observed for a product on provincial platforms, by the day observed
    (R-CAT-6): a page, ``next_cursor`` leading to the next."""
    async with engine.connect() as conn:
        return await observations.list_observations(conn, registration_no, cursor=cursor,
                                                    limit=limit)

