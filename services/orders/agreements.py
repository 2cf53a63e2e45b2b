"""Agreement volumes (R-AGR-1, R-AGR-3): the bulk import per program and agreement year, and
what institutions and regulators see of them (progress and remaining volume).

Institutions are known to the platform through the register (``POST /v1/institutions``): when
a program's region has any registered institution, an import accepts only institutions
registered in that region, with their registered type; a region nobody registered is not
checked (the national platform's export is then trusted for the region, R-PRG-3).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, insert, select, update

from contracts.orders import (
    AgreementImportResult,
    AgreementOut,
    AgreementRecorded,
    PacingWarningOut,
    ProgressLine,
    ProgressReport,
)
from services.orders import domain, errors, store
from services.orders.domain import AgreementRow
from services.orders.errors import program_unknown
from services.orders.programs import Program
from services.runtime.auth import Principal
from services.runtime.db import UnitOfWork, bulk_insert
from services.runtime.history import history_row
from services.runtime.rows import RowError
from services.runtime.texts import text

AGREEMENTS = store.agreements


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def register_errors(rows: Sequence[AgreementRow], register: dict[str, str] | None
                     ) -> list[RowError]:
    """R-PRG-3: a registered institution's type must be the registered one."""
    if register is None:
        return []
    problems = []
    for number, row in enumerate(rows, start=1):
        known = register.get(row.institution_id)
        if known is not None and row.institution_type in domain.INSTITUTION_TYPES \
                and known != row.institution_type:
            problems.append(RowError(number, "institution_type",
                                     text("institution {institution!r} is registered as "
                                          "{known}, not {type}", institution=row.institution_id,
                                          known=known, type=row.institution_type)))
    return problems


async def import_agreements(
    uow: UnitOfWork, program_id: str, year_index: int, rows: Sequence[AgreementRow],
    digest: str, caller: Principal, reason: str | None,
) -> AgreementImportResult:
    """ImportAgreementVolumes (R-AGR-1): all or nothing. The same file again is a no-op; a row
    whose units (or institution type) differ from the recorded agreement is a new version of
    it, with who, when and why (R-AGR-9)."""
    conn = uow.conn
    row = await store.get_program(conn, program_id, for_update=True)  # one import at a time
    if row is None:
        raise program_unknown(program_id)
    program = Program.of(row)
    year = program.year(year_index)
    previous = (await conn.execute(select(store.agreement_imports).where(
        store.agreement_imports.c.program_id == program_id,
        store.agreement_imports.c.agreement_year == year_index,
        store.agreement_imports.c.content_sha256 == digest))).first()
    if previous is not None:
        return AgreementImportResult.model_validate(
            {**previous._asdict(), "replayed": True})
    if not rows:
        raise errors.agreements_rejected([RowError(0, None, text("the file has no rows"))])
    products = {domain.certificate_key(r.registration_no): r
                for r in await store.winning_listings(conn, program_id)}
    register = await store.region_register(conn, program.region)
    problems = domain.validate_agreement_rows(
        rows, known_products={k: r.enterprise_id for k, r in products.items()},
        region_institutions=frozenset(register) if register is not None else None,
        enterprise_names=await store.enterprise_names(conn, program_id=program_id))
    problems += register_errors(rows, register)
    if problems:
        raise errors.agreements_rejected(problems)

    agreement = AGREEMENTS.c
    existing = {r.agreement_id: r for r in (await conn.execute(
        select(agreement.agreement_id, agreement.units, agreement.version,
               agreement.institution_type)
        .where(agreement.program_id == program_id, agreement.agreement_year == year_index))
    ).all()}
    now = uow.clock.now()
    import_id = "AI-" + hashlib.sha256(f"{program_id}|{year_index}|{digest}".encode()
                                       ).hexdigest()[:24]
    why = reason or f"agreement volumes imported (file sha256 {digest[:12]}…)"
    new_rows: list[dict[str, Any]] = []
    changed_rows: list[dict[str, Any]] = []
    unchanged = 0
    amounts: dict[tuple[int, str], Decimal] = {}
    for r in rows:
        cert = domain.certificate_key(r.registration_no)
        product = products[cert]
        units = _units(r.units)
        institution = r.institution_id.strip()
        aid = domain.agreement_id(program_id, year_index, institution, cert)
        amount = amounts.get((units, cert))
        if amount is None:
            amount = amounts[(units, cert)] = domain.order_amount(units, product.listing_price)
        current = existing.get(aid)
        if current is not None and current.units == units \
                and current.institution_type == r.institution_type:
            unchanged += 1
            continue
        values = {
            "agreement_id": aid, "program_id": program_id, "region": program.region,
            "agreement_year": year_index, "year_start": year.start, "year_end": year.end,
            "institution_id": institution, "institution_type": r.institution_type,
            "enterprise_id": product.enterprise_id, "registration_no": cert,
            "listing_id": product.listing_id, "units": units,
            "winning_price": product.listing_price,
            "amount": amount,
            "version": 1 if current is None else current.version + 1,
            "recorded_by": caller.actor, "recorded_at": now, "reason": why,
            "import_id": import_id,
        }
        (new_rows if current is None else changed_rows).append(values)

    await _write(uow, new_rows, changed_rows, existing)
    result = AgreementImportResult(
        import_id=import_id, program_id=program_id, agreement_year=year_index, rows=len(rows),
        recorded=len(new_rows), changed=len(changed_rows), unchanged=unchanged,
        content_sha256=digest, imported_by=caller.actor, imported_at=now)
    await conn.execute(insert(store.agreement_imports).values(
        **result.model_dump(exclude={"replayed"}), reason=why))
    return result


async def _write(uow: UnitOfWork, new_rows: list[dict[str, Any]],
                 changed_rows: list[dict[str, Any]], existing: dict[str, Any]) -> None:
    conn = uow.conn
    await bulk_insert(conn, store.agreements, new_rows)
    if changed_rows:
        keys = [k for k in changed_rows[0] if k != "agreement_id"]
        stmt = (update(AGREEMENTS).where(AGREEMENTS.c.agreement_id == bindparam("b_id"))
                .values({k: bindparam(f"b_{k}") for k in keys}))
        for chunk in _chunks(changed_rows):
            await conn.execute(stmt, [{f"b_{k}": v for k, v in r.items()}
                                      | {"b_id": r["agreement_id"]} for r in chunk])
    history = []
    for values in (*new_rows, *changed_rows):
        old = existing.get(values["agreement_id"])
        detail = {"units": values["units"], "version": values["version"],
                  "institution_type": values["institution_type"],
                  "import_id": values["import_id"]}
        if old is not None:
            detail["previous_units"] = old.units
        history.append(history_row(
            store.AGREEMENT, values["agreement_id"], "recorded" if old is None else "changed",
            detail, values["recorded_by"], values["reason"], values["recorded_at"]))
        uow.record(AgreementRecorded(
            agreement_id=values["agreement_id"], program_id=values["program_id"],
            agreement_year=values["agreement_year"], year_start=values["year_start"],
            year_end=values["year_end"], institution_id=values["institution_id"],
            institution_type=values["institution_type"], enterprise_id=values["enterprise_id"],
            registration_no=values["registration_no"], listing_id=values["listing_id"],
            units=values["units"], winning_price=values["winning_price"],
            amount=values["amount"], recorded_by=values["recorded_by"],
            recorded_at=values["recorded_at"], reason=values["reason"],
            version=values["version"]), time=values["recorded_at"])
    await bulk_insert(conn, store.history, history)


def _chunks(rows: list[dict[str, Any]], size: int = 5_000) -> list[list[dict[str, Any]]]:
    return [rows[i:i + size] for i in range(0, len(rows), size)]


def _units(value: object) -> int:
    """Units of a row already validated: plain ASCII digits directly, else the domain's
    parser."""
    if type(value) is str and value.isascii() and value.isdigit():
        return int(value)
    return domain.parse_units(value)


# --- views ------------------------------------------------------------------------------------


def agreement_out(row: Any) -> AgreementOut:
    data = row._asdict()
    accepted = int(data.pop("accepted_units") or 0)
    data.pop("import_id", None)
    return AgreementOut(**data, accepted_units=accepted,
                        progress=domain.progress(accepted, row.units),
                        remaining=domain.remaining(accepted, row.units))


async def list_agreements(conn: Any, *, institution_id: str | None, program_id: str | None,
                          agreement_year: int | None, region: str | None,
                          enterprise_id: str | None, registration_no: str | None,
                          after: str | None, limit: int) -> list[AgreementOut]:
    agreement = AGREEMENTS.c
    query = store.agreements_with_progress().order_by(agreement.agreement_id).limit(limit)
    for column, value in ((agreement.institution_id, institution_id),
                          (agreement.program_id, program_id),
                          (agreement.agreement_year, agreement_year), (agreement.region, region),
                          (agreement.enterprise_id, enterprise_id),
                          (agreement.registration_no,
                           domain.certificate_key(registration_no) if registration_no else None)):
        if value is not None:
            query = query.where(column == value)
    if after:
        query = query.where(agreement.agreement_id > after)
    return [agreement_out(r) for r in (await conn.execute(query)).all()]


async def get_agreement(conn: Any, agreement_id: str) -> AgreementOut | None:
    row = (await conn.execute(store.agreements_with_progress()
                              .where(AGREEMENTS.c.agreement_id == agreement_id))).first()
    return agreement_out(row) if row is not None else None


def _line(agreement: int, accepted: int, **key: str | None) -> ProgressLine:
    return ProgressLine(**key, agreement_units=agreement, accepted_units=accepted,
                        progress=domain.progress(accepted, agreement),
                        remaining=domain.remaining(accepted, agreement))


async def progress_report(
    conn: Any, program: Program, year: int, *, institution_id: str | None,
    region: str | None, enterprise_id: str | None, warnings: list[PacingWarningOut],
) -> ProgressReport:
    """R-AGR-3: accepted units / agreement units per product, per enterprise and in total, of
    one institution (or of all matching ones, summed). Winning products only; a product bought
    without an agreement shows with agreement 0 and no progress (R-AGR-4); non-winning products
    (R-AGR-5) are counted apart. Units count in the agreement year of their acceptance."""
    agreed: dict[tuple[str, str], int] = defaultdict(int)
    accepted: dict[tuple[str, str], int] = defaultdict(int)
    non_winning = 0
    for r in await store.agreement_units_by_product(
            conn, program_id=program.program_id, agreement_year=year,
            institution_id=institution_id, region=region):
        if enterprise_id is None or r.enterprise_id == enterprise_id:
            agreed[(r.registration_no, r.enterprise_id)] += r.units
    for r in await store.accepted_by_product(
            conn, program_id=program.program_id, agreement_year=year,
            institution_id=institution_id, region=region):
        if enterprise_id is not None and r.enterprise_id != enterprise_id:
            continue
        if r.winning:
            accepted[(r.registration_no, r.enterprise_id)] += int(r.accepted)
        else:
            non_winning += int(r.accepted)
    keys = sorted(set(agreed) | set(accepted))
    names = await store.enterprise_names(conn, program_id=program.program_id)
    by_enterprise: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for reg, ent in keys:
        by_enterprise[ent][0] += agreed[(reg, ent)]
        by_enterprise[ent][1] += accepted[(reg, ent)]
    return ProgressReport(
        program_id=program.program_id, agreement_year=year, institution_id=institution_id,
        enterprise_id=enterprise_id,
        by_product=[_line(agreed[k], accepted[k], registration_no=k[0], enterprise_id=k[1],
                          enterprise_name=names.get(k[1])) for k in keys],
        by_enterprise=[_line(a, b, enterprise_id=e, enterprise_name=names.get(e))
                       for e, (a, b) in sorted(by_enterprise.items())],
        total=_line(sum(agreed.values()), sum(accepted.values())),
        non_winning_accepted_units=non_winning, pacing_warnings=warnings,
    )

