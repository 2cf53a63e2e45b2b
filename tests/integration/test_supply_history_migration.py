"""Supply's history table moves to the runtime's shape (revision supply_0006_history) without
losing a row: a database at revision 0005 with history in it is upgraded, and the rows read
back through the service's own history reader, on PostgreSQL and on SQLite."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.runtime.db import make_engine
from services.runtime.migrate import alembic_config
from services.supply import store, views
from services.supply.app import SPEC

pytestmark = pytest.mark.integration

AT = datetime(2026, 3, 2, 1, 2, 3, tzinfo=UTC)
OLD_ROWS = [
    ("distributor", "D-1", "registered", '{"name": "配送一", "qualified": true}', "op:1/a",
     "registered"),
    ("assignment", "A-1", "recorded", '{"scope": "region"}', "enterprise:E/a", "new"),
    ("distributor", "D-1", "barred", '{"bar_id": "BAR-1"}', "regulator:R/b", "违规"),
]


async def _migrate_to(engine: AsyncEngine, revision: str) -> None:
    def run(sync_conn: Connection) -> None:
        cfg = alembic_config(SPEC.migrations)
        cfg.attributes["connection"] = sync_conn
        command.upgrade(cfg, revision)

    async with engine.begin() as conn:
        await conn.run_sync(run)


async def _history_survives(engine: AsyncEngine) -> None:
    await _migrate_to(engine, "0005")
    async with engine.begin() as conn:
        for kind, ident, change, detail, actor, reason in OLD_ROWS:
            await conn.execute(text(
                "INSERT INTO history (subject_kind, subject_id, change, detail, actor, reason, at)"
                " VALUES (:kind, :ident, :change, :detail, :actor, :reason, :at)"),
                {"kind": kind, "ident": ident, "change": change, "detail": detail,
                 "actor": actor, "reason": reason, "at": AT})
    await _migrate_to(engine, "head")
    async with engine.begin() as conn:
        rows = (await conn.execute(
            text("SELECT seq, subject_kind, subject_id, change FROM history ORDER BY seq"))).all()
        assert [tuple(r)[1:] for r in rows] == [row[:3] for row in OLD_ROWS]
        assert [r.seq for r in rows] == sorted(r.seq for r in rows)
        distributor = await views.history(conn, "distributor", "D-1")
        assert [(h.change, h.detail, h.actor, h.reason, h.at) for h in distributor] == [
            ("registered", {"name": "配送一", "qualified": True}, "op:1/a", "registered", AT),
            ("barred", {"bar_id": "BAR-1"}, "regulator:R/b", "违规", AT)]
        # new rows go on after the old ones, and a subject id may now be 200 characters long
        await store.write_changes(conn, [("account", "I" * 200, "opened", {"note": None})],
                                  "institution:I/c", "opened", AT)
        added = await store.history_page(conn, "account", "I" * 200)
        assert len(added) == 1 and added[0].seq > rows[-1].seq


async def test_history_rows_survive_the_move_to_the_runtime_table_on_postgres(
        database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        await _history_survives(engine)
    finally:
        await engine.dispose()


async def test_history_rows_survive_the_move_to_the_runtime_table_on_sqlite(
        tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'supply.db'}")
    try:
        await _history_survives(engine)
    finally:
        await engine.dispose()
