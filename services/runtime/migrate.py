"""Alembic migrations per service, run at start (and by ``vbp migrate``).

Each service's ``migrations/env.py`` is two lines calling ``run_env``; the script location is
the service's ``migrations`` folder. On PostgreSQL an advisory lock keeps two instances of one
service from migrating at once.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import Connection, MetaData, text
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATION_LOCK = 0x5B_0B_0C_02


def alembic_config(script_location: Path, url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    return cfg


async def upgrade(engine: AsyncEngine, script_location: Path) -> None:
    """Bring the service's database to the newest revision."""

    def _run(sync_conn: Connection) -> None:
        if sync_conn.dialect.name == "postgresql":
            sync_conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
        cfg = alembic_config(script_location)
        cfg.attributes["connection"] = sync_conn
        command.upgrade(cfg, "head")

    async with engine.begin() as conn:
        await conn.run_sync(_run)


def run_env(*metadata: MetaData) -> None:
    """Body of a service's ``migrations/env.py``."""
    target = list(metadata)
    connection: Connection | None = context.config.attributes.get("connection")
    if connection is not None:
        _migrate(connection, target)
        return
    raise RuntimeError("run migrations with `vbp migrate SERVICE`")


def _migrate(connection: Connection, target: list[MetaData]) -> None:
    context.configure(
        connection=connection,
        target_metadata=target,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
