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
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy import text as sql

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
from services.payments.domain.ledger import Ledger, LedgerRefused
from services.payments.domain.offsets import Outstanding, apply_month
from services.runtime.auth import Principal
from services.runtime.clock import month_start
from services.runtime.db import UnitOfWork, bulk_insert, is_postgres
from services.runtime.problems import Problem, pydantic_message
from services.runtime.rows import RowError
from services.runtime.texts import text

FUND_PAYMENTS = store.fund_payments
SCHEDULES = store.schedules
ZERO = Decimal("0.00")
MAX_ROWS = 50_000


def fund_payment_id(agency_id: str, institution_id: str, month: date) -> str:
    return f"{agency_id}:{institution_id}:{month:%Y-%m}"


AGENCY_LOCK = sql("SELECT pg_advisory_xact_lock(hashtext('payments.fund_payments:' || :agency))")

FOREIGN_PG = sql("""
SELECT i.id FROM unnest(CAST(:ids AS text[])) AS i(id)
WHERE NOT (EXISTS (SELECT 1 FROM schedules s WHERE s.institution_id = i.id
                                               AND s.agency_id = :agency)
           OR EXISTS (SELECT 1 FROM payables p WHERE p.institution_id = i.id
                                                 AND p.region = :agency))
  AND (EXISTS (SELECT 1 FROM schedules s WHERE s.institution_id = i.id)
       OR EXISTS (SELECT 1 FROM payables p WHERE p.institution_id = i.id))
""")
"""The institutions payments knows only in other regions, one statement for a request (each
test an index probe: no scan of an institution's payables)."""


async def _foreign(conn: Any, agency_id: str, institutions: Sequence[str]) -> set[str]:
    """The institutions the agency may not submit fund payments for: those payments knows only
    in other regions (their prepayment schedules paid by another agency, their payables in
    another region). An agency pays its own region's institutions only; one payments has not
    seen yet (no VBP purchase so far) is taken on the agency's word."""
    if conn.dialect.name == "postgresql":
        return set((await conn.execute(FOREIGN_PG, {"ids": list(institutions),
                                                    "agency": agency_id})).scalars())
    payables = store.payables
    seen: dict[str, set[str]] = {}
    for ids in _chunks(institutions):
        regions = select(SCHEDULES.c.institution_id, SCHEDULES.c.agency_id.label("region")
                         ).where(SCHEDULES.c.institution_id.in_(ids)).union(
            select(payables.c.institution_id, payables.c.region)
            .where(payables.c.institution_id.in_(ids)))
        for inst, region in (await conn.execute(regions)).all():
            seen.setdefault(inst, set()).add(region)
    return {i for i, regions in seen.items() if agency_id not in regions}


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    return (items[i:i + store.CHUNK] for i in range(0, len(items), store.CHUNK))


def _out(r: Any, replayed: bool) -> NetPayableOut:
    return NetPayableOut(
        fund_payment_id=r.fund_payment_id, institution_id=r.institution_id, month=r.month,
        fund_payment=r.amount, offset=r.offset, direct_settlement=r.direct_settlement,
        net_payable=r.net_payable, replayed=replayed)


@dataclass(frozen=True)
class _Row:
    number: int | None  # the row named in a refusal (None when the request has one)
    item: FundPaymentIn
    month: date
    fid: str


async def submit(uow: UnitOfWork, items: Sequence[FundPaymentIn], caller: Principal
                 ) -> FundPaymentsResult:
    """Submit months of fund payments, all or nothing: every bad row is named (the first in
    the problem's ``row``, all of them in ``errors``) and nothing is recorded. Set-wise, a few
    statements per request however many rows (issue #14: 100 rows a row at a time overran the
    request timeout under load): the months already held, the institutions' regions, their
    prepayment schedules, their accounts locked; the offsets computed in memory in the rows'
    order (``domain.ledger.Ledger`` checks every limit), then written in bulk."""
    conn = uow.conn
    agency_id = caller.org
    if is_postgres(conn):
        # One agency's submissions one after the other: two requests carrying the same
        # month at once would both find it new, and the second would fail on its transfers'
        # ids instead of being a replay.
        await conn.execute(AGENCY_LOCK, {"agency": agency_id})
    rows = []
    for n, item in enumerate(items, start=1):
        month = item.month.replace(day=1)
        rows.append(_Row(n if len(items) > 1 else None, item, month,
                         fund_payment_id(agency_id, item.institution_id, month)))
    held: dict[str, Any] = {}
    for fids in _chunks(sorted({r.fid for r in rows})):
        held.update((h.fund_payment_id, h) for h in (await conn.execute(
            select(FUND_PAYMENTS).where(FUND_PAYMENTS.c.fund_payment_id.in_(fids)))).all())
    fresh: dict[str, _Row] = {}
    problems: list[tuple[int | None, Problem]] = []
    for r in rows:
        first = held.get(r.fid)
        amount = first.amount if first is not None else (
            fresh[r.fid].item.amount if r.fid in fresh else None)
        if amount is not None and amount != r.item.amount:
            problems.append((r.number, errors.fund_payment_conflict(
                r.number, r.fid, amount, r.item.amount)))
        elif amount is None:
            fresh[r.fid] = r
    institutions = sorted({r.item.institution_id for r in fresh.values()})
    foreign = await _foreign(conn, agency_id, institutions) if institutions else set()
    problems += [(r.number, errors.unknown_institution(r.item.institution_id, agency_id,
                                                        r.number))
                 for r in fresh.values() if r.item.institution_id in foreign]
    if problems:
        raise _all_named(problems)
    results = await _record(uow, agency_id, list(fresh.values()), institutions, caller)
    out: list[NetPayableOut] = []
    replayed = 0
    for r in rows:
        if r.fid in held:
            out.append(_out(held[r.fid], True))
        elif fresh[r.fid] is r:
            out.append(results[r.fid])
        else:  # the same month twice in one request: the second is a replay of the first
            out.append(results[r.fid].model_copy(update={"replayed": True}))
        replayed += out[-1].replayed
    return FundPaymentsResult(submitted=len(items) - replayed, replayed=replayed, results=out)


def _all_named(problems: list[tuple[int | None, Problem]]) -> Problem:
    """The first bad row's problem, with every bad row in ``errors``."""
    problems.sort(key=lambda p: p[0] or 0)
    first = problems[0][1]
    first.extensions["errors"] = [
        {"row": row, "field": p.extensions.get("field"), "reason": p.detail}
        for row, p in problems]
    return first


async def _record(uow: UnitOfWork, agency_id: str, fresh: list[_Row],
                  institutions: list[str], caller: Principal) -> dict[str, NetPayableOut]:
    """R-PAY-4/5: the offsets of the new months, in the rows' order (a later month of the same
    institution sees what an earlier one offset), posted and recorded in bulk."""
    if not fresh:
        return {}
    conn = uow.conn
    schedules: dict[str, list[Any]] = {}
    for ids in _chunks(institutions):
        for s in (await conn.execute(
                select(SCHEDULES.c.schedule_id, SCHEDULES.c.program_id,
                       SCHEDULES.c.agreement_year, SCHEDULES.c.institution_id,
                       SCHEDULES.c.offset_from)
                .where(SCHEDULES.c.institution_id.in_(ids),
                       SCHEDULES.c.agency_id == agency_id)
                .order_by(SCHEDULES.c.offset_from, SCHEDULES.c.schedule_id))).all():
            schedules.setdefault(s.institution_id, []).append(s)
    prepay = {s.schedule_id: postings.prepay_account(s.program_id, s.agreement_year,
                                                     s.institution_id)
              for found in schedules.values() for s in found}
    names = {f"claims:{agency_id}", f"fund:{agency_id}", *prepay.values()}
    for inst in institutions:
        names |= {f"fundpay:{inst}", f"direct:{inst}"}
    locked = await store.lock_accounts(conn, names)
    ledger = Ledger(accounts=dict(locked))
    now = uow.clock.now()
    results: dict[str, NetPayableOut] = {}
    fund_rows: list[dict[str, Any]] = []
    offset_rows: list[dict[str, Any]] = []
    for r in fresh:
        inst = r.item.institution_id
        start = month_start(r.month.year, r.month.month)
        due = [(s, ledger.account(prepay[s.schedule_id]))
               for s in schedules.get(inst, []) if s.offset_from <= start]
        direct = ledger.account(f"direct:{inst}")
        month_offsets = apply_month(
            r.item.amount,
            [Outstanding(a.id, from_fen(a.balance)) for _, a in due if a.balance > 0],
            direct_due=from_fen(max(direct.balance, 0)))
        try:
            ledger.post_all(postings.fund_payment(
                f"fund-payment:{r.fid}", agency_id, inst, r.item.amount,
                list(month_offsets.offsets), month_offsets.direct_settlement,
                month_offsets.net_payable))
        except LedgerRefused as refused:
            raise errors.ledger_refused(refused) from refused
        values = {"fund_payment_id": r.fid, "agency_id": agency_id, "institution_id": inst,
                  "month": r.month, "amount": r.item.amount,
                  "offset": month_offsets.offset_total,
                  "direct_settlement": month_offsets.direct_settlement,
                  "net_payable": month_offsets.net_payable, "submitted_by": caller.actor,
                  "submitted_at": now}
        fund_rows.append(values)
        by_account = {a.id: (s, a) for s, a in due}
        for account, amount in month_offsets.offsets:
            s, a = by_account[account]
            offset_rows.append({"fund_payment_id": r.fid, "schedule_id": s.schedule_id,
                                "amount": amount})
            uow.record(PrepaymentOffset(
                fund_payment_id=r.fid, schedule_id=s.schedule_id, program_id=s.program_id,
                agreement_year=s.agreement_year, institution_id=inst, month=r.month,
                amount=amount, outstanding_after=from_fen(a.balance), offset_at=now))
        uow.record(NetPayablePublished(
            fund_payment_id=r.fid, agency_id=agency_id, institution_id=inst, month=r.month,
            fund_payment=r.item.amount, offset=month_offsets.offset_total,
            direct_settlement=month_offsets.direct_settlement,
            net_payable=month_offsets.net_payable, published_at=now))
        results[r.fid] = NetPayableOut(
            **{k: v for k, v in values.items() if k in NetPayableOut.model_fields},
            fund_payment=r.item.amount)
    await store.post_checked(conn, list(ledger.transfers.values()), now, locked)
    await bulk_insert(conn, FUND_PAYMENTS, fund_rows)
    await bulk_insert(conn, store.offsets, offset_rows)
    return results


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
                                    pydantic_message(err)))
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

