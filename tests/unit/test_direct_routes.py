"""Direct routes (runtime/direct.py): which requests they answer themselves, with what, and
which they hand to FastAPI unchanged."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, Field
from starlette.responses import JSONResponse, Response
from starlette.types import Message, Scope

from services.runtime.auth import Principal, TokenVerifier, mint_token
from services.runtime.direct import DirectRoute, DirectRoutes
from services.runtime.groupcommit import GroupCommit
from services.runtime.idempotency import IdempotentRequest

SECRET = "test-secret-of-sufficient-length-1234"


class Thing(BaseModel):
    name: str
    units: int = Field(ge=1)


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, Principal, IdempotentRequest]] = []
        self.handed_on: list[bytes] = []

    async def endpoint(self, body: Any, caller: Principal, writes: GroupCommit,
                       idem: IdempotentRequest) -> Response:
        self.calls.append((body, caller, idem))
        return JSONResponse({"ok": body.name}, status_code=201)

    async def fallback(self, scope: Scope, receive: Any, send: Any) -> None:
        message = await receive()
        self.handed_on.append(message["body"])
        await JSONResponse({"fastapi": True}, status_code=299)(scope, receive, send)


def token(role: str = "institution", org: str = "H1") -> str:
    return mint_token(SECRET, role=role, org=org)


async def post(body: bytes, headers: dict[str, str], *, chunks: int = 1,
               path: str = "/v1/things") -> tuple[Recorder, int, dict[str, str], Any]:
    rec = Recorder()
    routes = DirectRoutes([DirectRoute("/v1/things", rec.endpoint, Thing,
                                       frozenset({"institution"}))],
                          TokenVerifier(SECRET), writes=None)  # type: ignore[arg-type]
    scope: Scope = {"type": "http", "method": "POST", "path": path, "headers": [
        (k.lower().encode(), v.encode()) for k, v in headers.items()]}
    route = routes.match(scope)
    assert route is not None
    size = max(1, -(-len(body) // chunks))
    parts = [body[i:i + size] for i in range(0, len(body), size)] or [b""]
    incoming: list[Message] = [{"type": "http.request", "body": part,
                                "more_body": i < len(parts) - 1}
                               for i, part in enumerate(parts)]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await routes.serve(route, {k.lower(): v for k, v in headers.items()}, scope, receive, send,
                       rec.fallback)
    status = sent[0]["status"]
    response_headers = {k.decode(): v.decode() for k, v in sent[0]["headers"]}
    return rec, status, response_headers, json.loads(sent[1]["body"])


def test_only_post_to_a_declared_path_is_direct() -> None:
    routes = DirectRoutes([DirectRoute("/v1/things", Recorder().endpoint, Thing,
                                       frozenset({"institution"}))],
                          TokenVerifier(SECRET), writes=None)  # type: ignore[arg-type]
    assert routes.match({"method": "POST", "path": "/v1/things"}) is not None
    assert routes.match({"method": "GET", "path": "/v1/things"}) is None
    assert routes.match({"method": "POST", "path": "/v1/things/1"}) is None
    assert DirectRoutes([], TokenVerifier(SECRET), writes=None).match(  # type: ignore[arg-type]
        {"method": "POST", "path": "/v1/things"}) is None


async def test_a_well_formed_request_is_answered_by_the_endpoint_with_what_fastapi_gives() -> None:
    body = json.dumps({"name": "stent", "units": 3}).encode()
    rec, status, _, answer = await post(body, {
        "Authorization": f"Bearer  {token()} ", "Content-Type": "application/json; charset=utf-8",
        "Idempotency-Key": "k-1"}, chunks=3)
    assert (status, answer) == (201, {"ok": "stent"})
    assert rec.handed_on == []
    [(model, caller, idem)] = rec.calls
    assert model == Thing(name="stent", units=3)
    assert (caller.role, caller.org) == ("institution", "H1")
    assert idem == IdempotentRequest(key="k-1", route="POST /v1/things",
                                     request_hash=hashlib.sha256(body).hexdigest())


async def test_what_it_cannot_take_as_it_is_goes_to_fastapi_with_its_body() -> None:
    good = json.dumps({"name": "stent", "units": 3}).encode()
    auth = {"Authorization": f"Bearer {token()}"}
    json_type = {"Content-Type": "application/json"}
    for body, headers in (
        (good, json_type),                                           # no token
        (good, {"Authorization": "Basic abc", **json_type}),        # another scheme
        (good, {"Authorization": "Bearer ", **json_type}),          # an empty token
        (good, auth),                                                # no content type
        (good, {**auth, "Content-Type": "application/merge-patch+json"}),
        (good, {**auth, "Content-Type": "text/plain"}),
        (b'{"name": "stent", "units": ', {**auth, **json_type}),    # not JSON
        (b'{"name": "stent", "units": 0}', {**auth, **json_type}),  # not a valid Thing
        (b'[1, 2]', {**auth, **json_type}),
    ):
        rec, status, _, answer = await post(body, headers, chunks=2)
        assert (status, answer) == (299, {"fastapi": True}), (body, headers)
        assert rec.handed_on == [body]
        assert rec.calls == []


async def test_refusals_are_the_problems_fastapi_would_give() -> None:
    body = json.dumps({"name": "stent", "units": 3}).encode()
    json_type = {"Content-Type": "application/json"}
    rec, status, headers, problem = await post(body, {"Authorization": "Bearer not-a-token",
                                                      **json_type})
    assert (status, problem["type"], problem["instance"]) == (
        401, "urn:vbp:problem:unauthorized", "/v1/things")
    assert headers["www-authenticate"] == "Bearer"
    assert headers["content-type"] == "application/problem+json"
    rec, status, _, problem = await post(body, {"Authorization": f"Bearer {token('regulator')}",
                                                **json_type})
    assert (status, problem["type"]) == (403, "urn:vbp:problem:forbidden")
    rec, status, _, problem = await post(body, {"Authorization": f"Bearer {token()}",
                                                "Idempotency-Key": "k" * 201, **json_type})
    assert (status, problem["type"]) == (400, "urn:vbp:problem:bad-idempotency-key")
    assert rec.calls == [] and rec.handed_on == []


async def test_a_missing_idempotency_key_is_refused_as_fastapi_refuses_it() -> None:
    """Item 13: placing an order moves goods, so the direct path requires the key too (400
    naming the header, nothing run), as the FastAPI route's ``IdempotencyRequired`` does."""
    body = json.dumps({"name": "stent", "units": 3}).encode()
    rec, status, headers, problem = await post(body, {
        "Authorization": f"Bearer {token()}", "Content-Type": "application/json"})
    assert (status, problem["type"]) == (400, "urn:vbp:problem:idempotency-key-required")
    assert problem["errors"] == [{"field": "header.Idempotency-Key", "message": "required"}]
    assert headers["content-type"] == "application/problem+json"
    assert rec.calls == [] and rec.handed_on == []
