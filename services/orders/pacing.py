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

from sqlalchemy import case, func, literal, select

from contracts.orders import PacingEvaluationResult, PacingWarningOut, PacingWarningRaised
from contracts.profiles import PacingPolicy
from services.orders import domain, store
from services.orders.programs import Program
from services.runtime.auth import Principal
from services.runtime.db import UnitOfWork

W = store.pacing_warnings
O = store.orders  # noqa: E741


async def raise_warning(
    uow: UnitOfWork, program: Program, month: domain.AgreementMonth, *, institution_id: str,
    registration_no: str, annual_units: int, monthly_orders: list[int],
    found: list[domain.PacingWarning], raised_by: str,
) -> str | None:
    """Store and publish the month's warning unless it was raised before; its id if new."""
    if not found:
        return None
    warning_id = domain.pacing_warning_id(program.program_id, month.year, institution_id,
                                          registration_no, month.month)
    now = uow.clock.now()
    checks = sorted({w.check for w in found})
    values = {
        "warning_id": warning_id, "program_id": program.program_id,
        "agreement_year": month.year, "institution_id": institution_id,
        "registration_no": registration_no, "agreement_month": month.month,
        "month": month.calendar_month, "month_start": month.start, "month_end": month.end,
        "checks": ",".join(checks), "annual_units": annual_units,
        "ordered_units": monthly_orders[-1], "cumulative_units": sum(monthly_orders),
        "reason": "; ".join(w.reason for w in found), "raised_by": raised_by, "raised_at": now,
    }
    inserted = await uow.conn.scalar(
        store.insert_ignoring_duplicates(uow.conn, W).values(values)
        .returning(W.c.warning_id))
    if inserted is None:
        return None
    uow.record(PacingWarningRaised(
        warning_id=warning_id, program_id=program.program_id, agreement_year=month.year,
        institution_id=institution_id, registration_no=registration_no,
        month=month.calendar_month, reason=values["reason"], raised_at=now,
        agreement_month=month.month, month_start=month.start, month_end=month.end,
        checks=checks, annual_units=annual_units, ordered_units=values["ordered_units"],
        cumulative_units=values["cumulative_units"], raised_by=raised_by))
    return warning_id


async def on_order_placed(
    uow: UnitOfWork, program: Program, policy: PacingPolicy, month: domain.AgreementMonth, *,
    institution_id: str, registration_no: str, annual_units: int, per_month: dict[int, int],
    order_id: str,
) -> str | None:
    """Judge the open month with the new order in it (``per_month`` includes it)."""
    monthly = [per_month.get(m, 0) for m in range(1, month.month + 1)]
    found = domain.month_pacing_warnings(annual_units, monthly, policy, month_closed=False)
    return await raise_warning(uow, program, month, institution_id=institution_id,
                               registration_no=registration_no, annual_units=annual_units,
                               monthly_orders=monthly, found=found, raised_by=f"order:{order_id}")


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
        ordered = case((O.c.status == "cancelled", literal(0)), else_=O.c.units)
        per: dict[tuple[str, str], dict[int, int]] = defaultdict(dict)
        for inst, reg, month, units in (await uow.conn.execute(
                select(O.c.institution_id, O.c.registration_no, O.c.agreement_month,
                       func.sum(ordered))
                .where(O.c.program_id == program.program_id, O.c.agreement_year == year)
                .group_by(O.c.institution_id, O.c.registration_no, O.c.agreement_month))).all():
            per[(inst, reg)][int(month)] = int(units or 0)
        for a in agreements:
            counts = per.get((a.institution_id, a.registration_no), {})
            series = [counts.get(m.month, 0) for m in months]
            by_month: dict[int, list[domain.PacingWarning]] = defaultdict(list)
            for w in domain.pacing_warnings(a.units, series, policy):
                by_month[w.month].append(w)
            for index, found in sorted(by_month.items()):
                wid = await raise_warning(
                    uow, program, months[index - 1], institution_id=a.institution_id,
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
    query = select(W).order_by(W.c.warning_id).limit(limit)
    for column, value in ((W.c.institution_id, institution_id), (W.c.program_id, program_id),
                          (W.c.agreement_year, agreement_year),
                          (W.c.registration_no, registration_no)):
        if value is not None:
            query = query.where(column == value)
    if region is not None:
        query = query.where(W.c.program_id.in_(
            select(store.programs.c.program_id).where(store.programs.c.region == region)))
    if after:
        query = query.where(W.c.warning_id > after)
    return [warning_out(r) for r in (await conn.execute(query)).all()]
