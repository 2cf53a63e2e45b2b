"""The programs every consuming service keeps from catalog's topic (its own read model of
them: region, execution start, cycle, the policy profile), written the same way everywhere."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Table, update

from contracts.catalog import ProgramProfileChanged, ProgramPublished
from services.runtime.db import UnitOfWork


def program_values(event: ProgramPublished, at: datetime) -> dict[str, Any]:
    """A published program's row (a table may add columns of its own)."""
    profile = event.profile
    return {"program_id": event.program_id, "region": event.region,
            "execution_start": event.execution_start, "cycle_years": event.cycle_years,
            "profile": profile.model_dump_json() if profile is not None else None,
            "profile_version": profile.version if profile is not None else 1,
            "updated_at": at}


async def keep_newer_profile(uow: UnitOfWork, table: Table,
                             event: ProgramProfileChanged) -> None:
    """A newer profile version replaces the one held; an older or replayed one changes
    nothing."""
    await uow.conn.execute(
        update(table)
        .where(table.c.program_id == event.program_id, table.c.profile_version < event.version)
        .values(profile=event.profile.model_dump_json(), profile_version=event.version,
                updated_at=uow.clock.now()))
