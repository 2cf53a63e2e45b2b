"""What callers see of orders: one order, a page of them, its history. Who sees which: an
institution its own, an enterprise those of its products, a distributor those routed to it;
regulators and operators all (another's order is not found)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from contracts.orders import OrderOut
from services.orders import store
from services.runtime.auth import Principal
from services.runtime.problems import not_found

ORDER_VIEWERS = {"institution": "institution_id", "enterprise": "enterprise_id",
                 "distributor": "distributor_id", "agency": "region"}
"""Per role, the column of an order that holds the caller's org (``Principal.filters``); a
paying agency's org is its region (it sees the orders of its region's institutions)."""
ORDERS = store.orders


def order_out(row: Any, names: dict[str, str] | None = None) -> OrderOut:
    """An order as answered; ``names`` (enterprise id → name) puts the enterprise's name
    beside its id (the views do; a command's answer carries the id alone)."""
    data = row._asdict()
    for name in ("agreement_month", "winning", "accepted_year"):
        data.pop(name, None)
    if names:
        data["enterprise_name"] = names.get(data["enterprise_id"])
    return OrderOut.model_validate(data)


async def order_view(conn: Any, row: Any) -> OrderOut:
    """One order for a reader, with its enterprise's name."""
    return order_out(row, await store.enterprise_names(conn, enterprise_ids=[row.enterprise_id]))


def scope_filters(caller: Principal) -> dict[str, str]:
    """The equality filters limiting the orders ``caller`` sees (column → org)."""
    return caller.filters(ORDER_VIEWERS)


async def get_visible(conn: Any, order_id: str, caller: Principal) -> Any:
    row = await store.get_order(conn, order_id)
    if row is None or any(getattr(row, k) != v for k, v in scope_filters(caller).items()):
        raise not_found("order", order_id)
    return row


async def list_orders(conn: Any, caller: Principal, *, filters: dict[str, Any],
                      after: str | None, limit: int) -> list[OrderOut]:
    query = select(ORDERS).order_by(ORDERS.c.order_id).limit(limit)
    for name, value in {**filters, **scope_filters(caller)}.items():
        if value is not None:
            query = query.where(ORDERS.c[name] == value)
    if after:
        query = query.where(ORDERS.c.order_id > after)
    rows = (await conn.execute(query)).all()
    names = await store.enterprise_names(conn, enterprise_ids=[r.enterprise_id for r in rows])
    return [order_out(r, names) for r in rows]
