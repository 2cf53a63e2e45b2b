"""The programs the payments service knows (its read model of catalog's programs): region
(the paying agency's), execution start, cycle and the policy profile — which mode the program
runs in (R-PAY-5), its schedules (R-PAY-2/3), offsets (R-PAY-4) and deadlines (R-PAY-1)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.base import CloudEvent
from contracts.catalog import ProgramProfileChanged, ProgramPublished
from contracts.profiles import PolicyProfile
from services.payments import store
from services.runtime.clock import add_months
from services.runtime.db import UnitOfWork
from services.runtime.programs import keep_newer_profile, program_values

PROGRAMS = store.programs


@lru_cache(maxsize=256)
def parse_profile(profile_json: str) -> PolicyProfile:
    return PolicyProfile.model_validate_json(profile_json)


class ProgramUnknown(LookupError):
    """An event about a program not yet learnt from catalog: retried, then dead-lettered."""


@dataclass(frozen=True)
class Program:
    program_id: str
    region: str
    execution_start: datetime
    cycle_years: int
    profile: PolicyProfile | None

    @classmethod
    def of(cls, row: Any) -> Program:
        return cls(row.program_id, row.region, row.execution_start, row.cycle_years,
                   parse_profile(row.profile) if row.profile else None)

    @property
    def agency_id(self) -> str:
        """The paying agency (医保经办机构): one per region; its id is the region."""
        return self.region

    @property
    def direct_settlement(self) -> bool:
        """R-PAY-5: the fund pays enterprises directly; nothing is prepaid."""
        return self.profile is not None and self.profile.prepayment.mode == "direct_settlement"

    @property
    def cycle_end(self) -> datetime:
        return add_months(self.execution_start, 12 * self.cycle_years)


async def load(conn: AsyncConnection, program_id: str) -> Program:
    row = await store.get_program(conn, program_id)
    if row is None:
        raise ProgramUnknown(f"program {program_id!r} is not known to payments yet")
    return Program.of(row)


async def on_program_published(uow: UnitOfWork, event: ProgramPublished,
                               ce: CloudEvent) -> None:
    if await store.get_program(uow.conn, event.program_id) is not None:
        return
    await uow.conn.execute(PROGRAMS.insert().values(**program_values(event, uow.clock.now())))


async def on_profile_changed(uow: UnitOfWork, event: ProgramProfileChanged,
                             ce: CloudEvent) -> None:
    """A newer profile version replaces the one held; an older or replayed one changes
    nothing."""
    await keep_newer_profile(uow, PROGRAMS, event)
