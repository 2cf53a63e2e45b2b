"""The programs monitoring knows (read model of catalog's programs topic) and their profiles."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.profiles import PolicyProfile
from services.monitoring import errors, store
from services.runtime.clock import add_months

PROGRAMS = store.programs


@dataclass(frozen=True)
class Program:
    program_id: str
    category: str
    region: str
    execution_start: datetime
    cycle_years: int
    profile: PolicyProfile

    def agreement_year(self, at: datetime) -> tuple[datetime, datetime] | None:
        """R-PRG-2: the bounds of the agreement year holding ``at`` (None outside the cycle)."""
        return next(((start, end) for _, start, end in self.years() if start <= at < end),
                    None)

    def year_number(self, at: datetime) -> int:
        """The agreement year holding ``at``: 1, 2 … (0 outside the cycle)."""
        return next((n for n, start, end in self.years() if start <= at < end), 0)

    def years(self) -> list[tuple[int, datetime, datetime]]:
        """R-PRG-2: every agreement year of the cycle, numbered from 1, with its bounds."""
        return [(year + 1, add_months(self.execution_start, 12 * year),
                 add_months(self.execution_start, 12 * (year + 1)))
                for year in range(self.cycle_years)]


@lru_cache(maxsize=256)
def parse_profile(text: str) -> PolicyProfile:
    return PolicyProfile.model_validate_json(text)


def _program(row: object) -> Program | None:
    profile = getattr(row, "profile", None)
    if profile is None:
        return None
    return Program(program_id=row.program_id, category=row.category,  # type: ignore[attr-defined]
                   region=row.region, execution_start=row.execution_start,  # type: ignore[attr-defined]
                   cycle_years=row.cycle_years,  # type: ignore[attr-defined]
                   profile=parse_profile(profile))


async def find(conn: AsyncConnection, program_id: str) -> Program | None:
    """The program with its profile; None when monitoring has not seen it (or it has no
    profile: nothing to rate by)."""
    row = (await conn.execute(select(PROGRAMS).where(PROGRAMS.c.program_id == program_id))).first()
    return None if row is None else _program(row)


async def get(conn: AsyncConnection, program_id: str) -> Program:
    """``find``, refused (``unknown-program``) when there is no such program."""
    program = await find(conn, program_id)
    if program is None:
        raise errors.unknown_program(program_id)
    return program


async def all_programs(conn: AsyncConnection, region: str | None = None) -> list[Program]:
    query = select(PROGRAMS).order_by(PROGRAMS.c.program_id)
    if region is not None:
        query = query.where(PROGRAMS.c.region == region)
    rows = (await conn.execute(query)).all()
    return [p for p in (_program(r) for r in rows) if p is not None]
