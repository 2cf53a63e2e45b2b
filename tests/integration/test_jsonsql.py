"""PostgreSQL's JSON rendering of a page (services/runtime/jsonsql.py) equals the contract
models' rendering of the same rows (the path SQLite takes), on the real PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy import Boolean, Column, Integer, String, Table, Text, bindparam, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.money import Money
from services.runtime import jsonsql
from services.runtime.db import Fen, UTCDateTime, make_engine, new_metadata

pytestmark = pytest.mark.integration

metadata = new_metadata()
things = Table(
    "things", metadata,
    Column("thing_id", String(20), primary_key=True),
    Column("name", Text, nullable=False),
    Column("price", Fen(), nullable=False),
    Column("cap", Fen()),
    Column("active", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("not_in_model", Text),
)


class ThingOut(BaseModel):
    thing_id: str
    name: str
    price: Money
    cap: Money | None = None
    active: bool
    version: int
    at: datetime


class ThingsPage(BaseModel):
    items: list[ThingOut]
    next_cursor: str | None = None


Engines = tuple[AsyncEngine, AsyncEngine]
SHANGHAI = timezone(timedelta(hours=8))
ROWS: list[dict[str, Any]] = [
    {"thing_id": "t01", "name": "雷帕霉素 \"洗脱\" 支架\\系统", "price": Decimal("848.00"),
     "cap": None, "active": True, "version": 1,
     "at": datetime(2023, 1, 31, 0, 0, tzinfo=SHANGHAI)},
    {"thing_id": "t02", "name": "0.01", "price": Decimal("0.01"), "cap": Decimal("720.00"),
     "active": False, "version": 2, "at": datetime(2026, 11, 24, 9, 30, 5, 123456, tzinfo=UTC)},
    {"thing_id": "t03", "name": "负数", "price": Decimal("-12.30"), "cap": Decimal("0.00"),
     "active": True, "version": 3, "at": datetime(2024, 2, 29, 23, 59, 59, 1, tzinfo=UTC)},
    {"thing_id": "t04", "name": "big", "price": Decimal("123456789012.34"),
     "cap": Decimal("99999.99"), "active": True, "version": 10_000,
     "at": datetime(2025, 12, 31, 16, 0, tzinfo=UTC)},
]


@pytest.fixture
async def engines(database_url: str, tmp_path: Path) -> AsyncIterator[Engines]:
    """The same rows in PostgreSQL and in SQLite."""
    engines = make_engine(database_url), make_engine(f"sqlite+aiosqlite:///{tmp_path}/t.db")
    for engine in engines:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
            await conn.execute(insert(things), [{**r, "not_in_model": "x"} for r in ROWS])
    yield engines
    for engine in engines:
        await engine.dispose()


async def both(engines: Engines, limit: int, after: str | None = None,
               active: bool | None = None) -> tuple[bytes, bytes]:
    query = select(things).order_by(things.c.thing_id)
    params: dict[str, Any] = {}
    if after is not None:
        query = query.where(things.c.thing_id > bindparam("after"))
        params["after"] = after
    if active is not None:
        query = query.where(things.c.active == bindparam("active"))
        params["active"] = active
    engine, sqlite = engines
    async with engine.connect() as conn:
        fast = await jsonsql.page(conn, query, params, ThingOut, key="thing_id", limit=limit)
    async with sqlite.connect() as conn:  # the same rows through the models
        slow = await jsonsql.page(conn, query, params, ThingOut, key="thing_id", limit=limit)
    return fast, slow


async def test_postgres_json_equals_the_models_json_for_every_wire_type(
        engines: Engines) -> None:
    fast, slow = await both(engines, limit=10)
    assert ThingsPage.model_validate_json(fast) == ThingsPage.model_validate_json(slow)
    items = json.loads(fast)["items"]
    assert [i["price"] for i in items] == ["848.00", "0.01", "-12.30", "123456789012.34"]
    assert [i["cap"] for i in items] == [None, "720.00", "0.00", "99999.99"]
    assert datetime.fromisoformat(items[0]["at"]) == ROWS[0]["at"]
    assert datetime.fromisoformat(items[1]["at"]) == ROWS[1]["at"]
    assert items[0]["name"] == ROWS[0]["name"]
    assert "not_in_model" not in items[0]
    assert json.loads(fast)["next_cursor"] is None


async def test_pages_follow_the_keyset_cursor_to_the_end(engines: Engines) -> None:
    seen: list[str] = []
    after = None
    while True:
        fast, slow = await both(engines, limit=3, after=after)
        page = ThingsPage.model_validate_json(fast)
        assert page == ThingsPage.model_validate_json(slow)
        seen += [i.thing_id for i in page.items]
        if page.next_cursor is None:
            break
        assert page.next_cursor == page.items[-1].thing_id
        after = page.next_cursor
    assert seen == ["t01", "t02", "t03", "t04"]


async def test_an_exactly_full_page_has_no_next_cursor_and_an_empty_one_no_items(
        engines: Engines) -> None:
    fast, slow = await both(engines, limit=4)
    assert json.loads(fast)["next_cursor"] is None and len(json.loads(fast)["items"]) == 4
    fast, slow = await both(engines, limit=4, after="t04")
    assert json.loads(fast) == json.loads(slow) == {"items": [], "next_cursor": None}
    fast, _ = await both(engines, limit=1, active=False)
    assert [i["thing_id"] for i in json.loads(fast)["items"]] == ["t02"]
