"""Annual renewal (R-AGR-2): an institution's demand for the next agreement year, checked
against the profile's thresholds on last year's accepted purchases (total) and agreement
volumes (per enterprise); a refused renewal may be accepted by a regulator's exception."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from fastapi.responses import JSONResponse
from sqlalchemy import func, insert, select, update

from contracts.orders import RenewalDecided, RenewalFailureOut, RenewalIn, RenewalOut
from services.orders import domain, errors, store
from services.orders.errors import program_unknown
from services.orders.programs import Program
from services.runtime.auth import Principal
from services.runtime.db import UnitOfWork
from services.runtime.history import history_row, write_history
from services.runtime.ids import time_ordered_id
from services.runtime.problems import PROBLEM_JSON, Problem, ProblemResponse, not_found
from services.runtime.texts import Listed, Text, text

RENEWALS = store.renewals
ACCEPTED = ("accepted", "accepted_with_exception")
FAILURE_FIELDS = frozenset(domain.RenewalFailure.__dataclass_fields__)
"""What a stored failure holds of ``domain.RenewalFailure`` (it also holds the name)."""


@dataclass(frozen=True)
class Assessment:
    demand: dict[str, int]
    last_year_accepted_total: int
    last_year_agreement: dict[str, int]
    failures: list[domain.RenewalFailure]
    enterprise_names: dict[str, str]


def demand_of(cmd: RenewalIn) -> dict[str, int]:
    demand: dict[str, int] = {}
    for i, line in enumerate(cmd.demand):
        if line.enterprise_id in demand:
            raise errors.INVALID(
                text("enterprise {enterprise!r} appears twice in the demand",
                     enterprise=line.enterprise_id),
                errors=[{"field": f"body.demand.{i}.enterprise_id",
                         "message": text("duplicate enterprise")}])
        demand[line.enterprise_id] = line.units
    return demand


async def assess(conn: Any, program: Program, cmd: RenewalIn) -> Assessment:
    """R-AGR-2 against last year: accepted winning-product units (the actual purchases) in
    total, and agreement volumes per enterprise; accepted orders and imported history (a
    program onboarded under way) count alike."""
    program.year(cmd.agreement_year)
    last = cmd.agreement_year - 1
    agreement_table = store.agreements.c
    total = await store.accepted_total(conn, program_id=program.program_id, agreement_year=last,
                                       institution_id=cmd.institution_id)
    agreement: dict[str, int] = defaultdict(int)
    for enterprise, units in (await conn.execute(
            select(agreement_table.enterprise_id, func.sum(agreement_table.units))
            .where(agreement_table.program_id == program.program_id,
                   agreement_table.institution_id == cmd.institution_id,
                   agreement_table.agreement_year == last)
            .group_by(agreement_table.enterprise_id))).all():
        agreement[enterprise] = int(units)
    demand = demand_of(cmd)
    names = await store.enterprise_names(conn, program_id=program.program_id)
    failures = domain.check_renewal(demand, int(total or 0), agreement, program.renewal,
                                    enterprise_names=names)
    return Assessment(demand, int(total or 0), dict(agreement), failures, names)


async def load_program(conn: Any, program_id: str) -> Program:
    row = await store.get_program(conn, program_id)
    if row is None:
        raise program_unknown(program_id)
    return Program.of(row)


def _failures_out(failures: list[domain.RenewalFailure], names: dict[str, str]
                  ) -> list[RenewalFailureOut]:
    return [RenewalFailureOut(check=f.check, enterprise_id=f.enterprise_id,
                              enterprise_name=names.get(f.enterprise_id or ""), ratio=f.ratio,
                              basis=f.basis, required=f.required, offered=f.offered,
                              message=f.message) for f in failures]


def renewal_out(row: Any) -> RenewalOut:
    data = row._asdict()
    for name in ("demand", "last_year_agreement", "failures"):
        data[name] = json.loads(data[name])
    return RenewalOut.model_validate(data)


def _message(failure: RenewalFailureOut) -> Text:
    """A stored failure's message, again with its template (what it was made from)."""
    enterprise = None if failure.enterprise_id is None else domain.enterprise_label(
        failure.enterprise_id, {failure.enterprise_id: failure.enterprise_name or ""})
    return domain.failure_message(failure.check, enterprise, Decimal(failure.ratio),
                                  failure.basis, failure.required, failure.offered)


def refusal(out: RenewalOut) -> Problem:
    """A refused renewal as a problem (it is stored: a regulator may approve an exception for
    it); its detail lists every failed threshold, each with its template."""
    return errors.RENEWAL_REFUSED(
        text("{problems}", problems=Listed(_message(f) for f in out.failures)),
        renewal_id=out.renewal_id, failures=[f.model_dump(mode="json") for f in out.failures],
        renewal=out.model_dump(mode="json"))


def refusal_body(out: RenewalOut) -> dict[str, Any]:
    """A refused renewal as problem details (what is stored for replays)."""
    return refusal(out).body()


def refused_response(response: JSONResponse) -> JSONResponse:
    """The 422 of a refused renewal (first answer or replay) as a problem's response, which
    notes the problem, templates and all, so that it is said in the request's language."""
    body = json.loads(bytes(response.body))
    problem = refusal(RenewalOut.model_validate(body["renewal"]))
    headers = {k: v for k, v in response.headers.items()
               if k.lower() not in ("content-length", "content-type")}
    return ProblemResponse(problem, body, status_code=response.status_code,
                           media_type=PROBLEM_JSON, headers=headers)


async def submit(uow: UnitOfWork, cmd: RenewalIn, caller: Principal,
                 expect_accepted: bool) -> dict[str, Any]:
    """SubmitRenewal: decide at once by the thresholds; stored and published either way."""
    conn = uow.conn
    program = await load_program(conn, cmd.program_id)
    already = await conn.scalar(select(RENEWALS.c.renewal_id).where(
        RENEWALS.c.program_id == cmd.program_id, RENEWALS.c.agreement_year == cmd.agreement_year,
        RENEWALS.c.institution_id == cmd.institution_id, RENEWALS.c.status.in_(ACCEPTED)).limit(1))
    if already is not None:
        raise errors.RENEWAL_ALREADY_ACCEPTED(
            text("renewal {renewal} for agreement year {year} is accepted", renewal=already,
                 year=cmd.agreement_year))
    assessment = await assess(conn, program, cmd)
    accepted = not assessment.failures
    if accepted != expect_accepted:
        raise errors.RENEWAL_BASIS_CHANGED(
            text("an acceptance arrived while the renewal was checked: send it again"))
    now = uow.clock.now()
    renewal_id = time_ordered_id("R", now)
    failures = _failures_out(assessment.failures, assessment.enterprise_names)
    status = "accepted" if accepted else "refused"
    await conn.execute(insert(RENEWALS).values(
        renewal_id=renewal_id, program_id=cmd.program_id, agreement_year=cmd.agreement_year,
        institution_id=cmd.institution_id, demand=json.dumps(assessment.demand),
        status=status, last_year_accepted_total=assessment.last_year_accepted_total,
        last_year_agreement=json.dumps(assessment.last_year_agreement),
        failures=json.dumps([f.model_dump(mode="json") for f in failures],
                            ensure_ascii=False),
        submitted_by=caller.actor, submitted_at=now, decided_by=caller.actor, decided_at=now))
    reason = "thresholds met" if accepted else "; ".join(f.message for f in failures)
    await write_history(conn, store.history, [history_row(
        store.RENEWAL, renewal_id, status, {"demand": assessment.demand,
                                        "failures": [f.check for f in failures]},
        caller.actor, reason, now)])
    uow.record(RenewalDecided(
        renewal_id=renewal_id, program_id=cmd.program_id, agreement_year=cmd.agreement_year,
        institution_id=cmd.institution_id, accepted=accepted,
        failures=[f.message for f in failures], decided_by=caller.actor, decided_at=now))
    row = (await conn.execute(select(RENEWALS).where(RENEWALS.c.renewal_id == renewal_id))).one()
    out = renewal_out(row)
    return out.model_dump(mode="json") if accepted else refusal_body(out)


async def approve_exception(uow: UnitOfWork, renewal_id: str, reason: str,
                            caller: Principal) -> RenewalOut:
    """ApproveRenewalException (R-AGR-2 原则上): a regulator accepts a refused renewal, with a
    reason, if the profile allows exceptions."""
    conn = uow.conn
    row = (await conn.execute(select(RENEWALS).where(RENEWALS.c.renewal_id == renewal_id)
                              .with_for_update())).first()
    if row is None:
        raise not_found("renewal", renewal_id)
    if row.status != "refused":
        raise errors.RENEWAL_NOT_REFUSED(text("renewal {renewal} is {status}",
                                              renewal=renewal_id, status=row.status))
    program = await load_program(conn, row.program_id)
    failures = json.loads(row.failures)
    if not domain.renewal_allowed(
            [domain.RenewalFailure(**{**{k: v for k, v in f.items() if k in FAILURE_FIELDS},
                                      "ratio": Decimal(f["ratio"])}) for f in failures],
            approved_exception_reason=reason,
            exceptions_allowed=program.renewal.exceptions_allowed):
        raise errors.EXCEPTIONS_NOT_ALLOWED(
            text("program {program!r}'s renewal thresholds admit no exception",
                 program=row.program_id))
    later = await conn.scalar(select(RENEWALS.c.renewal_id).where(
        RENEWALS.c.program_id == row.program_id, RENEWALS.c.agreement_year == row.agreement_year,
        RENEWALS.c.institution_id == row.institution_id, RENEWALS.c.status.in_(ACCEPTED)).limit(1))
    if later is not None:
        raise errors.RENEWAL_ALREADY_ACCEPTED(
            text("renewal {renewal} for agreement year {year} is accepted", renewal=later,
                 year=row.agreement_year))
    now = uow.clock.now()
    await conn.execute(update(RENEWALS).where(RENEWALS.c.renewal_id == renewal_id).values(
        status="accepted_with_exception", exception_reason=reason, decided_by=caller.actor,
        decided_at=now))
    await write_history(conn, store.history, [history_row(
        store.RENEWAL, renewal_id, "exception_approved", {"failures": [f["check"]
                                                                   for f in failures]},
        caller.actor, reason, now)])
    uow.record(RenewalDecided(
        renewal_id=renewal_id, program_id=row.program_id, agreement_year=row.agreement_year,
        institution_id=row.institution_id, accepted=True,
        failures=[f["message"] for f in failures], exception_reason=reason,
        decided_by=caller.actor, decided_at=now))
    return renewal_out((await conn.execute(
        select(RENEWALS).where(RENEWALS.c.renewal_id == renewal_id))).one())


async def list_renewals(conn: Any, *, institution_id: str | None, program_id: str | None,
                        agreement_year: int | None, status: str | None, after: str | None,
                        limit: int) -> list[RenewalOut]:
    query = select(RENEWALS).order_by(RENEWALS.c.renewal_id).limit(limit)
    for column, value in ((RENEWALS.c.institution_id, institution_id),
                          (RENEWALS.c.program_id, program_id),
                          (RENEWALS.c.agreement_year, agreement_year), (RENEWALS.c.status, status)):
        if value is not None:
            query = query.where(column == value)
    if after:
        query = query.where(RENEWALS.c.renewal_id > after)
    return [renewal_out(r) for r in (await conn.execute(query)).all()]
