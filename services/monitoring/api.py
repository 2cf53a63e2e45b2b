"""Monitoring HTTP routes: thin; the work is in ``credit``, ``interventions``, ``proposals``,
``reports`` and ``disclosure``.

Regulators file, confirm, dismiss and decide on repair; operators read and run the sweep and
month closing; an enterprise or distributor sees its own records and ratings and applies for
repair (another's is 404). The public disclosure feed needs no token.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from contracts.monitoring import (
    BackupProductSwitched,
    BackupSwitchIn,
    ConfirmIn,
    CreditRecordIn,
    CreditRecordOut,
    CreditRecordsPage,
    EmergencySupplyIn,
    EmergencySupplyTriggered,
    MonthCloseIn,
    MonthlyReportClosed,
    RatingOut,
    ReasonIn,
    RecordStatus,
    RepairIn,
    SubjectKind,
)
from services.monitoring import credit, disclosure, errors, interventions, proposals, reports
from services.monitoring.domain.reports import DIMENSIONS, Dimension, Month
from services.runtime.app import ClockDep, Engine, UoW
from services.runtime.auth import Principal, authorize
from services.runtime.idempotency import Idempotency
from services.runtime.problems import Problem, not_found

router = APIRouter(prefix="/v1", tags=["monitoring"])
Regulator = Annotated[Principal, Depends(authorize("regulator"))]
Overseer = Annotated[Principal, Depends(authorize("regulator", "operator"))]
Subject = Annotated[Principal, Depends(authorize("enterprise", "distributor"))]
Viewer = Annotated[Principal, Depends(authorize("regulator", "operator", "enterprise",
                                                "distributor"))]
Limit = Annotated[int, Query(ge=1, le=200)]
Format = Literal["json", "csv", "xlsx"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
STATE_CONFLICT: dict[int | str, dict[str, Any]] = {409: {
    "description": "the record's state does not allow this now (the problem's type says why)"}}
"""The record moves whose refusals depend on its state (R-CRD-1/4)."""


# --- credit records (R-CRD-1..4) ------------------------------------------------------------------


@router.post("/credit/records", response_model=CreditRecordOut, status_code=201)
async def file_record(body: CreditRecordIn, caller: Regulator, uow: UoW,
                      idem: Idempotency) -> JSONResponse:
    """File a credit record (R-CRD-1); the subject's rating and measures follow (R-CRD-2/3)."""
    return await idem.run(uow, caller.actor, lambda u: credit.file_record(u, body, caller))


@router.get("/credit/records", response_model=CreditRecordsPage)
async def list_records(caller: Viewer, conn: Engine, limit: Limit = 50,
                       status: RecordStatus | None = None, subject_id: str | None = None,
                       region: str | None = None, cursor: str | None = None
                       ) -> CreditRecordsPage:
    """Credit records, newest first, filtered by status, subject and region (R-CRD-1)."""
    async with conn.connect() as c:
        return await credit.list_records(c, caller, status=status, subject_id=subject_id,
                                         region=region, cursor=cursor, limit=limit)


@router.get("/credit/records/{record_id}", response_model=CreditRecordOut)
async def get_record(record_id: str, caller: Viewer, conn: Engine) -> CreditRecordOut:
    """One credit record with every step of its life (R-CRD-1/4)."""
    async with conn.connect() as c:
        return await credit.get_record(c, record_id, caller)


@router.post("/credit/records/{record_id}/confirmation", response_model=CreditRecordOut,
             responses=STATE_CONFLICT)
async def confirm(record_id: str, body: ConfirmIn, caller: Regulator, uow: UoW,
                  idem: Idempotency) -> JSONResponse:
    """Confirm a proposal (R-CRD-1): it counts from now."""
    return await idem.run(uow, caller.actor, lambda u: credit.confirm(u, record_id, body, caller),
                          status_code=200)


@router.post("/credit/records/{record_id}/dismissal", response_model=CreditRecordOut,
             responses=STATE_CONFLICT)
async def dismiss(record_id: str, body: ReasonIn, caller: Regulator, uow: UoW,
                  idem: Idempotency) -> JSONResponse:
    """Dismiss a proposed record (R-CRD-1): it never counts."""
    return await idem.run(uow, caller.actor, lambda u: credit.dismiss(u, record_id, body, caller),
                          status_code=200)


@router.post("/credit/records/{record_id}/repair", response_model=CreditRecordOut,
             responses=STATE_CONFLICT)
async def apply_repair(record_id: str, body: RepairIn, caller: Subject, uow: UoW,
                       idem: Idempotency) -> JSONResponse:
    """The enterprise or distributor applies for repair of its record (R-CRD-4)."""
    return await idem.run(uow, caller.actor,
                          lambda u: credit.apply_repair(u, record_id, body, caller),
                          status_code=200)


@router.post("/credit/records/{record_id}/repair/approval", response_model=CreditRecordOut,
             responses=STATE_CONFLICT)
async def approve_repair(record_id: str, body: ReasonIn, caller: Regulator, uow: UoW,
                         idem: Idempotency) -> JSONResponse:
    """Approve a pending repair (R-CRD-4): the record stops counting."""
    return await idem.run(uow, caller.actor,
                          lambda u: credit.approve_repair(u, record_id, body, caller),
                          status_code=200)


@router.post("/credit/records/{record_id}/repair/refusal", response_model=CreditRecordOut,
             responses=STATE_CONFLICT)
async def refuse_repair(record_id: str, body: ReasonIn, caller: Regulator, uow: UoW,
                        idem: Idempotency) -> JSONResponse:
    """Refuse a pending repair (R-CRD-4); a new application must wait."""
    return await idem.run(uow, caller.actor,
                          lambda u: credit.refuse_repair(u, record_id, body, caller),
                          status_code=200)


@router.get("/credit/ratings/{subject_kind}/{subject_id}", response_model=list[RatingOut])
async def ratings(subject_kind: SubjectKind, subject_id: str, caller: Viewer,
                  conn: Engine) -> list[RatingOut]:
    """The subject's rating per region with the measures in force (R-CRD-2/3)."""
    async with conn.connect() as c:
        return await credit.ratings_of(c, subject_kind, subject_id, caller)


@router.post("/credit/proposals/sweep", response_model=proposals.SweepResult)
async def sweep(caller: Overseer, uow: UoW) -> proposals.SweepResult:
    """Propose records for orders unfilled and supply risks left open too long (R-CRD-1)."""
    async with uow:
        result = await proposals.sweep(uow)
        await uow.commit()
    return result


# --- R-CRD-5 -----------------------------------------------------------------------------------


@router.post("/credit/backup-switches", response_model=BackupProductSwitched, status_code=201)
async def backup_switch(body: BackupSwitchIn, caller: Regulator, uow: UoW,
                        idem: Idempotency) -> JSONResponse:
    """Switch an institution's volume of a failing product to a backup product (R-CRD-5)."""
    return await idem.run(uow, caller.actor,
                          lambda u: interventions.switch_to_backup(u, body, caller))


@router.post("/credit/emergency-supplies", response_model=EmergencySupplyTriggered,
             status_code=201)
async def emergency_supply(body: EmergencySupplyIn, caller: Regulator, uow: UoW,
                           idem: Idempotency) -> JSONResponse:
    """Trigger emergency supply of a product for the region or some institutions
    (R-CRD-5)."""
    return await idem.run(uow, caller.actor,
                          lambda u: interventions.trigger_emergency_supply(u, body, caller))


# --- reports (R-MON-1/2) ----------------------------------------------------------------------


@router.get("/reports/monthly/{month}", response_model=None, responses={200: {
    "description": "the report as JSON, or with ``format=csv|xlsx`` as a file",
    "content": {"application/json": {"schema": {"type": "object"}},
                "text/csv": {"schema": {"type": "string"}},
                XLSX: {"schema": {"type": "string", "format": "binary"}}}}})
async def monthly_report(month: str, caller: Overseer, conn: Engine, clock: ClockDep,
                         region: str | None = None, program_id: str | None = None,
                         dimension: Annotated[list[Dimension] | None, Query()] = None,
                         format: Format = "json") -> Response:
    """The month's report as of its end, by event time (R-MON-1); JSON, CSV or XLSX."""
    async with conn.connect() as c:
        report = await reports.month_report(c, Month.parse(month), clock.now(), region=region,
                                            program_id=program_id,
                                            dimensions=dimension or DIMENSIONS)
    name = f"monitoring-{month}{'-' + region if region else ''}"
    if format == "csv":
        return Response(reports.as_csv(report), media_type="text/csv; charset=utf-8",
                        headers=_attachment(f"{name}.csv"))
    if format == "xlsx":
        return Response(reports.as_xlsx(report), media_type=XLSX,
                        headers=_attachment(f"{name}.xlsx"))
    return Response(report.model_dump_json(), media_type="application/json")


def _attachment(filename: str) -> dict[str, str]:
    from urllib.parse import quote
    return {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"}


@router.post("/report-closings", response_model=MonthlyReportClosed, status_code=201)
async def close_month(body: MonthCloseIn, caller: Overseer, uow: UoW,
                      idem: Idempotency) -> JSONResponse:
    """Close an ended month: its digest kept, ``MonthlyReportClosed`` published (R-MON-1)."""
    return await idem.run(uow, caller.actor, lambda u: reports.close_month(u, body, caller))


@router.get("/assessments/{program_id}/{agreement_year}/{institution_id}",
            response_model=reports.AssessmentOut)
async def assessment(program_id: str, agreement_year: int, institution_id: str,
                     caller: Overseer, conn: Engine, clock: ClockDep) -> reports.AssessmentOut:
    """An institution's annual assessment, each part explained (R-MON-2)."""
    async with conn.connect() as c:
        return await reports.assess(c, institution_id, program_id, agreement_year,
                                    clock.now())


@router.get("/completion-risks/{program_id}", response_model=reports.RiskListOut)
async def completion_risks(program_id: str, caller: Overseer, conn: Engine,
                           clock: ClockDep) -> reports.RiskListOut:
    """The institution × product pairs projected below the profile's threshold; an unknown
    program is a 404 (the program in the path names the resource)."""
    try:
        async with conn.connect() as c:
            return await reports.completion_risks(c, program_id, clock.now())
    except Problem as refused:
        if errors.UNKNOWN_PROGRAM.refused(refused):
            raise not_found("program", program_id) from None
        raise


# --- public disclosure (no token) -----------------------------------------------------------------

public = APIRouter(prefix="/v1/public", tags=["public"])
PublicLimit = Annotated[int, Query(ge=1, le=500)]
IfNoneMatch = Annotated[str | None, Header()]


def _cacheable(page: BaseModel, if_none_match: str | None) -> Response:
    """JSON with an ETag of its body and Cache-Control; 304 when the client has it."""
    body = page.model_dump_json().encode()
    tag = disclosure.etag(body)
    headers = {"ETag": tag, "Cache-Control": disclosure.CACHE_CONTROL}
    if if_none_match is not None and tag in {t.strip() for t in if_none_match.split(",")}:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


@public.get("/credit-ratings", response_model=disclosure.PublicRatingsPage)
async def public_ratings(conn: Engine, limit: PublicLimit = 100, cursor: str | None = None,
                         if_none_match: IfNoneMatch = None) -> Response:
    """Ratings whose level carries public disclosure, with their measures in force."""
    async with conn.connect() as c:
        page = await disclosure.ratings(c, cursor, limit)
    return _cacheable(page, if_none_match)


@public.get("/listings", response_model=disclosure.PublicListingsPage)
async def public_listings(conn: Engine, program_id: str | None = None,
                          limit: PublicLimit = 100, cursor: str | None = None,
                          if_none_match: IfNoneMatch = None) -> Response:
    """Listed products and prices, open to the public (no token); cacheable with ETag."""
    async with conn.connect() as c:
        page = await disclosure.listings(c, program_id, cursor, limit)
    return _cacheable(page, if_none_match)


@public.get("/execution/{month}", response_model=disclosure.PublicExecutionPage)
async def public_execution(month: str, conn: Engine, region: str | None = None,
                           limit: PublicLimit = 100, cursor: str | None = None,
                           if_none_match: IfNoneMatch = None) -> Response:
    """A month's execution by region and product; no institution's own figures."""
    async with conn.connect() as c:
        page = await disclosure.execution(c, Month.parse(month), region, cursor, limit)
    return _cacheable(page, if_none_match)
