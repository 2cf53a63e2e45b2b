"""Catalog command handlers (and, later, its event routing table)."""

from __future__ import annotations

from sqlalchemy import insert

from contracts.catalog import ImportResult, ProgramIn, ProgramOut, ProgramPublished
from services.catalog import domain, store
from services.catalog.importing import WinningRow
from services.runtime.auth import Principal
from services.runtime.consumer import ConsumerSpec
from services.runtime.db import UnitOfWork
from services.runtime.problems import Problem, not_found


async def publish_program(uow: UnitOfWork, cmd: ProgramIn, caller: Principal) -> ProgramOut:
    """PublishProgram (R-PRG-1)."""
    if await store.get_program(uow.conn, cmd.program_id) is not None:
        raise Problem(
            409,
            "program-exists",
            "Program already exists",
            f"program {cmd.program_id!r} is already published",
        )
    now = uow.clock.now()
    await uow.conn.execute(
        insert(store.programs).values(
            **cmd.model_dump(), published_by=caller.actor, published_at=now
        )
    )
    uow.record(ProgramPublished(**cmd.model_dump(), published_by=caller.actor))
    return ProgramOut(**cmd.model_dump(), published_at=now)


async def import_winning(
    uow: UnitOfWork, program_id: str, rows: list[WinningRow], caller: Principal
) -> ImportResult:
    """ImportWinningProducts (R-CAT-1, R-CAT-4, R-CAT-5): all or nothing; a row already listed
    with the same content is unchanged; a different content for a listed certificate is
    refused (corrections are explicit, versioned changes)."""
    found = await store.get_program(uow.conn, program_id)
    if found is None:
        raise not_found("program", program_id)
    program = domain.Program(found.program_id, found.category, found.region)
    ids = [domain.listing_id(program_id, row.registration_no) for row in rows]
    existing = await store.listings_by_id(uow.conn, ids)
    conflicts, new = [], []
    for lid, row in zip(ids, rows, strict=True):
        current = existing.get(lid)
        if current is None:
            new.append(row)
        elif _listed(current) != domain.listed_product(row):
            conflicts.append(
                {
                    "row": row.seq,
                    "registration_no": row.registration_no,
                    "reason": "differs from the product already listed",
                }
            )
    if conflicts:
        raise Problem(
            409,
            "winning-product-changed",
            "Table changes listed products",
            f"{len(conflicts)} rows differ from what is listed; nothing imported",
            errors=conflicts,
        )
    now = uow.clock.now()
    events = [domain.list_winning(program, row, now=now, actor=caller.actor) for row in new]
    if events:
        await uow.conn.execute(
            insert(store.listings),
            [
                {
                    **e.model_dump(exclude={"listed_at", "listed_by"}),
                    "status": "listed",
                    "listed_at": now,
                    "listed_by": caller.actor,
                }
                for e in events
            ],
        )
        for event in events:
            uow.record(event)
    return ImportResult(
        program_id=program_id,
        imported=len(events),
        unchanged=len(rows) - len(events),
        listing_ids=ids,
    )


def _listed(row: object) -> domain.ListedProduct:
    return domain.ListedProduct(
        registration_no=row.registration_no,  # type: ignore[attr-defined]
        product_name=row.product_name,  # type: ignore[attr-defined]
        enterprise_name=row.enterprise_name,  # type: ignore[attr-defined]
        registrant=row.registrant,  # type: ignore[attr-defined]
        product_price=row.product_price,  # type: ignore[attr-defined]
        service_price=row.service_price,  # type: ignore[attr-defined]
        listing_price=row.listing_price,  # type: ignore[attr-defined]
    )


CONSUMERS: list[ConsumerSpec] = []
