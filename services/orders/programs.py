"""The programs the orders service knows (its read model of catalog's programs), and the
parts of their policy profiles it applies: renewal thresholds (R-AGR-2) and pacing (R-AGR-6)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from contracts.profiles import PacingPolicy, PolicyProfile, RenewalPolicy
from services.orders import domain
from services.runtime.problems import Problem, not_found


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
            raise Problem(422, "no-such-agreement-year", "No such agreement year",
                          f"program {self.program_id!r} has agreement years 1 to {len(years)} "
                          f"(R-PRG-2), not {index}")
        return years[index - 1]

    def year_at(self, instant: datetime) -> int | None:
        return domain.agreement_year_of(instant, self.execution_start, self.cycle_years)


def program_unknown(program_id: str) -> Problem:
    problem = not_found("program", program_id)
    problem.detail = (f"program {program_id!r} is not known to the orders service (yet): it "
                      "learns programs from catalog's events")
    return problem
