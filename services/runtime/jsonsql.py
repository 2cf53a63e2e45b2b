"""Pages of rows rendered as JSON by PostgreSQL itself, for the hot read paths.

Turning fifty rows into Python objects and back into JSON costs a service more than fetching
them; PostgreSQL writes the same JSON in C. ``page(conn, query, params, Model, key=..., limit=...)``
returns the response body ``{"items": [...], "next_cursor": ...}`` of a keyset-paginated query,
with every item in the response model's wire format: money (``Fen`` columns) as a two-place
decimal string, instants as ISO 8601 with their offset, everything else as PostgreSQL's JSON
of the column. On other databases (SQLite in ``make run``) the same body is
built through the model. ``tests/integration/test_jsonsql.py`` checks both give equal models.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from pydantic import BaseModel
from sqlalchemy import (
    BigInteger,
    Integer,
    Select,
    Text,
    bindparam,
    case,
    cast,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from services.runtime.db import Fen, is_postgres

PAGE_LIMIT = "page_limit"


def wire(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """A column as the contracts put it on the wire (integer arithmetic; ``to_char`` on
    numerics costs several times more)."""
    if isinstance(column.type, Fen):
        fen = func.abs(cast(column, BigInteger), type_=BigInteger)
        return (case((column < 0, "-"), else_="") + cast(fen // 100, Text) + "."
                + func.lpad(cast(fen % 100, Text), 2, "0"))
    return column  # instants: PostgreSQL's ISO 8601 with the offset, which JSON Schema's
    # date-time accepts; everything else: PostgreSQL's JSON of the column


def json_object(model: type[BaseModel], columns: Any) -> ColumnElement[Any]:
    """``json_build_object`` of a model's fields, each taken from the column of its name."""
    args: list[ColumnElement[Any]] = []
    for name in model.model_fields:
        if not name.isidentifier():  # the name is written into the SQL text
            raise ValueError(f"field name {name!r} cannot be a JSON key literal")
        args += [literal_column(f"'{name}'"), wire(columns[name])]
    return func.json_build_object(*args)


async def page(
    conn: AsyncConnection, query: Select[Any], params: Mapping[str, Any],
    model: type[BaseModel], *, key: str, limit: int,
) -> bytes:
    """One page of ``query`` (filtered with bound ``params``, ordered by ``key``, no limit) as
    the JSON body ``{"items": [...], "next_cursor": <key of the last item, or null>}``.

    Build ``query`` once per shape of filters (with ``bindparam``s) and reuse it: the page
    statement around it is built once per query and SQLAlchemy then compiles it once."""
    bound = {**params, PAGE_LIMIT: limit}
    if not is_postgres(conn):
        rows = (await conn.execute(_limited(query), bound)).all()
        items = [model.model_validate(row._asdict()) for row in rows[:limit]]
        body = "[" + ",".join(item.model_dump_json() for item in items) + "]"
        return _body(body, getattr(items[-1], key) if len(rows) > limit else None)
    body, fetched, last = (await conn.execute(_page_statement(query, model, key), bound)).one()
    return _body(body, last if fetched > limit else None)


@lru_cache(maxsize=256)
def _limited(query: Select[Any]) -> Select[Any]:
    return query.limit(bindparam(PAGE_LIMIT, type_=Integer) + 1)


@lru_cache(maxsize=256)
def _page_statement(query: Select[Any], model: type[BaseModel], key: str) -> Select[Any]:
    # LIMIT first, numbering after: a window over the filtered rows would make PostgreSQL
    # sort all of them instead of keeping the top few
    fetched = _limited(query).subquery()
    numbered = select(fetched, func.row_number().over(order_by=fetched.c[key]).label("_rn")
                      ).subquery()
    on_page = numbered.c._rn <= bindparam(PAGE_LIMIT, type_=Integer)
    items = func.json_agg(aggregate_order_by(json_object(model, numbered.c), numbered.c._rn))
    return select(
        cast(func.coalesce(items.filter(on_page), literal_column("'[]'::json")), Text),
        func.count(),
        func.max(numbered.c[key]).filter(on_page),
    )


def _body(items: str, next_cursor: str | None) -> bytes:
    cursor = json.dumps(next_cursor, ensure_ascii=False)
    return f'{{"items":{items},"next_cursor":{cursor}}}'.encode()
