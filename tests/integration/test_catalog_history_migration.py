"""Catalog's migration catalog_0006_history on the real PostgreSQL (and SQLite): the rows of
listing_history move to the runtime's history table, in order, and a listing's history reads the
same as before; downgrading moves them back (issue #13)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Connection, bindparam, text

from contracts.catalog import HistoryEntry
from services.catalog import store
from services.catalog.app import SPEC
from services.runtime.db import UTCDateTime, make_engine
from services.runtime.migrate import alembic_config

pytestmark = pytest.mark.integration

OLD_ROWS: list[dict[str, Any]] = [  # as the old code wrote them (json.dumps, default spacing)
    {"listing_id": "L-A", "version": 1, "change": "listed",
     "detail": json.dumps({"listing_id": "L-A", "listing_price": "100.00", "winning": True},
                          ensure_ascii=False),
     "actor": "regulator:BUREAU", "reason": "winning product imported",
     "at": datetime(2023, 1, 31, 1, 0, tzinfo=UTC)},
    {"listing_id": "L-B", "version": 1, "change": "listed",
     "detail": json.dumps({"listing_id": "L-B", "enterprise_name": "美敦力（上海）管理有限公司"},
                          ensure_ascii=False),
     "actor": "enterprise:E-1", "reason": "non-winning product listed",
     "at": datetime(2023, 2, 1, 2, 0, tzinfo=UTC)},
    {"listing_id": "L-A", "version": 2, "change": "corrected",
     "detail": json.dumps({"product_name": {"old": "支架", "new": "支架系统"}},
                          ensure_ascii=False),
     "actor": "regulator:BUREAU", "reason": "勘误", "at": datetime(2023, 2, 2, 3, 0, tzinfo=UTC)},
    {"listing_id": "L-A", "version": 3, "change": "suspended",
     "detail": json.dumps({"measure_id": "M-1"}), "actor": "credit:BUREAU",
     "reason": "credit measure", "at": datetime(2023, 3, 1, 4, 0, tzinfo=UTC)},
]


def _migrate(revision: str, *, down: bool = False) -> Any:
    def run(conn: Connection) -> None:
        cfg = alembic_config(SPEC.migrations)
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, revision)
    return run


def _expected(listing_id: str) -> list[HistoryEntry]:
    return [HistoryEntry(version=r["version"], change=r["change"],
                         detail=json.loads(r["detail"]), actor=r["actor"], reason=r["reason"],
                         at=r["at"])
            for r in OLD_ROWS if r["listing_id"] == listing_id]


async def _check_migration(url: str) -> None:
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_migrate("0005"))
            insert_old = text(
                "INSERT INTO listing_history (listing_id, version, change, detail, actor, "
                "reason, at) VALUES (:listing_id, :version, :change, :detail, :actor, "
                ":reason, :at)").bindparams(bindparam("at", type_=UTCDateTime()))
            for row in OLD_ROWS:
                await conn.execute(insert_old, row)
        async with engine.begin() as conn:
            await conn.run_sync(_migrate("head"))
        async with engine.connect() as conn:
            assert await store.listing_changes(conn, "L-A") == _expected("L-A")
            assert await store.listing_changes(conn, "L-B") == _expected("L-B")
            kinds = (await conn.execute(text("SELECT DISTINCT subject_kind FROM history"))).all()
            assert [k for (k,) in kinds] == ["listing"]
        async with engine.begin() as conn:
            await conn.run_sync(_migrate("0005", down=True))
        async with engine.connect() as conn:
            back = (await conn.execute(text(
                "SELECT listing_id, version, change, detail FROM listing_history ORDER BY id"
            ))).all()
        assert [(r[0], r[1], r[2], json.loads(r[3])) for r in back] == [
            (r["listing_id"], r["version"], r["change"], json.loads(r["detail"]))
            for r in OLD_ROWS]
    finally:
        await engine.dispose()


async def test_listing_history_moves_to_the_history_table_on_postgresql(
        database_url: str) -> None:
    await _check_migration(database_url)


async def test_listing_history_moves_to_the_history_table_on_sqlite(tmp_path: Path) -> None:
    await _check_migration(f"sqlite+aiosqlite:///{tmp_path / 'catalog.db'}")
