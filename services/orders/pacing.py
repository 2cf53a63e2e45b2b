"""Even pacing (R-AGR-6): monthly pacing warnings against the even line, once per institution,
product and month.

When it is judged:

* **on every order placement** (program profile with pacing enabled, a winning product with an
  agreement volume): the current agreement month as it stands with the new order, for what the
  month's end cannot undo: the month's units above ``monthly_multiple`` × annual / 12 (bunching,
  扎堆采购) and cumulative units further *ahead* of the month-end even line than the tolerance;
* **when months close**: ``POST /v1/pacing/evaluations`` (an operator's monthly job, or a
  regulator) judges every closed month of a program's agreement year fully, including being
  *behind* the line. "Closed" is by the injectable clock, so a year can be simulated.

A warning's id is derived from (program, year, institution, product, month), so it is raised
(stored, and ``PacingWarningRaised`` published) once, however often and by whichever path the
month is judged.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import func, select

from contracts.orders import PacingEvaluationResult, PacingWarningOut, PacingWarningRaised
from services.orders import domain, store
from services.orders.programs import Program
from services.runtime.auth import Principal
from services.runtime.db import UnitOfWork, insert_ignoring_duplicates

WARNINGS = store.pacing_warnings


async def raise_warning(
    uow: UnitOfWork, program_id: str, month: domain.AgreementMonth, *, institution_id: str,
    registration_no: str, annual_units: int, monthly_orders: list[int],
    found: list[domain.PacingWarning], raised_by: str,
) -> str | None:
    """Store and publish the month's warning unless it was raised before; its id if new."""
    if not found:
        return None
    warning_id = domain.pacing_warning_id(program_id, month.year, institution_id,
                                          registration_no, month.month)
    now = uow.clock.now()
    checks = sorted({w.check for w in found})
    values = {
        "warning_id": warning_id, "program_id": program_id,
        "agreement_year": month.year, "institution_id": institution_id,
        "registration_no": registration_no, "agreement_month": month.month,
        "month": month.calendar_month, "month_start": month.start, "month_end": month.end,
        "checks": ",".join(checks), "annual_units": annual_units,
        "ordered_units": monthly_orders[-1], "cumulative_units": sum(monthly_orders),
        "reason": "; ".join(w.reason for w in found), "raised_by": raised_by, "raised_at": now,
    }
    inserted = await uow.conn.scalar(
        insert_ignoring_duplicates(uow.conn, WARNINGS).values(values)
        .returning(WARNINGS.c.warning_id))
    if inserted is None:
        return None
    uow.record(PacingWarningRaised(
        warning_id=warning_id, program_id=program_id, agreement_year=month.year,
        institution_id=institution_id, registration_no=registration_no,
        month=month.calendar_month, reason=values["reason"], raised_at=now,
        agreement_month=month.month, month_start=month.start, month_end=month.end,
        checks=checks, annual_units=annual_units, ordered_units=values["ordered_units"],
        cumulative_units=values["cumulative_units"], raised_by=raised_by))
    return warning_id


async def evaluate_closed_months(uow: UnitOfWork, program: Program, year: int,
                                 caller: Principal) -> PacingEvaluationResult:
    """Judge every closed month of an agreement year, for every agreement with volume."""
    policy = program.pacing
    months = [m for m in domain.agreement_months(program.execution_start, year)
              if m.end <= uow.clock.now()]
    agreements = (await uow.conn.execute(
        select(store.agreements.c.institution_id, store.agreements.c.registration_no,
               store.agreements.c.units)
        .where(store.agreements.c.program_id == program.program_id,
               store.agreements.c.agreement_year == year, store.agreements.c.units > 0)
    )).all()
    raised: list[str] = []
    if policy is not None and months:
        ordered = store.ordered_units()
        orders = store.orders.c
        per: dict[tuple[str, str], dict[int, int]] = defaultdict(dict)
        for inst, reg, month, units in (await uow.conn.execute(
                select(orders.institution_id, orders.registration_no, orders.agreement_month,
                       func.sum(ordered))
                .where(orders.program_id == program.program_id, orders.agreement_year == year)
                .group_by(orders.institution_id, orders.registration_no,
                          orders.agreement_month))).all():
            per[(inst, reg)][int(month)] = int(units or 0)
        for a in agreements:
            counts = per.get((a.institution_id, a.registration_no), {})
            series = [counts.get(m.month, 0) for m in months]
            by_month: dict[int, list[domain.PacingWarning]] = defaultdict(list)
            for w in domain.pacing_warnings(a.units, series, policy):
                by_month[w.month].append(w)
            for index, found in sorted(by_month.items()):
                wid = await raise_warning(
                    uow, program.program_id, months[index - 1], institution_id=a.institution_id,
                    registration_no=a.registration_no, annual_units=a.units,
                    monthly_orders=series[:index], found=found, raised_by=caller.actor)
                if wid is not None:
                    raised.append(wid)
    return PacingEvaluationResult(
        program_id=program.program_id, agreement_year=year, closed_months=len(months),
        agreements=len(agreements), raised=len(raised), warning_ids=raised)


def warning_out(row: Any) -> PacingWarningOut:
    data = row._asdict()
    data["checks"] = [c for c in data["checks"].split(",") if c]
    return PacingWarningOut.model_validate(data)


async def list_warnings(conn: Any, *, institution_id: str | None, program_id: str | None,
                        agreement_year: int | None, registration_no: str | None = None,
                        region: str | None = None, after: str | None = None,
                        limit: int = 500) -> list[PacingWarningOut]:
    query = select(WARNINGS).order_by(WARNINGS.c.warning_id).limit(limit)
    for column, value in ((WARNINGS.c.institution_id, institution_id),
                          (WARNINGS.c.program_id, program_id),
                          (WARNINGS.c.agreement_year, agreement_year),
                          (WARNINGS.c.registration_no, registration_no)):
        if value is not None:
            query = query.where(column == value)
    if region is not None:
        query = query.where(WARNINGS.c.program_id.in_(
            select(store.programs.c.program_id).where(store.programs.c.region == region)))
    if after:
        query = query.where(WARNINGS.c.warning_id > after)
    return [warning_out(r) for r in (await conn.execute(query)).all()]
