"""``Idempotency-Key`` for POSTs that create or move money or goods.

Policy (orders, supply): such a POST *requires* the key (``IdempotencyRequired``); without it
the request is refused before anything runs, 400 ``idempotency-key-required`` naming the
header. 400 and not 428: the IETF draft that defines the header
(draft-ietf-httpapi-idempotency-key-header, "Error Scenarios") says a request missing a
required key SHOULD be answered 400; 428 (RFC 6585) is for requests that must be made
conditional (``If-Match``), which a key does not make them. ``Idempotency`` (the key optional)
stays for services that have not adopted the policy.

The stored response is written in the same transaction as the state change, so a request
either happened with its response remembered, or did not happen at all. The same key with the
same body replays the first response; with a different body it is refused (422).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError

from services.runtime.db import UnitOfWork, idempotency_keys
from services.runtime.problems import Problem
from services.runtime.texts import text

HEADER = "Idempotency-Key"
saved = idempotency_keys.c
LOOKUP = select(saved.route, saved.request_hash, saved.status_code, saved.response).where(
    saved.principal == bindparam("principal"), saved.key == bindparam("key"))


class EncodedJSON(JSONResponse):
    """A JSON response whose body is already encoded text."""

    def render(self, content: Any) -> bytes:
        return content.encode() if isinstance(content, str) else super().render(content)


def as_json(result: Any) -> str:
    """A response body: models as their contract JSON (money "848.00"), anything else through
    FastAPI's encoder with Decimals kept exact (never floats)."""
    if isinstance(result, BaseModel):
        return result.model_dump_json()
    return json.dumps(jsonable_encoder(result, custom_encoder={Decimal: str}),
                      ensure_ascii=False)


@dataclass(frozen=True)
class IdempotentRequest:
    key: str | None
    route: str
    request_hash: str

    async def run(
        self,
        uow: UnitOfWork,
        principal: str,
        action: Callable[[UnitOfWork], Awaitable[Any]],
        *,
        status_code: int = 201,
    ) -> JSONResponse:
        """Run ``action`` in the unit of work once per key; replay its response after."""
        async with uow:
            replay = await self._stored(uow, principal)
            if replay is not None:
                return replay
            body = as_json(await action(uow))
            if self.key is not None:
                uow.remember([self.remembered(principal, status_code, body, uow.clock.now())])
            try:
                await uow.commit()
            except IntegrityError:
                if self.key is None:
                    raise
                await uow.rollback()  # a concurrent request with this key won: replay it
                replay = await self._stored(uow, principal)
                if replay is None:
                    raise
                return replay
        return EncodedJSON(body, status_code=status_code)

    async def _stored(self, uow: UnitOfWork, principal: str) -> JSONResponse | None:
        if self.key is None:
            return None
        row = (await uow.conn.execute(LOOKUP, {"principal": principal, "key": self.key})).first()
        return None if row is None else self.replay(row)

    def replay(self, stored: Any) -> JSONResponse:
        """The stored response of this key (a row of ``idempotency_keys``); 422 if the key was
        first used with another body or route."""
        if stored.request_hash != self.request_hash or stored.route != self.route:
            raise Problem(
                422, "idempotency-key-reused", "Idempotency-Key reused with a different request",
                text("key {key!r} was first used with another body or route; send this request "
                     "with a new Idempotency-Key (a key replays only the identical request)",
                     key=self.key),
            )
        return EncodedJSON(stored.response, status_code=stored.status_code,
                           headers={"Idempotent-Replayed": "true"})

    def remembered(self, principal: str, status_code: int, body: str, at: datetime
                   ) -> dict[str, Any]:
        """The ``idempotency_keys`` row that remembers this request's response."""
        return {"principal": principal, "key": self.key, "route": self.route,
                "request_hash": self.request_hash, "status_code": status_code,
                "response": body, "created_at": at}


async def idempotent_request(request: Request) -> IdempotentRequest:
    return idempotent(request.headers.get(HEADER), request.method, request.url.path,
                      await request.body())


async def required_idempotent_request(request: Request) -> IdempotentRequest:
    return required(request.headers.get(HEADER), request.method, request.url.path,
                    await request.body())


def key_required() -> Problem:
    """400 naming the missing header (see the module's policy)."""
    return Problem(400, "idempotency-key-required", "Idempotency-Key required",
                   text("send an '{header}' header (1 to 200 characters, e.g. a UUID): this "
                        "request creates or moves goods or money, and a retry with the same key "
                        "is answered with the first response instead of doing it twice",
                        header=HEADER),
                   errors=[{"field": f"header.{HEADER}", "message": text("required")}])


def required(key: str | None, method: str, path: str, body: bytes) -> IdempotentRequest:
    """``idempotent`` for a request that must carry a key (400 ``idempotency-key-required``)."""
    if key is None:
        raise key_required()
    return idempotent(key, method, path, body)


def idempotent(key: str | None, method: str, path: str, body: bytes) -> IdempotentRequest:
    """A request's key (400 unless 1 to 200 characters), route and body hash."""
    if key is not None and not (1 <= len(key) <= 200):
        raise Problem(400, "bad-idempotency-key", "Idempotency-Key must be 1 to 200 characters")
    return IdempotentRequest(key=key, route=f"{method} {path}",
                             request_hash=hashlib.sha256(body).hexdigest())


Idempotency = Annotated[IdempotentRequest, Depends(idempotent_request)]
"""The key optional: replayed when sent."""
IdempotencyRequired = Annotated[IdempotentRequest, Depends(required_idempotent_request)]
"""The key required (400 ``idempotency-key-required`` without it): every POST of orders and
supply that records something."""
