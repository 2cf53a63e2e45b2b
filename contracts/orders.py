"""Events and API models owned by the orders service."""

from __future__ import annotations

from pydantic import BaseModel

from contracts.catalog import ListingOut

AGREEMENTS_TOPIC = "vbp.orders.agreements.v1"
ORDERS_TOPIC = "vbp.orders.orders.v1"


class ListingPage(BaseModel):
    """``GET /v1/listings`` on orders: its read model of the catalog's listings."""

    items: list[ListingOut]
    next_cursor: str | None = None
