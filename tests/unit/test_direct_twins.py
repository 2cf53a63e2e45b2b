"""Issue #13 item 6: a direct route's FastAPI twin may depend on nothing the direct path does
not do itself (runtime/direct.py ``check_twins``, run by ``create_app``): a dependency added
later to the route, its router or the app refuses to start, naming it."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends, FastAPI, Query
from pydantic import BaseModel
from starlette.responses import JSONResponse, Response

from services.orders import api
from services.orders.app import SPEC
from services.runtime.app import Writes, create_app, get_runtime, get_writes
from services.runtime.auth import Principal, authorize
from services.runtime.direct import DirectRoute, DirectRouteMismatch, check_twins
from services.runtime.idempotency import IdempotencyRequired
from services.runtime.openapi import api_routes


class Thing(BaseModel):
    name: str


Caller = Annotated[Principal, Depends(authorize("institution"))]


async def make_thing(body: Thing, caller: Caller, writes: Writes,
                     idem: IdempotencyRequired) -> Response:
    return JSONResponse({"ok": body.name}, status_code=201)


async def rate_limit() -> None:
    """What someone might add to a router later."""


DIRECT = [DirectRoute("/v1/things", make_thing, Thing, frozenset({"institution"}))]


def app_with(router: APIRouter, **include: Any) -> FastAPI:
    app = FastAPI()
    app.include_router(router, **include)
    return app


def check(app: FastAPI, direct: list[DirectRoute] = DIRECT) -> None:
    check_twins(api_routes(app), direct, plumbing=(get_writes, get_runtime))


def router_for(endpoint: Any = make_thing, **kwargs: Any) -> APIRouter:
    router = APIRouter(prefix="/v1", **kwargs)
    router.post("/things", status_code=201)(endpoint)
    return router


def test_a_twin_doing_what_the_direct_path_does_starts() -> None:
    check(app_with(router_for()))


@pytest.mark.parametrize("where", ["router", "include", "app"])
def test_a_dependency_added_anywhere_refuses_to_start_naming_it(where: str) -> None:
    extra = [Depends(rate_limit)]
    if where == "router":
        app = app_with(router_for(dependencies=extra))
    elif where == "include":
        app = app_with(router_for(), dependencies=extra)
    else:
        app = FastAPI(dependencies=extra)
        app.include_router(router_for())
    with pytest.raises(DirectRouteMismatch, match="rate_limit"):
        check(app)


def test_other_roles_on_the_twin_refuse_to_start() -> None:
    async def wider(body: Thing, caller: Annotated[Principal, Depends(authorize(
            "institution", "regulator"))], writes: Writes,
                    idem: IdempotencyRequired) -> Response:
        return JSONResponse({}, status_code=201)

    direct = [DirectRoute("/v1/things", wider, Thing, frozenset({"institution"}))]
    with pytest.raises(DirectRouteMismatch, match="regulator"):
        check(app_with(router_for(wider)), direct)


def test_a_query_parameter_the_direct_path_does_not_read_refuses_to_start() -> None:
    async def with_query(body: Thing, caller: Caller, writes: Writes,
                         idem: IdempotencyRequired,
                         dry_run: Annotated[bool, Query()] = False) -> Response:
        return JSONResponse({}, status_code=201)

    direct = [DirectRoute("/v1/things", with_query, Thing, frozenset({"institution"}))]
    with pytest.raises(DirectRouteMismatch, match="dry_run"):
        check(app_with(router_for(with_query)), direct)


def test_a_direct_route_without_its_twin_refuses_to_start() -> None:
    with pytest.raises(DirectRouteMismatch, match="no FastAPI route"):
        check(FastAPI())


def test_orders_starts_and_refuses_once_a_router_level_dependency_is_added() -> None:
    """The real hot path: ``POST /v1/orders`` of the orders service."""
    create_app(SPEC)  # as it is: starts
    guarded = APIRouter(dependencies=[Depends(rate_limit)])
    guarded.include_router(api.router)
    with pytest.raises(DirectRouteMismatch, match=r"POST /v1/orders.*rate_limit"):
        create_app(dataclasses.replace(SPEC, routers=[guarded]))
