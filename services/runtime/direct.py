"""Hot endpoints served without FastAPI's per-request machinery.

For each request FastAPI matches the routes one by one, builds a ``Request``, solves the
dependency graph (about 25 µs per node here), reads and validates the body and wraps the
endpoint in several layers. For placing orders that was about 600 µs of CPU per request on
the 2-core VM, against about 165 µs for uvicorn itself: a third of the service's CPU at 300
orders/s, and the time other requests wait for the process.

A ``DirectRoute`` names such an endpoint: a POST of a JSON body by one of some roles, with a
required Idempotency-Key (400 ``idempotency-key-required`` without one, as the FastAPI
route's ``IdempotencyRequired`` answers), answered by the *same* endpoint function FastAPI
routes to. ``serve`` (called by the service's request middleware, so request ids, trace
context, the body cap and the metrics apply as for any request) checks the token, the key
and the body with the functions the FastAPI dependencies use, and calls the endpoint. A
request it cannot take as it is (no bearer token, not ``application/json``, a body that is
not valid JSON or not a valid model) is handed to FastAPI unchanged, with its body, so every
refusal of a malformed request is FastAPI's own (RFC 9457 problems naming the field). The
route stays declared with FastAPI, which documents it in the OpenAPI schema and serves those
requests.

Because the direct path does by hand what the FastAPI route's dependencies do, a dependency
added to that route later (on the route, its router, an ``include_router`` or the app: a rate
limit, a feature flag, another check) would silently be skipped for the direct requests.
``check_twins`` is run at start-up (``runtime.app.create_app``): it refuses to start
(``DirectRouteMismatch``, naming it) when a direct route's FastAPI twin depends on anything
beyond what ``DirectRoutes`` does itself: the bearer token with the same roles
(``auth.authorize``), the required Idempotency-Key, the body model, and the plumbing that
hands it the group commit.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.security import HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from pydantic import BaseModel, ValidationError
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.runtime.auth import Principal, TokenVerifier, admit, authorize
from services.runtime.groupcommit import GroupCommit
from services.runtime.idempotency import (
    IdempotentRequest,
    required,
    required_idempotent_request,
)
from services.runtime.problems import Problem, problem_response

Endpoint = Callable[[Any, Principal, GroupCommit, IdempotentRequest], Awaitable[Response]]
"""``(body, caller, writes, idem)``: the FastAPI endpoint function itself."""


@dataclass(frozen=True)
class DirectRoute:
    path: str
    endpoint: Endpoint
    body: type[BaseModel]
    roles: frozenset[str]


class DirectRouteMismatch(RuntimeError):
    """A direct route whose FastAPI twin does something the direct path does not: the service
    must not start (its direct requests would skip it)."""


_AUTHORIZE = f"{authorize.__qualname__}.<locals>.dependency"


def _roles_of(call: Any) -> frozenset[str] | None:
    """The roles an ``auth.authorize(*roles)`` dependency admits; None for anything else."""
    if getattr(call, "__qualname__", None) != _AUTHORIZE:
        return None
    allowed = inspect.getclosurevars(call).nonlocals.get("allowed")
    return frozenset(allowed) if isinstance(allowed, frozenset) else None


def _name(call: Any) -> str:
    name = getattr(call, "__qualname__", None) or type(call).__qualname__
    module = getattr(call, "__module__", None)
    return f"{module}.{name}" if module else name


def _params(dependant: Dependant) -> Iterator[str]:
    for kind in ("path", "query", "header", "cookie"):
        for param in getattr(dependant, f"{kind}_params"):
            yield f"{kind} parameter {param.name!r}"


def _extras(dependant: Dependant, route: DirectRoute,
            plumbing: Collection[Callable[..., Any]]) -> Iterator[str]:
    """What resolving ``dependant`` does that the direct path does not."""
    yield from _params(dependant)
    for dep in dependant.dependencies:
        call = dep.call
        roles = _roles_of(call)
        if roles is not None:
            if roles != route.roles:
                yield (f"{_name(call)} for roles {', '.join(sorted(roles))} (the direct route "
                       f"admits {', '.join(sorted(route.roles))})")
        elif not (call is required_idempotent_request or isinstance(call, HTTPBearer)
                  or call in plumbing):
            yield _name(call)
            continue
        yield from _extras(dep, route, plumbing)


def check_twins(routes: Iterable[Any], direct: Sequence[DirectRoute], *,
                plumbing: Collection[Callable[..., Any]] = ()) -> None:
    """Refuse (``DirectRouteMismatch``) a direct route without a FastAPI twin (``POST`` of the
    same path answered by the same endpoint, with the same body model) or whose twin depends
    on anything the direct path does not do itself. ``routes``: the app's API routes with
    their effective paths and dependencies (``openapi.api_routes``); ``plumbing``: the
    dependencies that only hand the endpoint what ``DirectRoutes`` passes it (the group
    commit)."""
    if not direct:
        return
    twins = {route.path: route for route in routes
             if "POST" in (route.methods or ()) and route.path in {d.path for d in direct}}
    for route in direct:
        twin = twins.get(route.path)
        if twin is None or twin.endpoint is not route.endpoint:
            raise DirectRouteMismatch(
                f"direct route POST {route.path}: no FastAPI route POST {route.path} answered "
                f"by {_name(route.endpoint)}")
        dependant: Dependant = twin.dependant
        bodies = [param.field_info.annotation for param in dependant.body_params]
        if bodies != [route.body]:
            raise DirectRouteMismatch(
                f"direct route POST {route.path} reads a {route.body.__name__} body; its FastAPI "
                f"route reads {', '.join(getattr(b, '__name__', str(b)) for b in bodies)}")
        extras = list(_extras(dependant, route, plumbing))
        if extras:
            raise DirectRouteMismatch(
                f"direct route POST {route.path}: its FastAPI route also depends on "
                f"{'; '.join(extras)}, which the direct path does not do (services/runtime/"
                "direct.py): do it in DirectRoutes too, or serve the route through FastAPI only")


class DirectRoutes:
    """The direct routes of a service (POST only), by path."""

    def __init__(self, routes: Sequence[DirectRoute], verifier: TokenVerifier,
                 writes: GroupCommit) -> None:
        self._routes = {route.path: route for route in routes}
        self._verifier = verifier
        self._writes = writes

    def match(self, scope: Scope) -> DirectRoute | None:
        if scope["method"] != "POST" or not self._routes:
            return None
        return self._routes.get(scope["path"])

    async def serve(self, route: DirectRoute, headers: dict[str, str], scope: Scope,
                    receive: Receive, send: Send, fallback: ASGIApp) -> None:
        """Answer the request, or hand it to ``fallback`` (FastAPI) as it came."""
        body = await _read_body(receive)
        try:
            response = await self._answer(route, headers, body)
        except Problem as problem:
            response = problem_response(problem, instance=route.path)
        if response is None:
            await fallback(scope, _replay(body, receive), send)
            return
        await response(scope, receive, send)

    async def _answer(self, route: DirectRoute, headers: dict[str, str],
                      body: bytes) -> Response | None:
        token = _bearer_token(headers.get("authorization"))
        if token is None or not _is_json(headers.get("content-type")):
            return None
        try:
            model = route.body.model_validate(json.loads(body))
        except (ValueError, ValidationError):  # JSONDecodeError is a ValueError
            return None
        caller = await admit(self._verifier, token, route.roles)
        idem = required(headers.get("idempotency-key"), "POST", route.path, body)
        return await route.endpoint(model, caller, self._writes, idem)


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def _bearer_token(authorization: str | None) -> str | None:
    """The token of ``Authorization: Bearer <token>``, read as FastAPI's ``HTTPBearer`` does."""
    scheme, token = get_authorization_scheme_param(authorization)
    return token if scheme.lower() == "bearer" and token else None


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json"
