"""Monthly monitoring (R-MON-1), annual assessment (R-MON-2) and completion risk: the
application layer over the read models.

A month's figures are computed from facts whose *event time* is before the month's end
(Shanghai), and from the agreement versions recorded before it: asking for a past month gives
the same figures however many later events arrived, and a late event lands in its own month.
Closing a month stores its digest and publishes ``MonthlyReportClosed``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import fields
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from pydantic import BaseModel
from sqlalchemy import (
    Numeric,
    Select,
    String,
    and_,
    case,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    text,
    tuple_,
    type_coerce,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.monitoring import MonthCloseIn, MonthlyReportClosed
from services.monitoring import errors, metrics, programs, store
from services.monitoring.domain import assessment as scoring
from services.monitoring.domain import reports as rules
from services.monitoring.domain import risk
from services.monitoring.domain.reports import Dimension, Figures, Grain, Month
from services.monitoring.programs import Program
from services.runtime.auth import Principal
from services.runtime.clock import add_months
from services.runtime.db import Fen, UnitOfWork, is_postgres
from services.runtime.idempotency import as_json

O, F, A = store.orders, store.facts, store.agreements  # noqa: E741
PAYMENT_FACTS = store.payment_facts
TICK = timedelta(microseconds=1)
REPORT_WORK_MEM = "64MB"


def _sum(cond: Any, value: Any) -> Any:
    return func.coalesce(func.sum(case((cond, value), else_=0)), 0)


MONEY = ("ordered_amount", "accepted_amount")
"""Figures in fen in SQL (``Fen``), Decimal yuan in ``Figures``."""
DECIMALS = frozenset((*MONEY, "expected_units"))


def _activity_figures(program: Program, month: Month, year: tuple[datetime, datetime] | None
                      ) -> tuple[dict[str, Any], datetime]:
    """The order figures of a grain as SQL sums over facts joined to their orders (money in
    fen), and the earliest event time they need."""
    in_month = F.c.at >= month.start
    ys = year[0] if year else month.start
    limit = program.profile.monitoring.late_delivery_hours * 3600
    whole = func.coalesce(F.c.units, O.c.units)
    kind = F.c.kind
    return {
        "orders_placed": _sum(and_(kind == "placed", in_month), 1),
        "ordered_units": _sum(and_(kind == "placed", in_month), F.c.units),
        "ordered_amount": type_coerce(_sum(and_(kind == "placed", in_month), F.c.amount),
                                      Fen()),
        "cancelled_units": _sum(and_(kind == "cancelled", in_month), whole),
        "accepted_units": _sum(and_(kind == "accepted", in_month), F.c.units),
        "accepted_amount": type_coerce(_sum(and_(kind == "accepted", in_month), F.c.amount),
                                       Fen()),
        "accepted_units_ytd": _sum(and_(kind == "accepted", F.c.at >= ys), F.c.units),
        "rejected_units": _sum(and_(kind == "rejected", in_month), whole),
        "orders_delivered": _sum(and_(kind == "delivered", in_month), 1),
        "delivery_seconds": _sum(and_(kind == "delivered", in_month), F.c.seconds),
        "late_deliveries": _sum(and_(kind == "delivered", in_month, F.c.seconds > limit), 1),
    }, min(ys, month.start)


def _activity_query(program: Program, month: Month, year: tuple[datetime, datetime] | None
                    ) -> Select[Any]:
    figures, since = _activity_figures(program, month, year)
    return (
        select(O.c.institution_id, O.c.enterprise_id, O.c.registration_no, F.c.distributor_id,
               *[expr.label(name) for name, expr in figures.items()])
        .select_from(F.join(O, O.c.order_id == F.c.order_id))
        .where(O.c.program_id == program.program_id, F.c.at < month.end, F.c.at >= since)
        .group_by(O.c.institution_id, O.c.enterprise_id, O.c.registration_no,
                  F.c.distributor_id)
    )


def _counted_query(program: Program, month: Month) -> Select[Any]:
    """The month's rows of ``month_activity`` (the counted facts summed), and for the accepted
    units of the agreement year so far the year's rows of the months before (figures as
    ``_activity_figures``; R-MON-1)."""
    rows = store.month_activity
    first = date(month.year, month.month, 1)
    number = program.year_number(month.end - TICK)
    this = rows.c.month == first
    year = rows.c.agreement_year == number
    figures: dict[str, Any] = {name: case((this, rows.c[name]), else_=0)
                               for name in ACTIVITY if name != "accepted_units_ytd"}
    figures["accepted_units_ytd"] = (case((year, rows.c.accepted_units), else_=0) if number
                                     else rows.c.accepted_units)
    wanted = or_(this, and_(year, rows.c.month < first)) if number else this
    return (select(rows.c.institution_id, rows.c.enterprise_id,
                   func.nullif(rows.c.distributor_id, "").label("distributor_id"),
                   *[figures[name].label(name) for name in ACTIVITY])
            .where(rows.c.program_id == program.program_id, wanted))


def _payments_query(program: Program, month: Month) -> Select[Any]:
    """The month's settlement and disbursement outcomes (R-PAY-1, R-PAY-7) by their event
    time, per institution and enterprise (an installment's: the institution's alone)."""
    kind = PAYMENT_FACTS.c.kind
    return (
        select(PAYMENT_FACTS.c.institution_id, PAYMENT_FACTS.c.enterprise_id,
               _sum(kind == "settled_on_time", 1).label("settlements_on_time"),
               _sum(kind == "settled_overdue", 1).label("settlements_overdue"),
               _sum(kind == "disbursed_on_time", 1).label("disbursements_on_time"),
               _sum(kind == "disbursed_late", 1).label("disbursements_late"))
        .where(PAYMENT_FACTS.c.program_id == program.program_id, PAYMENT_FACTS.c.at >= month.start,
               PAYMENT_FACTS.c.at < month.end)
        .group_by(PAYMENT_FACTS.c.institution_id, PAYMENT_FACTS.c.enterprise_id)
    )


def _figures(row: Any, names: Sequence[str]) -> Figures:
    """Figures from a row's columns of those names (in that order, at its end)."""
    values = tuple(row)[-len(names):]
    figures: dict[str, Any] = {name: Decimal(v or 0) if name in DECIMALS else int(v)
                               for name, v in zip(names, values, strict=True)}
    return Figures(**figures)


FIGURES = [f.name for f in fields(Figures)]
ACTIVITY = ["orders_placed", "ordered_units", "ordered_amount", "cancelled_units",
            "accepted_units", "accepted_amount", "accepted_units_ytd", "rejected_units",
            "orders_delivered", "delivery_seconds", "late_deliveries"]
PAYMENTS = ["settlements_on_time", "settlements_overdue", "disbursements_on_time",
            "disbursements_late"]


async def _activity(conn: AsyncConnection, program: Program, month: Month,
                    year: tuple[datetime, datetime] | None) -> list[Grain]:
    grains = [Grain(program.program_id, program.region, r.institution_id, r.enterprise_id,
                    r.registration_no, r.distributor_id, _figures(r, ACTIVITY))
              for r in await conn.execute(_activity_query(program, month, year))]
    return grains + await _payments(conn, program, month)


async def _payments(conn: AsyncConnection, program: Program, month: Month) -> list[Grain]:
    return [Grain(program.program_id, program.region, r.institution_id, r.enterprise_id, None,
                  None, _figures(r, PAYMENTS))
            for r in await conn.execute(_payments_query(program, month))]


async def agreements_as_of(conn: AsyncConnection, program: Program, at: datetime,
                           year: tuple[datetime, datetime]) -> list[Any]:
    """The program's agreements of the year, each at its newest version recorded before
    ``at`` (R-AGR-1: a later version does not rewrite a past month)."""
    return list((await conn.execute(_agreements_query(program, at, year))).all())


def _agreements_query(program: Program, at: datetime, year: tuple[datetime, datetime]
                      ) -> Select[Any]:
    latest = (select(A.c.agreement_id, func.max(A.c.version).label("version"))
              .where(A.c.program_id == program.program_id, A.c.year_start == year[0],
                     A.c.recorded_at < at)
              .group_by(A.c.agreement_id).subquery())
    return (select(A.c.institution_id, A.c.enterprise_id, A.c.registration_no, A.c.units)
            .join(latest, and_(A.c.agreement_id == latest.c.agreement_id,
                               A.c.version == latest.c.version)))


async def _scope(conn: AsyncConnection, region: str | None, program_id: str | None
                 ) -> list[Program]:
    scope = ([await programs.get(conn, program_id)] if program_id is not None
             else await programs.all_programs(conn, region))
    return [p for p in scope if region is None or p.region == region]


async def grains(conn: AsyncConnection, month: Month, *, region: str | None = None,
                 program_id: str | None = None) -> list[Grain]:
    """The month's grains for every program in scope (region, or one program)."""
    out: list[Grain] = []
    for program in await _scope(conn, region, program_id):
        year = program.agreement_year(month.end - TICK)
        out.extend(await _activity(conn, program, month, year))
        if year is None:
            continue
        share = rules.year_fraction(year[0], year[1], month.end)
        for a in await agreements_as_of(conn, program, month.end, year):
            out.append(Grain(program.program_id, program.region, a.institution_id,
                             a.enterprise_id, a.registration_no, None,
                             Figures(agreement_units=a.units,
                                     expected_units=Decimal(a.units) * share)))
    return out


async def rolled_up(conn: AsyncConnection, month: Month, *, region: str | None = None,
                    program_id: str | None = None,
                    dimensions: Sequence[Dimension] = rules.DIMENSIONS
                    ) -> dict[Dimension, dict[str, Figures]]:
    """The month's figures summed per key of each dimension (``rules.roll_up`` of
    ``grains``). On PostgreSQL in three statements, one per kind of grain (orders' activity,
    payments' outcomes, agreements): each kind's grains of every program in scope as one
    ``UNION ALL``, summed by ``GROUPING SETS`` (one per dimension) over its own figures only,
    so a region of thousands of institutions costs three aggregates, not a Python loop over
    its grains (nor one aggregate carrying every figure for every grain). Orders' activity is
    read from ``month_activity`` (the counted facts, already summed per month), plus the
    facts not counted yet."""
    if not is_postgres(conn):
        found = await grains(conn, month, region=region, program_id=program_id)
        return {d: rules.roll_up(found, d) for d in dimensions}
    activity: list[Select[Any]] = []
    payments: list[Select[Any]] = []
    agreed: list[Select[Any]] = []
    for program in await _scope(conn, region, program_id):
        year = program.agreement_year(month.end - TICK)
        ident = (literal(program.program_id, String).label("program_id"),
                 literal(program.region, String).label("region"))
        activity.append(_counted_query(program, month).add_columns(*ident))
        act = _activity_query(program, month, year).where(~F.c.counted).subquery()
        activity.append(select(act.c.institution_id, act.c.enterprise_id,
                               act.c.distributor_id, *[act.c[n] for n in ACTIVITY], *ident))
        pay = _payments_query(program, month).subquery()
        payments.append(select(pay.c.institution_id, pay.c.enterprise_id,
                               null().label("distributor_id"), *[pay.c[n] for n in PAYMENTS],
                               *ident))
        if year is None:
            continue
        share = rules.year_fraction(year[0], year[1], month.end)
        agr = _agreements_query(program, month.end, year).subquery()
        agreed.append(select(agr.c.institution_id, agr.c.enterprise_id,
                             null().label("distributor_id"),
                             agr.c.units.label("agreement_units"),
                             (agr.c.units * literal(share, Numeric)).label("expected_units"),
                             *ident))
    out: dict[Dimension, dict[str, Figures]] = {d: {} for d in dimensions}
    if not dimensions:
        return out
    # the grouping sets' hash tables of a region of thousands of institutions outgrow the
    # default 4 MB and spilled to disk (EXPLAIN ANALYZE: 5 batches); for this transaction only
    await conn.execute(text(f"SET LOCAL work_mem = '{REPORT_WORK_MEM}'"))
    for parts, names in ((activity, ACTIVITY), (payments, PAYMENTS),
                         (agreed, ["agreement_units", "expected_units"])):
        if parts:
            await _grouped(conn, parts, names, dimensions, out)
    return out


async def _grouped(conn: AsyncConnection, parts: Sequence[Select[Any]], names: Sequence[str],
                   dimensions: Sequence[Dimension], out: dict[Dimension, dict[str, Figures]]
                   ) -> None:
    """The figures ``names`` of the grains ``parts`` summed per key of each dimension (one
    ``GROUPING SETS`` statement), set into ``out``."""
    every = union_all(*parts).subquery()
    keys = {"institution": every.c.institution_id, "enterprise": every.c.enterprise_id,
            "distributor": every.c.distributor_id, "program": every.c.program_id,
            "region": every.c.region}
    query = (select(*[func.grouping(keys[d]).label(f"g_{d}") for d in dimensions],
                    *[keys[d].label(f"k_{d}") for d in dimensions],
                    *[type_coerce(func.sum(every.c[name]), Fen() if name in MONEY
                                  else Numeric()).label(name) for name in names])
             .group_by(func.grouping_sets(*[tuple_(keys[d]) for d in dimensions])))
    n = len(dimensions)
    for row in await conn.execute(query):
        for i, d in enumerate(dimensions):
            key = row[n + i]
            if row[i] == 0 and key is not None:  # no key: left out, as roll_up does
                figures = out[d].setdefault(key, Figures())
                for name, value in zip(names, tuple(row)[2 * n:], strict=True):
                    setattr(figures, name, Decimal(value or 0) if name in DECIMALS
                            else int(value or 0))
                break


class MonthReport(BaseModel):
    month: str
    region: str | None
    program_id: str | None
    as_of: datetime
    complete: bool
    """the month has ended (its figures no longer move, but for late events of the month)"""
    lines: list[dict[str, Any]]


async def month_report(conn: AsyncConnection, month: Month, now: datetime, *,
                       region: str | None = None, program_id: str | None = None,
                       dimensions: Sequence[Dimension] = rules.DIMENSIONS) -> MonthReport:
    found = await rolled_up(conn, month, region=region, program_id=program_id,
                            dimensions=dimensions)
    return MonthReport(month=str(month), region=region, program_id=program_id,
                       as_of=month.end, complete=month.end <= now,
                       lines=rules.lines(month, found, dimensions))


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return str(value)
    return value


def as_csv(report: MonthReport) -> bytes:
    """The report as CSV (UTF-8 with BOM, so spreadsheet programs read the Chinese headings)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([c.heading for c in rules.COLUMNS])
    for line in report.lines:
        writer.writerow([_cell(line[c.name]) for c in rules.COLUMNS])
    return ("\ufeff" + out.getvalue()).encode()


def as_xlsx(report: MonthReport) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet(f"{report.month} 监测")
    sheet.append([c.heading for c in rules.COLUMNS])
    for line in report.lines:
        sheet.append([_cell(line[c.name]) for c in rules.COLUMNS])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def digest(report: MonthReport) -> str:
    body = json.loads(as_json(report.lines))
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False)
                          .encode()).hexdigest()


async def close_month(uow: UnitOfWork, body: MonthCloseIn, caller: Principal
                      ) -> MonthlyReportClosed:
    """Close an ended month: its digest stored, ``MonthlyReportClosed`` published. Closing it
    again gives the first closing."""
    month = Month.parse(body.month)
    now = uow.clock.now()
    if month.end > now:
        raise errors.month_not_ended(str(month), month.end)
    report_id = f"{month}:{body.region or '*'}"
    closings = store.closings
    known = (await uow.conn.execute(
        select(closings).where(closings.c.report_id == report_id))).first()
    if known is not None:
        return MonthlyReportClosed(report_id=known.report_id, month=known.month,
                                   region=known.region, totals=known.totals, rows=known.rows,
                                   sha256=known.sha256, closed_by=known.closed_by,
                                   closed_at=known.closed_at)
    found = await rolled_up(uow.conn, month, region=body.region)
    report = MonthReport(month=str(month), region=body.region, program_id=None,
                         as_of=month.end, complete=True, lines=rules.lines(month, found))
    event = MonthlyReportClosed(report_id=report_id, month=str(month), region=body.region,
                                totals=rules.totals_of(found["region"].values()),
                                rows=len(report.lines),
                                sha256=digest(report), closed_by=caller.actor, closed_at=now)
    await uow.conn.execute(insert(closings).values(
        report_id=report_id, month=str(month), region=body.region, sha256=event.sha256,
        totals=event.totals, rows=event.rows, closed_by=caller.actor, closed_at=now))
    uow.record(event)
    return event


# --- annual assessment (R-MON-2) -----------------------------------------------------------------


class PartOut(BaseModel):
    name: str
    value: Decimal | None
    weight: Decimal
    applied_weight: Decimal
    points: Decimal
    explanation: str


class AssessmentOut(BaseModel):
    institution_id: str
    program_id: str
    agreement_year: int
    year_start: datetime
    year_end: datetime
    as_of: datetime
    score: Decimal | None
    parts: list[PartOut]


async def assess(conn: AsyncConnection, institution_id: str, program_id: str,
                 agreement_year: int, now: datetime) -> AssessmentOut:
    """The institution's assessment for an agreement year, as of its end (or now, while it
    runs): progress, pacing (months without a pacing warning), repayment (its settlements
    on time of those settled or overdue in the year)."""
    program = await programs.get(conn, program_id)
    if not 1 <= agreement_year <= program.cycle_years:
        raise errors.year_outside_cycle(agreement_year, program.cycle_years)
    year = (add_months(program.execution_start, 12 * (agreement_year - 1)),
            add_months(program.execution_start, 12 * agreement_year))
    at = min(now, year[1])
    agreed = sum(a.units for a in await agreements_as_of(conn, program, at, year)
                 if a.institution_id == institution_id)
    accepted = await conn.scalar(
        select(func.coalesce(func.sum(F.c.units), 0)).join(O, O.c.order_id == F.c.order_id)
        .where(O.c.program_id == program_id, O.c.institution_id == institution_id,
               F.c.kind == "accepted", F.c.at >= year[0], F.c.at < at))
    warnings = store.pacing_warnings
    warned = await conn.scalar(
        select(func.count(func.distinct(warnings.c.month))).where(
            warnings.c.program_id == program_id, warnings.c.institution_id == institution_id,
            warnings.c.agreement_year == agreement_year, warnings.c.raised_at < at))
    elapsed = _months_between(year[0], at)
    on_time, overdue = await _settlements(conn, institution_id, program_id, year[0], at)
    result = scoring.assess(program.profile.monitoring.assessment,
                            accepted_units=int(accepted or 0), agreement_units=agreed,
                            warned_months=int(warned or 0), elapsed_months=elapsed,
                            settlements_on_time=on_time, settlements_due=on_time + overdue)
    return AssessmentOut(
        institution_id=institution_id, program_id=program_id, agreement_year=agreement_year,
        year_start=year[0], year_end=year[1], as_of=at, score=result.score,
        parts=[PartOut(name=p.name, value=p.value, weight=p.weight,
                       applied_weight=p.applied_weight, points=p.points,
                       explanation=p.explanation) for p in result.parts])


async def _settlements(conn: AsyncConnection, institution_id: str, program_id: str,
                       start: datetime, at: datetime) -> tuple[int, int]:
    """R-PAY-1: the institution's own payables (not the fund's, R-PAY-5) settled on time and
    gone overdue in ``[start, at)``, by event time."""
    kind = PAYMENT_FACTS.c.kind
    row = (
        await conn.execute(
            select(_sum(kind == "settled_on_time", 1), _sum(kind == "settled_overdue", 1)).where(
                PAYMENT_FACTS.c.program_id == program_id,
                PAYMENT_FACTS.c.institution_id == institution_id,
                PAYMENT_FACTS.c.payer == "institution",
                PAYMENT_FACTS.c.at >= start,
                PAYMENT_FACTS.c.at < at,
            )
        )
    ).one()
    return int(row[0]), int(row[1])


def _months_between(start: datetime, at: datetime) -> int:
    """Whole agreement months (calendar months from the start, R-AGR-6) ended by ``at``."""
    months = 0
    while months < 12 and add_months(start, months + 1) <= at:
        months += 1
    return months


# --- completion risk ------------------------------------------------------------------------------


class RiskItemOut(BaseModel):
    institution_id: str
    registration_no: str
    enterprise_id: str
    agreement_units: int
    units_so_far: int
    projected_units: Decimal
    projected_progress: Decimal


class RiskListOut(BaseModel):
    program_id: str
    as_of: datetime
    threshold: Decimal
    year_start: datetime | None
    year_end: datetime | None
    pairs: int
    items: list[RiskItemOut]


async def completion_risks(conn: AsyncConnection, program_id: str, now: datetime
                           ) -> RiskListOut:
    """Every institution × product of the current agreement year projected below the
    profile's threshold (units ordered and not cancelled or rejected, over the share of the
    year elapsed); the gauge follows."""
    program = await programs.get(conn, program_id)
    threshold = program.profile.monitoring.completion_risk_threshold
    year = program.agreement_year(now)
    if year is None:
        return RiskListOut(program_id=program_id, as_of=now, threshold=threshold,
                           year_start=None, year_end=None, pairs=0, items=[])
    agreed: dict[tuple[str, str], tuple[int, str]] = {}
    for a in await agreements_as_of(conn, program, now + TICK, year):
        key = (a.institution_id, a.registration_no)
        units, _ = agreed.get(key, (0, a.enterprise_id))
        agreed[key] = (units + a.units, a.enterprise_id)
    dead = select(F.c.order_id).where(F.c.order_id == O.c.order_id,
                                      F.c.kind.in_(("cancelled", "rejected"))).exists()
    ordered = {(r.institution_id, r.registration_no): int(r.units) for r in await conn.execute(
        select(O.c.institution_id, O.c.registration_no, func.sum(O.c.units).label("units"))
        .where(O.c.program_id == program_id, O.c.placed_at >= year[0], O.c.placed_at <= now,
               ~dead)
        .group_by(O.c.institution_id, O.c.registration_no))}
    items = []
    for (inst, reg), (units, enterprise) in sorted(agreed.items()):
        so_far = ordered.get((inst, reg), 0)
        p = risk.project(units_so_far=so_far, agreement_units=units, year_start=year[0],
                         year_end=year[1], now=now, threshold=threshold)
        if p is not None and p.at_risk:
            items.append(RiskItemOut(institution_id=inst, registration_no=reg,
                                     enterprise_id=enterprise, agreement_units=units,
                                     units_so_far=so_far, projected_units=p.projected_units,
                                     projected_progress=p.projected_progress))
    metrics.set_completion_risk(program_id, len(items))
    return RiskListOut(program_id=program_id, as_of=now, threshold=threshold,
                       year_start=year[0], year_end=year[1], pairs=len(agreed), items=items)
