"""Who sees what (read side): institutions what they owe and their prepayment balances and
schedules; enterprises what they are owed, by institution and age; agencies what they must
disburse or pay and what is overdue; regulators and operators everything, filtered by program
and region. Another organisation's rows are simply not there (404 for one object). Lists are
paginated (keyset cursors) and exportable as CSV and XLSX."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import and_, func, literal, or_, select, tuple_, type_coerce
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.payments import AgeingRow, BalanceOut, InstallmentOut, PayableOut
from services.payments import store
from services.payments.domain.deadlines import age_bucket
from services.payments.prepayments import installment_out
from services.payments.settlements import payable_out
from services.runtime.auth import Principal
from services.runtime.db import Fen, UTCDateTime
from services.runtime.problems import Problem
from services.runtime.texts import text

PAYABLES = store.payables
INSTALLMENTS = store.installments
SCHEDULES = store.schedules
Format = Literal["json", "csv", "xlsx"]
EXPORT_MAX = 100_000
"""An export holds at most this many rows (filter to narrow it)."""
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ZERO = Decimal("0.00")


def _cursor(cursor: str | None) -> tuple[datetime, str] | None:
    if not cursor:
        return None
    try:
        at, ident = cursor.split("|", 1)
        return datetime.fromisoformat(at), ident
    except ValueError:
        raise Problem(422, "validation", "Request is not valid", text("invalid 'cursor'"),
                      errors=[{"field": "cursor", "message": "not a cursor of this list"}]
                      ) from None


def cursor_of(at: datetime, ident: str) -> str:
    return f"{at.isoformat()}|{ident}"


def _payables_scope(caller: Principal) -> Any:
    if caller.role == "institution":
        return and_(PAYABLES.c.payer == "institution", PAYABLES.c.institution_id == caller.org)
    if caller.role == "enterprise":
        return PAYABLES.c.enterprise_id == caller.org
    if caller.role == "agency":
        return PAYABLES.c.region == caller.org
    return None


async def payables(conn: AsyncConnection, caller: Principal, now: datetime, *,
                   program_id: str | None, region: str | None, institution_id: str | None,
                   enterprise_id: str | None, status: str | None, overdue: bool | None,
                   cursor: str | None, limit: int, payable_id: str | None = None
                   ) -> list[PayableOut]:
    """Payables by due date (then id), as the caller may see them."""
    q = select(PAYABLES)
    scope = _payables_scope(caller)
    if scope is not None:
        q = q.where(scope)
    for column, value in ((PAYABLES.c.program_id, program_id), (PAYABLES.c.region, region),
                          (PAYABLES.c.institution_id, institution_id),
                          (PAYABLES.c.enterprise_id, enterprise_id), (PAYABLES.c.status, status),
                          (PAYABLES.c.payable_id, payable_id)):
        if value is not None:
            q = q.where(column == value)
    if overdue is True:
        q = q.where(PAYABLES.c.status == "open", PAYABLES.c.due_at <= now)
    elif overdue is False:
        q = q.where(or_(PAYABLES.c.status == "paid", PAYABLES.c.due_at > now))
    after = _cursor(cursor)
    if after is not None:
        q = q.where(
            tuple_(PAYABLES.c.due_at, PAYABLES.c.payable_id)
            > tuple_(literal(after[0], UTCDateTime()), literal(after[1]))
        )
    rows = (await conn.execute(
        q.order_by(PAYABLES.c.due_at, PAYABLES.c.payable_id).limit(limit))).all()
    return [payable_out(r, now) for r in rows]


async def ageing(conn: AsyncConnection, caller: Principal, now: datetime, *,
                 program_id: str | None, enterprise_id: str | None, cursor: str | None = None,
                 limit: int = EXPORT_MAX) -> tuple[list[AgeingRow], str | None]:
    """What is owed (unpaid), by institution and age: not yet due, 0–30, 31–60, 61–90 and
    more than 90 days overdue; at most ``limit`` institutions after ``cursor`` (the last
    institution of the previous page), with the cursor of the next page (None: the last)."""
    # due dates are month starts: few groups per institution, bucketed here by the rule
    owed_fen = type_coerce(func.sum(PAYABLES.c.amount - PAYABLES.c.paid), Fen())
    conditions = [PAYABLES.c.status == "open"]
    scope = _payables_scope(caller)
    if scope is not None:
        conditions.append(scope)
    if program_id is not None:
        conditions.append(PAYABLES.c.program_id == program_id)
    if enterprise_id is not None:
        conditions.append(PAYABLES.c.enterprise_id == enterprise_id)
    if cursor:
        conditions.append(PAYABLES.c.institution_id > cursor)
    owing = list((await conn.execute(
        select(PAYABLES.c.institution_id).where(*conditions).group_by(PAYABLES.c.institution_id)
        .order_by(PAYABLES.c.institution_id).limit(limit + 1))).scalars())
    next_cursor = owing[limit - 1] if len(owing) > limit else None
    q = select(PAYABLES.c.institution_id, PAYABLES.c.due_at, owed_fen).where(
        *conditions, PAYABLES.c.institution_id.in_(owing[:limit])).group_by(
        PAYABLES.c.institution_id, PAYABLES.c.due_at)
    sums: dict[str, dict[str, Decimal]] = {}
    for institution_id, due_at, owed in (await conn.execute(q)).all():
        bucket = age_bucket(due_at, now)
        per = sums.setdefault(institution_id, {})
        per[bucket] = per.get(bucket, ZERO) + owed
    return [AgeingRow(institution_id=inst, not_due=b.get("not_due", ZERO),
                      days_0_30=b.get("0-30", ZERO), days_31_60=b.get("31-60", ZERO),
                      days_61_90=b.get("61-90", ZERO), days_over_90=b.get("90+", ZERO),
                      total=sum(b.values(), ZERO))
            for inst, b in sorted(sums.items())], next_cursor


def _installments_scope(caller: Principal) -> Any:
    if caller.role == "institution":
        return INSTALLMENTS.c.institution_id == caller.org
    if caller.role == "agency":
        return INSTALLMENTS.c.agency_id == caller.org
    return None


async def installments(conn: AsyncConnection, caller: Principal, *, program_id: str | None,
                       region: str | None, institution_id: str | None, overdue: bool | None,
                       cursor: str | None, limit: int) -> list[InstallmentOut]:
    """Installments by due date: for an agency what it must disburse, for an institution its
    schedule (R-PAY-2/3/7)."""
    q = select(INSTALLMENTS)
    scope = _installments_scope(caller)
    if scope is not None:
        q = q.where(scope)
    for column, value in ((INSTALLMENTS.c.program_id, program_id),
                          (INSTALLMENTS.c.agency_id, region),
                          (INSTALLMENTS.c.institution_id, institution_id)):
        if value is not None:
            q = q.where(column == value)
    if overdue is not None:
        flagged = INSTALLMENTS.c.overdue_at
        q = q.where(flagged.is_not(None) if overdue else flagged.is_(None))
    after = _cursor(cursor)
    if after is not None:
        at, rest = after
        seq, _, sid = rest.partition("|")
        if not seq.isdigit():
            raise Problem(422, "validation", "Request is not valid", text("invalid 'cursor'"))
        q = q.where(tuple_(INSTALLMENTS.c.due_at, INSTALLMENTS.c.schedule_id, INSTALLMENTS.c.seq)
                    > tuple_(literal(at, UTCDateTime()), literal(sid), literal(int(seq))))
    rows = (
        await conn.execute(
            q.order_by(INSTALLMENTS.c.due_at, INSTALLMENTS.c.schedule_id, INSTALLMENTS.c.seq).limit(
                limit
            )
        )
    ).all()
    return [installment_out(r) for r in rows]


async def balances(conn: AsyncConnection, caller: Principal, *, program_id: str | None,
                   region: str | None, institution_id: str | None, cursor: str | None = None,
                   limit: int = EXPORT_MAX) -> tuple[list[BalanceOut], str | None]:
    """R-PAY-6: each institution's prepayment per program and year, from the ledger:
    scheduled, disbursed, offset, and the balance still to recover (never negative); at most
    ``limit`` after ``cursor`` (the schedule id of the previous page's last row), by
    institution, program and year, with the cursor of the next page (None: the last)."""
    accounts = store.accounts
    order = (SCHEDULES.c.institution_id, SCHEDULES.c.program_id, SCHEDULES.c.agreement_year)
    q = select(
        SCHEDULES.c.schedule_id,
        SCHEDULES.c.program_id,
        SCHEDULES.c.agreement_year,
        SCHEDULES.c.institution_id,
        SCHEDULES.c.amount,
        accounts.c.debits_posted,
        accounts.c.credits_posted,
    ).outerjoin(accounts, accounts.c.id == ("prepay:" + SCHEDULES.c.schedule_id))
    if caller.role == "institution":
        q = q.where(SCHEDULES.c.institution_id == caller.org)
    elif caller.role == "agency":
        q = q.where(SCHEDULES.c.agency_id == caller.org)
    for column, value in ((SCHEDULES.c.program_id, program_id), (SCHEDULES.c.agency_id, region),
                          (SCHEDULES.c.institution_id, institution_id)):
        if value is not None:
            q = q.where(column == value)
    if cursor:
        last = (await conn.execute(select(*order).where(SCHEDULES.c.schedule_id == cursor))
                ).first()
        if last is None:
            raise Problem(422, "validation", "Request is not valid",
                          text("invalid fields: {fields}", fields="query.cursor"),
                          errors=[{"field": "query.cursor",
                                   "message": text("not a cursor of this list")}])
        q = q.where(tuple_(*order) > tuple_(*(literal(v) for v in last)))
    rows = (await conn.execute(q.order_by(*order).limit(limit + 1))).all()
    more = len(rows) > limit
    rows = rows[:limit]
    out = []
    for r in rows:
        debits, credits = r.debits_posted or 0, r.credits_posted or 0
        out.append(BalanceOut(
            institution_id=r.institution_id, program_id=r.program_id,
            agreement_year=r.agreement_year, scheduled=r.amount,
            disbursed=Decimal(debits) / 100, offset=Decimal(credits) / 100,
            balance=Decimal(debits - credits) / 100))
    return out, rows[-1].schedule_id if more else None


# --- export ---------------------------------------------------------------------------------


def _cell(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{value:.2f}"  # money as text: a spreadsheet number would be a float
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def table(items: Sequence[BaseModel]) -> tuple[list[str], list[list[Any]]]:
    if not items:
        return [], []
    names = list(type(items[0]).model_fields)
    return names, [[_cell(getattr(item, n)) for n in names] for item in items]


def export(items: Sequence[BaseModel], fmt: Format) -> tuple[bytes, str]:
    """The rows as a CSV (UTF-8 with BOM, for spreadsheets) or an XLSX file, and its type."""
    header, rows = table(items)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        writer.writerows(rows)
        return ("\ufeff" + buffer.getvalue()).encode(), "text/csv; charset=utf-8"
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue(), XLSX
