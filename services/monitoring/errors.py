"""The monitoring service's refusals, in one place: each a ``Refusal`` (status, stable slug,
title) that the rules and use cases raise with a detail (``texts.text``: a template and its
values) and the runtime renders as problem+json — the same shape as every other service. The
README's "Problem types" table lists exactly these (tests/unit/test_service_shape.py)."""

from __future__ import annotations

from datetime import datetime

from services.runtime.problems import Problem, Refusal
from services.runtime.texts import Text, text

UNKNOWN_LEVEL = Refusal(422, "unknown-level", "Level not in the program's credit scheme")
UNKNOWN_PROGRAM = Refusal(422, "unknown-program", "Program not known to monitoring")
RECORD_NOT_ACTIVE = Refusal(409, "record-not-active", "Credit record not active")
RECORD_NOT_PROPOSED = Refusal(409, "record-not-proposed", "Credit record is not a proposal")
REPAIR_PENDING = Refusal(409, "repair-pending", "A repair application is already pending")
REPAIR_NOT_PENDING = Refusal(409, "repair-not-pending", "No repair application pending")
REPAIR_TOO_EARLY = Refusal(409, "repair-too-early", "Minimum period before repair not over")
REPAIR_REAPPLY_TOO_SOON = Refusal(409, "repair-reapply-too-soon",
                                  "Too soon after a refused repair")
BAD_MONTH = Refusal(422, "bad-month", "Not a month that can be reported")


def _on_field(field: str, detail: Text) -> list[dict[str, str]]:
    return [{"field": field, "message": detail}]


def unknown_level(level: str, scheme: str, levels: str) -> Problem:
    """R-CRD-2: the scheme has no such level."""
    detail = text("level {level!r} is not in the {scheme} scheme: {levels}", level=level,
                  scheme=scheme, levels=levels)
    return UNKNOWN_LEVEL(detail, errors=_on_field("body.level", detail))


def unknown_program(program_id: str) -> Problem:
    detail = text("program {program!r} is not known to monitoring (yet), or was published "
                  "without a policy profile", program=program_id)
    return UNKNOWN_PROGRAM(detail, errors=_on_field("body.program_id", detail))


def record_not_proposed(record_id: str, status: str) -> Problem:
    return RECORD_NOT_PROPOSED(text("record {record} is {status}, not a proposal",
                                    record=record_id, status=status))


def record_not_repairable(status: str) -> Problem:
    """R-CRD-4: only an active record is repaired."""
    return RECORD_NOT_ACTIVE(text("the record is {status}: only an active record is repaired",
                                  status=status))


def record_not_active(status: str) -> Problem:
    return RECORD_NOT_ACTIVE(text("the record is {status}", status=status))


def repair_pending() -> Problem:
    return REPAIR_PENDING(text("a repair application for this record is already pending"))


def repair_not_pending() -> Problem:
    return REPAIR_NOT_PENDING(text("no repair application is pending for this record"))


def repair_reapply_too_soon(refused_at: datetime, again: datetime, days: int) -> Problem:
    return REPAIR_REAPPLY_TOO_SOON(text(
        "a repair was refused at {refused_at}: apply again from {again} (repair_reapply_days "
        "{days})", refused_at=refused_at.isoformat(), again=again.isoformat(), days=days))


def repair_too_early(level: str, earliest: datetime) -> Problem:
    return REPAIR_TOO_EARLY(text("level {level} can be repaired from {earliest} (minimum period "
                                 "from the profile)", level=level,
                                 earliest=earliest.isoformat()))


def not_a_month(given: str) -> Problem:
    detail = text("{month!r} is not a month (YYYY-MM)", month=given)
    return BAD_MONTH(detail, errors=_on_field("path.month", detail))


def month_not_ended(month: str, ends: datetime) -> Problem:
    detail = text("{month} has not ended yet (ends {ends})", month=month, ends=ends.isoformat())
    return BAD_MONTH(detail, errors=_on_field("body.month", detail))


def year_outside_cycle(agreement_year: int, cycle_years: int) -> Problem:
    detail = text("agreement year {year} is outside the program's {years}-year cycle",
                  year=agreement_year, years=cycle_years)
    return BAD_MONTH(detail, errors=_on_field("path.agreement_year", detail))
