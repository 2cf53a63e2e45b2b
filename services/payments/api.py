"""Payments HTTP routes: thin; the work is in the use-case modules and the domain.

Who may do what: an institution pays its own payables and sees what it owes and its
prepayment balances and schedule; an enterprise sees what it is owed, by institution and age;
a paying agency (role ``agency``, org = its region) disburses installments, submits monthly
fund payments and, in a direct-settlement program, pays enterprises; regulators and operators
see everything, filtered by program and region. Another org's object is not found (404).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from contracts.payments import (
    AgeingPage,
    BalancesPage,
    DisbursementIn,
    FundPaymentsIn,
    FundPaymentsResult,
    InstallmentOut,
    InstallmentsPage,
    PayableOut,
    PayablesPage,
    PaymentIn,
)
from services.payments import errors, fund_payments, prepayments, settlements, views
from services.payments.views import Format, cursor_of
from services.runtime.app import ClockDep, Engine, UoW
from services.runtime.auth import Principal, authorize
from services.runtime.idempotency import IdempotencyRequired

router = APIRouter(prefix="/v1", tags=["payments"])
Payer = Annotated[Principal, Depends(authorize("institution", "agency"))]
Agency = Annotated[Principal, Depends(authorize("agency"))]
PayableViewer = Annotated[Principal, Depends(authorize(
    "institution", "enterprise", "agency", "regulator", "operator"))]
PrepaymentViewer = Annotated[Principal, Depends(authorize(
    "institution", "agency", "regulator", "operator"))]
Limit = Annotated[int, Query(ge=1, le=500)]


EXPORT: dict[int | str, dict[str, Any]] = {200: {
    "description": "a page as JSON, or with ``format=csv|xlsx`` every matching row as a file",
    "content": {"text/csv": {"schema": {"type": "string"}},
                fund_payments.XLSX: {"schema": {"type": "string", "format": "binary"}}}}}
"""The list routes' CSV and XLSX exports, documented beside the JSON page."""
LEDGER_CONFLICT = "the ledger refuses the movement (ledger-limit)"
FUND_CONFLICT = ("a month submitted before with another amount (fund-payment-conflict), or "
                 + LEDGER_CONFLICT)


def _file(items: list[object], fmt: Format, name: str) -> Response:
    body, media = views.export(items, fmt)  # type: ignore[arg-type]
    ext = "csv" if fmt == "csv" else "xlsx"
    return Response(body, media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="{name}.{ext}"'})


# --- settlements (R-PAY-1, R-PAY-5) -------------------------------------------------------------


@router.post("/payables/{payable_id}/payments", status_code=201, response_model=PayableOut,
             responses={409: {"description": "more than is outstanding (overpayment), or "
                                             + LEDGER_CONFLICT}})
async def pay(payable_id: str, body: PaymentIn, caller: Payer, uow: UoW,
              idem: IdempotencyRequired) -> JSONResponse:
    """Pay (part of) a payable: the institution its own, the agency the fund's (R-PAY-5).
    Send an Idempotency-Key: a retried request pays once."""
    return await idem.run(uow, caller.actor, lambda u: settlements.pay(
        u, payable_id, body.amount, caller, idem.key))


@router.get("/payables", response_model=PayablesPage, responses=EXPORT)
async def list_payables(
    caller: PayableViewer, engine: Engine, clock: ClockDep,
    program_id: str | None = None, region: str | None = None,
    institution_id: str | None = None, enterprise_id: str | None = None,
    status: Annotated[str | None, Query(pattern="^(open|paid)$")] = None,
    overdue: bool | None = None, cursor: str | None = None, limit: Limit = 100,
    format: Format = "json",
) -> PayablesPage | Response:
    """Payables by due date, as the caller may see them; ``format=csv|xlsx`` exports every
    matching row (at most 100,000)."""
    size = limit + 1 if format == "json" else views.EXPORT_MAX
    async with engine.connect() as conn:
        items = await views.payables(
            conn, caller, clock.now(), program_id=program_id, region=region,
            institution_id=institution_id, enterprise_id=enterprise_id, status=status,
            overdue=overdue, cursor=cursor, limit=size)
    if format != "json":
        return _file(list(items), format, "payables")
    more = len(items) > limit
    last = items[limit - 1] if more else None
    return PayablesPage(items=items[:limit],
                        next_cursor=cursor_of(last.due_at, last.payable_id) if last else None)


@router.get("/payables/ageing", response_model=AgeingPage, responses=EXPORT)
async def payables_ageing(
    caller: PayableViewer, engine: Engine, clock: ClockDep, program_id: str | None = None,
    enterprise_id: str | None = None, cursor: str | None = None, limit: Limit = 100,
    format: Format = "json",
) -> AgeingPage | Response:
    """What is owed, by institution and age (not due, 0–30, 31–60, 61–90, > 90 days): a page
    of institutions (``next_cursor``), or the whole list as a file."""
    paged = format == "json"
    async with engine.connect() as conn:
        rows, next_cursor = await views.ageing(
            conn, caller, clock.now(), program_id=program_id, enterprise_id=enterprise_id,
            cursor=cursor if paged else None, limit=limit if paged else views.EXPORT_MAX)
    if not paged:
        return _file(list(rows), format, "ageing")
    return AgeingPage(items=rows, next_cursor=next_cursor)


@router.get("/payables/{payable_id}", response_model=PayableOut)
async def get_payable(payable_id: str, caller: PayableViewer, engine: Engine,
                      clock: ClockDep) -> PayableOut:
    """One payable: amount, paid, outstanding, deadline (R-PAY-1)."""
    async with engine.connect() as conn:
        items = await views.payables(
            conn, caller, clock.now(), program_id=None, region=None, institution_id=None,
            enterprise_id=None, status=None, overdue=None, cursor=None, limit=1,
            payable_id=payable_id)
    if not items:
        raise errors.payable_not_found(payable_id)
    return items[0]


# --- prepayments (R-PAY-2/3/6/7) ----------------------------------------------------------------


@router.post("/schedules/{schedule_id}/installments/{seq}/disbursements", status_code=201,
             response_model=InstallmentOut,
             responses={409: {"description": "more than the installment's outstanding "
                                             "(over-disbursement), or " + LEDGER_CONFLICT}})
async def disburse(schedule_id: str, seq: int, body: DisbursementIn, caller: Agency, uow: UoW,
                   idem: IdempotencyRequired) -> JSONResponse:
    """The paying agency disburses (part of) an installment; send an Idempotency-Key."""
    return await idem.run(uow, caller.actor, lambda u: prepayments.disburse(
        u, schedule_id, seq, body.amount, caller, idem.key))


@router.get("/installments", response_model=InstallmentsPage, responses=EXPORT)
async def list_installments(
    caller: PrepaymentViewer, engine: Engine, program_id: str | None = None,
    region: str | None = None, institution_id: str | None = None,
    overdue: bool | None = None, cursor: str | None = None, limit: Limit = 100,
    format: Format = "json",
) -> InstallmentsPage | Response:
    """Installments by due date: an agency's to disburse, an institution's schedule."""
    size = limit + 1 if format == "json" else views.EXPORT_MAX
    async with engine.connect() as conn:
        items = await views.installments(
            conn, caller, program_id=program_id, region=region, institution_id=institution_id,
            overdue=overdue, cursor=cursor, limit=size)
    if format != "json":
        return _file(list(items), format, "installments")
    last = items[limit - 1] if len(items) > limit else None
    return InstallmentsPage(
        items=items[:limit],
        next_cursor=cursor_of(last.due_at, f"{last.seq}|{last.schedule_id}") if last else None)


@router.get("/prepayments/balances", response_model=BalancesPage, responses=EXPORT)
async def prepayment_balances(
    caller: PrepaymentViewer, engine: Engine, program_id: str | None = None,
    region: str | None = None, institution_id: str | None = None, cursor: str | None = None,
    limit: Limit = 100, format: Format = "json",
) -> BalancesPage | Response:
    """R-PAY-6: scheduled, disbursed, offset and outstanding, from the ledger, by institution,
    program and agreement year: a page (``next_cursor``), or the whole list as a file."""
    paged = format == "json"
    async with engine.connect() as conn:
        rows, next_cursor = await views.balances(
            conn, caller, program_id=program_id, region=region, institution_id=institution_id,
            cursor=cursor if paged else None, limit=limit if paged else views.EXPORT_MAX)
    if not paged:
        return _file(list(rows), format, "prepayments")
    return BalancesPage(items=rows, next_cursor=next_cursor)


# --- fund payments (R-PAY-4, R-PAY-5) -----------------------------------------------------------


@router.post("/fund-payments", status_code=201, response_model=FundPaymentsResult,
             responses={409: {"description": FUND_CONFLICT}})
async def submit_fund_payments(body: FundPaymentsIn, caller: Agency, uow: UoW,
                               idem: IdempotencyRequired) -> JSONResponse:
    """Months of fund payments per institution: offsets applied, net payable published; all
    or nothing; a month submitted again with the same amount changes nothing."""
    return await idem.run(uow, caller.actor,
                          lambda u: fund_payments.submit(u, body.payments, caller))


@router.post("/fund-payments/import", status_code=201, response_model=FundPaymentsResult,
             responses={409: {"description": FUND_CONFLICT}},
             openapi_extra={"requestBody": {"content": {
                 "text/csv": {"schema": {"type": "string"}},
                 fund_payments.XLSX: {"schema": {"type": "string", "format": "binary"}}}}})
async def import_fund_payments(request: Request, caller: Agency, uow: UoW,
                               idem: IdempotencyRequired) -> JSONResponse:
    """The same as ``POST /v1/fund-payments`` from a CSV or XLSX file (columns
    institution_id, month, amount): every bad row is named and nothing is imported."""
    data = await request.body()
    try:
        items = fund_payments.parse(request.headers.get("content-type", ""), data)
    except fund_payments.FileRejected as rejected:
        raise rejected.problem() from None
    if not items:
        raise errors.no_rows()
    return await idem.run(uow, caller.actor, lambda u: fund_payments.submit(u, items, caller))
