"""Monthly fund payments to institutions, and what is deducted from them (R-PAY-4, R-PAY-5).

The paying agency submits each month's fund payment per institution (HTTP, or a CSV/XLSX
file, all or nothing). From the month the profile says (``offset_starts_after``), the
institution's outstanding prepayments are deducted, oldest first, carrying over what a month
cannot cover; what the fund paid enterprises directly for the institution's goods (R-PAY-5)
is deducted first. The net payable is published. A month submitted again with the same amount
is a no-op (the first result is returned); with another amount it is refused.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select

from contracts.money import from_fen
from contracts.payments import (
    FundPaymentIn,
    FundPaymentsResult,
    NetPayableOut,
    NetPayablePublished,
    PrepaymentOffset,
)
from services.payments import errors, store
from services.payments.domain import postings
from services.payments.domain.ledger import LedgerRefused
from services.payments.domain.offsets import Outstanding, apply_month
from services.runtime.auth import Principal
from services.runtime.clock import month_start
from services.runtime.db import UnitOfWork
from services.runtime.problems import Problem
from services.runtime.rows import RowError
from services.runtime.texts import text

FUND_PAYMENTS = store.fund_payments
SCHEDULES = store.schedules
ZERO = Decimal("0.00")
MAX_ROWS = 50_000


def fund_payment_id(agency_id: str, institution_id: str, month: date) -> str:
    return f"{agency_id}:{institution_id}:{month:%Y-%m}"


async def _known_to(conn: Any, agency_id: str, institution_id: str) -> bool:
    """Whether the agency may submit the institution's fund payments: unless payments knows
    the institution only in other regions (its prepayment schedules paid by another agency,
    its payables in another region). An agency pays its own region's institutions only; one
    payments has not seen yet (no VBP purchase so far) is taken on the agency's word."""
    payables = store.payables
    regions = (
        select(SCHEDULES.c.agency_id.label("region"))
        .where(SCHEDULES.c.institution_id == institution_id)
        .union(select(payables.c.region).where(payables.c.institution_id == institution_id))
    ).subquery()
    seen = {r for (r,) in (await conn.execute(select(regions.c.region))).all()}
    return not seen or agency_id in seen


def _out(r: Any, replayed: bool) -> NetPayableOut:
    return NetPayableOut(
        fund_payment_id=r.fund_payment_id, institution_id=r.institution_id, month=r.month,
        fund_payment=r.amount, offset=r.offset, direct_settlement=r.direct_settlement,
        net_payable=r.net_payable, replayed=replayed)


async def submit(uow: UnitOfWork, items: Sequence[FundPaymentIn], caller: Principal
                 ) -> FundPaymentsResult:
    """Submit months of fund payments, all or nothing (a refusal names the row)."""
    agency_id = caller.org
    results: list[NetPayableOut] = []
    replayed = 0
    for n, item in enumerate(items, start=1):
        out = await _one(uow, agency_id, item, caller, row=n if len(items) > 1 else None)
        replayed += out.replayed
        results.append(out)
    return FundPaymentsResult(submitted=len(items) - replayed, replayed=replayed,
                              results=results)


async def _one(uow: UnitOfWork, agency_id: str, item: FundPaymentIn, caller: Principal,
               row: int | None) -> NetPayableOut:
    conn = uow.conn
    month = item.month.replace(day=1)
    fid = fund_payment_id(agency_id, item.institution_id, month)
    held = (await conn.execute(
        select(FUND_PAYMENTS).where(FUND_PAYMENTS.c.fund_payment_id == fid))).first()
    if held is not None:
        if held.amount != item.amount:
            raise errors.fund_payment_conflict(row, fid, held.amount, item.amount)
        return _out(held, True)
    if not await _known_to(conn, agency_id, item.institution_id):
        raise errors.unknown_institution(item.institution_id, agency_id, row)
    start = month_start(month.year, month.month)
    due = (
        await conn.execute(
            select(
                SCHEDULES.c.schedule_id,
                SCHEDULES.c.program_id,
                SCHEDULES.c.agreement_year,
                store.accounts.c.debits_posted,
                store.accounts.c.credits_posted,
            )
            .join(store.accounts, store.accounts.c.id == ("prepay:" + SCHEDULES.c.schedule_id))
            .where(
                SCHEDULES.c.institution_id == item.institution_id,
                SCHEDULES.c.agency_id == agency_id,
                SCHEDULES.c.offset_from <= start,
                store.accounts.c.debits_posted > store.accounts.c.credits_posted,
            )
            .order_by(SCHEDULES.c.offset_from, SCHEDULES.c.schedule_id)
        )
    ).all()
    direct_d, direct_c = await store.balance(conn, f"direct:{item.institution_id}")
    month_offsets = apply_month(
        item.amount,
        [Outstanding(postings.prepay_account(r.program_id, r.agreement_year,
                                             item.institution_id),
                     from_fen(r.debits_posted - r.credits_posted)) for r in due],
        direct_due=from_fen(max(direct_d - direct_c, 0)))
    now = uow.clock.now()
    try:
        await store.post(conn, postings.fund_payment(
            f"fund-payment:{fid}", agency_id, item.institution_id, item.amount,
            list(month_offsets.offsets), month_offsets.direct_settlement,
            month_offsets.net_payable), now)
    except LedgerRefused as refused:
        raise errors.ledger_refused(refused) from refused
    values = {"fund_payment_id": fid, "agency_id": agency_id,
              "institution_id": item.institution_id, "month": month, "amount": item.amount,
              "offset": month_offsets.offset_total,
              "direct_settlement": month_offsets.direct_settlement,
              "net_payable": month_offsets.net_payable, "submitted_by": caller.actor,
              "submitted_at": now}
    await conn.execute(FUND_PAYMENTS.insert().values(values))
    by_account = {postings.prepay_account(r.program_id, r.agreement_year,
                                          item.institution_id): r for r in due}
    for account, amount in month_offsets.offsets:
        r = by_account[account]
        left = from_fen(r.debits_posted - r.credits_posted) - amount
        await conn.execute(store.offsets.insert().values(
            fund_payment_id=fid, schedule_id=r.schedule_id, amount=amount))
        uow.record(PrepaymentOffset(
            fund_payment_id=fid, schedule_id=r.schedule_id, program_id=r.program_id,
            agreement_year=r.agreement_year, institution_id=item.institution_id, month=month,
            amount=amount, outstanding_after=left, offset_at=now))
    uow.record(NetPayablePublished(
        fund_payment_id=fid, agency_id=agency_id, institution_id=item.institution_id,
        month=month, fund_payment=item.amount, offset=month_offsets.offset_total,
        direct_settlement=month_offsets.direct_settlement,
        net_payable=month_offsets.net_payable, published_at=now))
    return NetPayableOut(**{k: v for k, v in values.items()
                            if k in NetPayableOut.model_fields},
                         fund_payment=item.amount)


# --- files --------------------------------------------------------------------------------------

HEADERS = {"institution_id": "institution_id", "医疗机构编码": "institution_id",
           "month": "month", "月份": "month", "amount": "amount", "金额": "amount",
           "拨付金额": "amount"}
REQUIRED = ("institution_id", "month", "amount")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class FileRejected(Exception):
    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(f"{len(errors)} problems")
        self.errors = errors

    def problem(self) -> Problem:
        return errors.import_rejected(self.errors)


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, date):
        return value.isoformat()[:10]
    return unicodedata.normalize("NFKC", str(value)).strip()


def _month(value: str) -> str:
    """``2024-02`` or ``2024-02-01`` (a month); the day is ignored."""
    return f"{value}-01" if len(value) == 7 else value


def rows_from(grid: Iterable[Sequence[object]]) -> list[FundPaymentIn]:
    """Every row of a fund-payment file, or ``FileRejected`` naming every bad row and field
    (R-PAY-4: all or nothing). Row numbers count the header as row 1."""
    it = iter(grid)
    header = next((c for c in it if any(_text(x) for x in c)), None)
    if header is None:
        raise FileRejected([RowError(0, None, text("the file is empty: no header row"))])
    columns: dict[str, int] = {}
    for index, cell in enumerate(header):
        name = HEADERS.get(_text(cell).lower()) or HEADERS.get(_text(cell))
        if name is not None:
            columns.setdefault(name, index)
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise FileRejected([RowError(0, None, text("the header lacks {columns}",
                                                   columns=", ".join(missing)))])
    out: list[FundPaymentIn] = []
    bad: list[RowError] = []
    seen: dict[tuple[str, str], int] = {}
    for number, cells in enumerate(it, start=2):
        if not any(_text(c) for c in cells):
            continue
        if len(out) + len(bad) >= MAX_ROWS:
            raise FileRejected([RowError(0, None, text("more than {max_rows} rows: split the file",
                                                       max_rows=MAX_ROWS))])
        cells = [*cells, *([None] * (max(columns.values()) + 1 - len(cells)))]
        values = {k: _text(cells[i]) for k, i in columns.items()}
        if isinstance(cells[columns["amount"]], float):
            bad.append(RowError(number, "amount", text("write amounts as text such as 848.00 (a "
                                                       "spreadsheet number is a float)")))
            continue
        try:
            item = FundPaymentIn(institution_id=values["institution_id"],
                                 month=_month(values["month"]), amount=values["amount"])
        except ValidationError as exc:
            for err in exc.errors():
                bad.append(RowError(number, str(err["loc"][0]) if err["loc"] else None,
                                    err["msg"]))
            continue
        key = (item.institution_id, f"{item.month:%Y-%m}")
        if key in seen:
            bad.append(RowError(number, "institution_id",
                                text("the same institution and month as row {first}",
                                     first=seen[key])))
            continue
        seen[key] = number
        out.append(item)
    if bad:
        raise FileRejected(bad)
    return out


def parse(content_type: str, data: bytes) -> list[FundPaymentIn]:
    kind = content_type.split(";")[0].strip().lower()
    if kind in ("text/csv", "application/csv"):
        try:
            decoded = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise FileRejected([RowError(0, None, text("the file is not UTF-8 text"))]) from None
        return rows_from(csv.reader(io.StringIO(decoded, newline="")))
    if kind == XLSX:
        from openpyxl import load_workbook

        try:
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a bad file
            raise FileRejected([RowError(0, None, text("not a readable XLSX workbook ({error})",
                                                       error=type(exc).__name__))]) from None
        try:
            return rows_from(book.worksheets[0].iter_rows(values_only=True))
        finally:
            book.close()
    raise FileRejected([RowError(0, None, text("unsupported content type {content_type!r}: send "
                                               "text/csv or {xlsx}", content_type=kind,
                                               xlsx=XLSX))])

