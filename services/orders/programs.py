"""The programs the orders service knows (its read model of catalog's programs, kept by the
consumers below), and the parts of their policy profiles it applies: renewal thresholds
(R-AGR-2) and pacing (R-AGR-6)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from contracts.base import CloudEvent
from contracts.catalog import ProgramProfileChanged, ProgramPublished
from contracts.profiles import PacingPolicy, PolicyProfile, RenewalPolicy
from services.orders import domain, errors, store
from services.runtime.db import UnitOfWork
from services.runtime.programs import keep_newer_profile, program_values


@lru_cache(maxsize=256)
def parse_profile(profile_json: str) -> PolicyProfile:
    """A profile from its stored JSON (cached: the same version is read on every order)."""
    return PolicyProfile.model_validate_json(profile_json)


@dataclass(frozen=True)
class Program:
    program_id: str
    category: str
    region: str
    execution_start: datetime
    cycle_years: int
    profile: PolicyProfile | None
    profile_version: int

    @classmethod
    def of(cls, row: Any) -> Program:
        return cls(program_id=row.program_id, category=row.category, region=row.region,
                   execution_start=row.execution_start, cycle_years=row.cycle_years,
                   profile=parse_profile(row.profile) if row.profile else None,
                   profile_version=row.profile_version)

    @property
    def renewal(self) -> RenewalPolicy:
        """R-AGR-2 thresholds; a program published without a profile has none."""
        return self.profile.renewal if self.profile is not None else RenewalPolicy()

    @property
    def pacing(self) -> PacingPolicy | None:
        """R-AGR-6 policy when the profile monitors pacing, else None."""
        if self.profile is None or not self.profile.pacing.enabled:
            return None
        return self.profile.pacing

    def year(self, index: int) -> domain.AgreementYear:
        years = domain.agreement_years(self.execution_start, self.cycle_years)
        if not 1 <= index <= len(years):
            raise errors.no_such_agreement_year(self.program_id, len(years), index)
        return years[index - 1]

    def year_at(self, instant: datetime) -> int | None:
        return domain.agreement_year_of(instant, self.execution_start, self.cycle_years)


async def on_program_published(uow: UnitOfWork, event: ProgramPublished,
                               ce: CloudEvent) -> None:
    """Keep the programs the orders service needs: region, execution start, cycle, profile."""
    if await store.get_program(uow.conn, event.program_id) is not None:
        return
    await uow.conn.execute(store.programs.insert().values(
        **program_values(event, uow.clock.now()), category=event.category))


async def on_profile_changed(uow: UnitOfWork, event: ProgramProfileChanged,
                             ce: CloudEvent) -> None:
    """A newer profile version replaces the one held (an older or replayed one changes
    nothing)."""
    await keep_newer_profile(uow, store.programs, event)
