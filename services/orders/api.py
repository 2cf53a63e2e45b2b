"""Orders HTTP routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from contracts.catalog import ListingOut, ListingsPage
from services.orders import store
from services.runtime.app import Engine
from services.runtime.auth import ROLES, Principal, authorize

router = APIRouter(prefix="/v1", tags=["orders"])
AnyRole = Annotated[Principal, Depends(authorize(*ROLES))]  # type: ignore[arg-type]


@router.get("/listings", response_model=ListingsPage)
async def list_listings(
    caller: AnyRole,
    engine: Engine,
    program_id: str | None = None,
    enterprise_id: str | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ListingsPage:
    """Listed products that may be ordered (the orders service's read model of the catalog)."""
    async with engine.connect() as conn:
        rows = await store.search_listings(
            conn, program_id=program_id, enterprise_id=enterprise_id, after=cursor,
            limit=limit + 1,
        )
    items = [ListingOut.model_validate(row._asdict()) for row in rows[:limit]]
    next_cursor = items[-1].listing_id if len(rows) > limit else None
    return ListingsPage(items=items, next_cursor=next_cursor)
