"""``Idempotency-Key`` for POSTs that create or move money or goods.

The stored response is written in the same transaction as the state change, so a request
either happened with its response remembered, or did not happen at all. The same key with the
same body replays the first response; with a different body it is refused (422).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from services.runtime.db import UnitOfWork, idempotency_keys
from services.runtime.problems import Problem

HEADER = "Idempotency-Key"


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
            # Decimals stay exact (never floats); models serialise money as "848.00"
            body = jsonable_encoder(await action(uow), custom_encoder={Decimal: str})
            if self.key is not None:
                await uow.conn.execute(
                    insert(idempotency_keys).values(
                        principal=principal, key=self.key, route=self.route,
                        request_hash=self.request_hash, status_code=status_code,
                        response=json.dumps(body, ensure_ascii=False),
                        created_at=uow.clock.now(),
                    )
                )
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
        return JSONResponse(body, status_code=status_code)

    async def _stored(self, uow: UnitOfWork, principal: str) -> JSONResponse | None:
        if self.key is None:
            return None
        row = (
            await uow.conn.execute(
                select(idempotency_keys).where(
                    idempotency_keys.c.principal == principal, idempotency_keys.c.key == self.key
                )
            )
        ).first()
        if row is None:
            return None
        if row.request_hash != self.request_hash or row.route != self.route:
            raise Problem(
                422, "idempotency-key-reused", "Idempotency-Key reused with a different request",
                f"key {self.key!r} was first used with another body or route",
            )
        return JSONResponse(
            json.loads(row.response), status_code=row.status_code,
            headers={"Idempotent-Replayed": "true"},
        )


async def idempotent_request(request: Request) -> IdempotentRequest:
    key = request.headers.get(HEADER)
    if key is not None and not (1 <= len(key) <= 200):
        raise Problem(400, "bad-idempotency-key", "Idempotency-Key must be 1 to 200 characters")
    body = await request.body()
    digest = hashlib.sha256(body).hexdigest()
    route = f"{request.method} {request.url.path}"
    return IdempotentRequest(key=key, route=route, request_hash=digest)


Idempotency = Annotated[IdempotentRequest, Depends(idempotent_request)]
