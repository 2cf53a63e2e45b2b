"""Issue #13 item 3: orders' history table takes the runtime's shape (``subject_kind``,
``subject_id``) by migration ``orders_0006_history``, keeping every row recorded before it, on
PostgreSQL and on SQLite (``make run``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.orders import store
from services.orders.app import SPEC
from services.runtime.db import make_engine
from services.runtime.history import detail_of, history_of
from services.runtime.migrate import alembic_config, upgrade

pytestmark = pytest.mark.integration

AT = datetime(2023, 3, 15, 2, tzinfo=UTC)


@pytest.fixture(params=["postgresql", "sqlite"])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    if request.param == "postgresql":
        url = request.getfixturevalue("database_url")
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'orders.db'}"
    engine = make_engine(url)
    yield engine
    await engine.dispose()


async def migrate_to(engine: AsyncEngine, revision: str) -> None:
    def run(sync_conn: Connection) -> None:
        cfg = alembic_config(SPEC.migrations)
        cfg.attributes["connection"] = sync_conn
        command.upgrade(cfg, revision)

    async with engine.begin() as conn:
        await conn.run_sync(run)


async def test_the_rows_recorded_before_are_kept_in_the_new_shape(engine: AsyncEngine) -> None:
    await migrate_to(engine, "0005")
    old = [("order", "O-018c2f6a1b2c4f9e0a1b2c3d", "placed", '{"units":3}', "institution:H1/u"),
           ("agreement", "A-1", "recorded", '{"units":100}', "regulator:R/u"),
           ("order", "O-018c2f6a1b2c4f9e0a1b2c3d", "cancelled", '{"status":"cancelled"}',
            "institution:H1/u")]
    async with engine.begin() as conn:
        for kind, aggregate, change, detail, actor in old:
            await conn.execute(text(
                "INSERT INTO history (kind, aggregate_id, change, detail, actor, reason, at) "
                "VALUES (:kind, :aggregate, :change, :detail, :actor, 'why', :at)"),
                {"kind": kind, "aggregate": aggregate, "change": change, "detail": detail,
                 "actor": actor, "at": AT})
    await upgrade(engine, SPEC.migrations)
    async with engine.connect() as conn:
        order = await history_of(conn, store.history, store.ORDER, "O-018c2f6a1b2c4f9e0a1b2c3d")
        agreement = await history_of(conn, store.history, store.AGREEMENT, "A-1")
        total = await conn.scalar(text("SELECT count(*) FROM history"))
    assert total == 3
    assert [(r.change, detail_of(r), r.actor, r.reason) for r in order] == [
        ("placed", {"units": 3}, "institution:H1/u", "why"),
        ("cancelled", {"status": "cancelled"}, "institution:H1/u", "why")]
    assert [r.seq for r in order] == sorted(r.seq for r in order)
    assert [(r.subject_kind, r.subject_id, detail_of(r)) for r in agreement] == [
        ("agreement", "A-1", {"units": 100})]
    assert order[0].at == AT
