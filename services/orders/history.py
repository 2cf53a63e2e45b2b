"""Onboarding a program already under way (issue 12, item 18): the regulator loads what
happened before the platform ran it — per earlier agreement year, each institution's agreement
volume and the units it actually accepted, per product (and so per enterprise).

The volumes become agreements exactly as an agreement import records them (the same
``agreements.import_agreements``, one call per agreement year: versions, history,
``AgreementRecorded``). The actual purchases are kept as ``historical_purchases``, published as
``HistoricalPurchaseRecorded``, and read wherever accepted orders are: progress (R-AGR-3), an
agreement's ``accepted_units`` and a renewal's basis (R-AGR-2: last year's actual purchases).
All or nothing, every bad row named; the same file again is a no-op; a changed row is a new
version with who, when and why (R-AGR-9).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, insert, select, update

from contracts.orders import HistoricalPurchaseRecorded, HistoryImportResult
from services.orders import agreements, domain, errors, store
from services.orders.domain import HistoryRow
from services.orders.errors import program_unknown
from services.orders.programs import Program
from services.runtime.auth import Principal
from services.runtime.db import UnitOfWork, bulk_insert
from services.runtime.history import history_row
from services.runtime.rows import RowError
from services.runtime.texts import text

PURCHASES = store.historical_purchases


def started_years(program: Program, now: Any) -> list[int]:
    """The agreement years that have begun by ``now``: only they can have actual purchases."""
    return [y.index for y in domain.agreement_years(program.execution_start, program.cycle_years)
            if y.start <= now]


async def import_history(uow: UnitOfWork, program_id: str, rows: Sequence[HistoryRow],
                         digest: str, caller: Principal, reason: str | None
                         ) -> HistoryImportResult:
    """ImportProgramHistory: all or nothing; the same file again returns the first result."""
    conn = uow.conn
    program_row = await store.get_program(conn, program_id, for_update=True)
    if program_row is None:
        raise program_unknown(program_id)
    program = Program.of(program_row)
    previous = (await conn.execute(select(store.history_imports.c.result).where(
        store.history_imports.c.program_id == program_id,
        store.history_imports.c.content_sha256 == digest))).scalar()
    if previous is not None:
        return HistoryImportResult.model_validate_json(previous).model_copy(
            update={"replayed": True})
    if not rows:
        raise errors.history_rejected([RowError(0, None, text("the file has no rows"))])
    now = uow.clock.now()
    years = started_years(program, now)
    products = {domain.certificate_key(r.registration_no): r
                for r in await store.winning_listings(conn, program_id)}
    register = await store.region_register(conn, program.region)
    rows, problems = domain.resolve_listings(rows, {r.listing_id: k for k, r in products.items()})
    problems += domain.validate_history_rows(
        rows, years=years, known_products={k: r.enterprise_id for k, r in products.items()},
        region_institutions=frozenset(register) if register is not None else None,
        enterprise_names=await store.enterprise_names(conn, program_id=program_id))
    problems += _register_errors(rows, register)
    if problems:
        raise errors.history_rejected(problems)

    import_id = "HI-" + hashlib.sha256(f"{program_id}|{digest}".encode()).hexdigest()[:24]
    why = reason or f"program history imported (file sha256 {digest[:12]}…)"
    by_year: dict[int, list[HistoryRow]] = {}
    for r in rows:
        by_year.setdefault(domain.parse_year(r.agreement_year, years), []).append(r)
    counts = {"agreements_recorded": 0, "agreements_changed": 0, "agreements_unchanged": 0}
    for year, year_rows in sorted(by_year.items()):
        done = await agreements.import_agreements(
            uow, program_id, year, [r.agreement_row() for r in year_rows],
            agreements.content_hash(f"history|{digest}|{year}".encode()), caller, why)
        counts["agreements_recorded"] += done.recorded
        counts["agreements_changed"] += done.changed
        counts["agreements_unchanged"] += done.unchanged
    recorded, changed, unchanged = await _purchases(uow, program, by_year, products, import_id,
                                                    caller, why)
    result = HistoryImportResult(
        import_id=import_id, program_id=program_id, rows=len(rows),
        agreement_years=sorted(by_year), purchases_recorded=recorded,
        purchases_changed=changed, purchases_unchanged=unchanged, content_sha256=digest,
        imported_by=caller.actor, imported_at=now, **counts)
    await conn.execute(insert(store.history_imports).values(
        import_id=import_id, program_id=program_id, content_sha256=digest,
        result=result.model_dump_json(), reason=why, imported_by=caller.actor,
        imported_at=now))
    return result


def _register_errors(rows: Sequence[HistoryRow], register: dict[str, str] | None
                     ) -> list[RowError]:
    """R-PRG-3, as the agreement import checks it."""
    return agreements.register_errors([r.agreement_row() for r in rows], register)


async def _purchases(uow: UnitOfWork, program: Program, by_year: dict[int, list[HistoryRow]],
                     products: dict[str, Any], import_id: str, caller: Principal, why: str
                     ) -> tuple[int, int, int]:
    """Record each row's accepted units (new, a new version, or as they were)."""
    conn, now = uow.conn, uow.clock.now()
    existing = {r.purchase_id: r for r in (await conn.execute(
        select(PURCHASES.c.purchase_id, PURCHASES.c.accepted_units, PURCHASES.c.version)
        .where(PURCHASES.c.program_id == program.program_id))).all()}
    new_rows: list[dict[str, Any]] = []
    changed_rows: list[dict[str, Any]] = []
    unchanged = 0
    for year, year_rows in by_year.items():
        for r in year_rows:
            cert = domain.certificate_key(r.registration_no)
            product = products[cert]
            institution = r.institution_id.strip()
            units = domain.parse_units(r.accepted_units)
            pid = domain.historical_purchase_id(program.program_id, year, institution, cert)
            current = existing.get(pid)
            if current is not None and current.accepted_units == units:
                unchanged += 1
                continue
            values = {
                "purchase_id": pid, "program_id": program.program_id,
                "region": program.region, "agreement_year": year,
                "institution_id": institution, "enterprise_id": product.enterprise_id,
                "registration_no": cert, "listing_id": product.listing_id,
                "accepted_units": units,
                "version": 1 if current is None else current.version + 1,
                "recorded_by": caller.actor, "recorded_at": now, "reason": why,
                "import_id": import_id,
            }
            (new_rows if current is None else changed_rows).append(values)
    await bulk_insert(conn, PURCHASES, new_rows)
    if changed_rows:
        keys = ("accepted_units", "version", "recorded_by", "recorded_at", "reason",
                "import_id")
        stmt = (update(PURCHASES).where(PURCHASES.c.purchase_id == bindparam("b_id"))
                .values({k: bindparam(f"b_{k}") for k in keys}))
        await conn.execute(stmt, [{"b_id": v["purchase_id"], **{f"b_{k}": v[k] for k in keys}}
                                  for v in changed_rows])
    history = []
    for values in (*new_rows, *changed_rows):
        old = existing.get(values["purchase_id"])
        detail = {"accepted_units": values["accepted_units"], "version": values["version"],
                  "import_id": import_id}
        if old is not None:
            detail["previous_accepted_units"] = old.accepted_units
        history.append(history_row(
            store.HISTORICAL_PURCHASE, values["purchase_id"],
            "recorded" if old is None else "changed", detail, caller.actor, why, now))
        uow.record(HistoricalPurchaseRecorded(
            purchase_id=values["purchase_id"], program_id=values["program_id"],
            agreement_year=values["agreement_year"], institution_id=values["institution_id"],
            enterprise_id=values["enterprise_id"], registration_no=values["registration_no"],
            listing_id=values["listing_id"], accepted_units=values["accepted_units"],
            recorded_by=caller.actor, recorded_at=now, reason=why,
            version=values["version"]), time=now)
    await bulk_insert(conn, store.history, history)
    return len(new_rows), len(changed_rows), unchanged
