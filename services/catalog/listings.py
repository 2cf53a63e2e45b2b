"""Listings (挂网): importing a program's winning products (R-CAT-1, R-CAT-4, R-CAT-5,
R-CAT-7) from the notice's table in any accepted format, corrections as new versions, listing a
non-winning product at no more than the national lowest price (R-CAT-6), and the views of
listings and their history.

Every change to a listing bumps its version, writes a history row (who, when, why) and records
an event in the same unit of work.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.catalog import (
    FieldChange,
    HistoryEntry,
    ImportResult,
    ListingOut,
    ListingsPage,
    NonWinningListed,
    NonWinningListingIn,
    SkippedLine,
    WinningProductCorrected,
    WinningProductsIn,
)
from contracts.profiles import PolicyProfile
from services.catalog import domain, errors, importing, pricing, store
from services.catalog.importing import TableRejected, WinningRow
from services.catalog.observations import national_lowest
from services.runtime import jsonsql
from services.runtime.auth import Principal
from services.runtime.db import UnitOfWork
from services.runtime.problems import not_found, validation_problem

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TABLE_FORMATS = {
    "application/json": "JSON {rows: [...]}",
    "text/plain": "the notice's own text (its tab-separated attachment table)",
    "text/tab-separated-values": "the notice's attachment table",
    "text/csv": "CSV with the notice's or the English column names",
    XLSX: "XLSX, first sheet, same columns",
}
OWNERS = {"enterprise": "enterprise_id"}
"""Enterprises see only their own products; everyone else sees every listing."""


def enterprise_scope(caller: Principal) -> str | None:
    """The enterprise the caller's reads of listings are limited to (None: every listing)."""
    return caller.filters(OWNERS).get("enterprise_id")


# --- winning products (R-CAT-1, R-CAT-4, R-CAT-5, R-CAT-7) --------------------------------------


def read_table(content_type: str, body: bytes) -> importing.NoticeTable:
    """The winning-products table in any of the accepted formats (R-CAT-1), all or nothing;
    from the notice's text, with the lines skipped inside the table."""
    kind = content_type.split(";")[0].strip().lower()
    try:
        if kind == "application/json":
            try:
                parsed = WinningProductsIn.model_validate_json(body)
            except ValidationError as exc:
                raise validation_problem(exc.errors(), ("body",)) from exc
            rows = [WinningRow(**r.model_dump()) for r in parsed.rows]
            problems = importing.validate(rows)
            if problems:
                raise TableRejected(problems)
            return importing.NoticeTable(rows, [])
        if kind in ("text/plain", "text/tab-separated-values"):
            return importing.read_notice_text(body.decode("utf-8-sig"))
        if kind == "text/csv":
            return importing.NoticeTable(importing.parse_csv(body), [])
        if kind == XLSX:
            return importing.NoticeTable(importing.parse_xlsx(body), [])
    except UnicodeDecodeError as exc:
        raise errors.not_utf8(exc) from exc
    except TableRejected as exc:
        raise errors.table_rejected(exc) from exc
    raise errors.unsupported_media_type(kind, TABLE_FORMATS)


async def import_winning(
    uow: UnitOfWork, program_id: str, rows: Sequence[WinningRow], caller: Principal,
    *, corrections_reason: str | None = None, skipped: Sequence[importing.SkippedLine] = (),
) -> ImportResult:
    """ImportWinningProducts: all or nothing. A row already listed with the same content is
    unchanged; a different content for a listed certificate is a correction, applied only when
    the request says so (with a reason) and then published as a versioned event."""
    found = await store.get_program(uow.conn, program_id)
    if found is None:
        raise not_found("program", program_id)
    program = domain.Program(found.program_id, found.category, found.region)
    profile = PolicyProfile.model_validate_json(found.profile)
    ids = [domain.listing_id(program_id, row.registration_no) for row in rows]
    existing = await store.listings_by_id(uow.conn, ids, for_update=True)
    new: list[WinningRow] = []
    changed: list[tuple[WinningRow, Any, dict[str, tuple[str, str]]]] = []
    for lid, row in zip(ids, rows, strict=True):
        current = existing.get(lid)
        if current is None:
            new.append(row)
            continue
        changes = domain.corrections(listed(current), domain.listed_product(row))
        if changes:
            changed.append((row, current, changes))
    if changed and corrections_reason is None:
        raise errors.corrections_need_confirmation(
            [(row.seq, row.registration_no, changes) for row, _, changes in changed])
    now = uow.clock.now()
    events = []
    for row in new:
        standard = pricing.payment_standard(row.winning_price, profile)
        events.append(domain.list_winning(program, row, now=now, actor=caller.actor)
                      .model_copy(update={"payment_standard": standard.amount,
                                          "coverage": standard.coverage}))
    if events:
        await uow.conn.execute(insert(store.listings), [
            {**e.model_dump(exclude={"listed_by"}), "status": "listed", "listed_by": caller.actor,
             "updated_at": now} for e in events])
        await store.write_listing_history(
            uow.conn, [(e.listing_id, 1, "listed", e.model_dump(mode="json")) for e in events],
            actor=caller.actor, reason="winning product imported", at=now)
        for event in events:
            uow.record(event)
    for row, current, changes in changed:
        await _correct(uow, program, profile, row, current, changes, caller,
                       corrections_reason or "")
    return ImportResult(
        program_id=program_id, imported=len(events), corrected=len(changed),
        unchanged=len(rows) - len(events) - len(changed), listing_ids=ids,
        skipped=len(skipped),
        skipped_lines=[SkippedLine(line=s.line, text=s.text, reason=s.reason)
                       for s in skipped[:importing.MAX_SKIPPED_SHOWN]])


async def _correct(uow: UnitOfWork, program: domain.Program, profile: PolicyProfile,
                   row: WinningRow, current: Any, changes: dict[str, tuple[str, str]],
                   caller: Principal, reason: str) -> None:
    now = uow.clock.now()
    version = current.version + 1
    product = domain.listed_product(row)
    standard = pricing.payment_standard(product.listing_price, profile)
    values = {
        "product_name": product.product_name, "registrant": product.registrant,
        "enterprise_name": product.enterprise_name,
        "enterprise_id": domain.enterprise_id(product.enterprise_name),
        "product_price": product.product_price, "service_price": product.service_price,
        "listing_price": product.listing_price, "payment_standard": standard.amount,
        "coverage": standard.coverage, "version": version, "updated_at": now,
    }
    await uow.conn.execute(update(store.listings)
                           .where(store.listings.c.listing_id == current.listing_id)
                           .values(values))
    event = WinningProductCorrected(
        listing_id=current.listing_id, program_id=program.program_id,
        registration_no=row.registration_no,
        changes={k: FieldChange(old=o, new=n) for k, (o, n) in changes.items()},
        listing_price=product.listing_price, product_name=product.product_name,
        enterprise_id=values["enterprise_id"], enterprise_name=product.enterprise_name,
        registrant=product.registrant, reason=reason, corrected_by=caller.actor,
        corrected_at=now, version=version)
    await store.write_listing_history(
        uow.conn, [(current.listing_id, version, "corrected",
                    event.model_dump(mode="json")["changes"])],
        actor=caller.actor, reason=reason, at=now)
    uow.record(event)


def listed(row: Any) -> domain.ListedProduct:
    return domain.ListedProduct(
        registration_no=row.registration_no, product_name=row.product_name,
        enterprise_name=row.enterprise_name, registrant=row.registrant,
        product_price=row.product_price, service_price=row.service_price,
        listing_price=row.listing_price,
    )


# --- non-winning listings (R-CAT-6) ------------------------------------------------------------


async def list_non_winning(uow: UnitOfWork, cmd: NonWinningListingIn,
                           caller: Principal) -> NonWinningListed:
    """ListNonWinningProduct: an enterprise lists a product of the category that did not win,
    at no more than the national lowest price."""
    program = await store.get_program(uow.conn, cmd.program_id)
    if program is None:
        raise not_found("program", cmd.program_id)
    named = domain.enterprise_id(cmd.enterprise_name)
    if caller.role == "enterprise" and named != caller.org:
        you = domain.named(caller.org, await store.enterprise_name(uow.conn, caller.org))
        raise errors.not_your_enterprise(cmd.enterprise_name,
                                         domain.named(named, cmd.enterprise_name), you)
    lid = domain.listing_id(cmd.program_id, cmd.registration_no)
    if await store.get_listing(uow.conn, lid) is not None:
        raise errors.already_listed(cmd.registration_no, lid)
    lowest = await national_lowest(uow.conn, cmd.registration_no)
    if lowest is None:
        raise errors.no_national_lowest_price(cmd.registration_no)
    try:
        price = pricing.capped_listing_price(cmd.price, lowest)
    except pricing.ListingPriceAboveNationalLowest as exc:
        raise errors.above_national_lowest_price(exc.requested, lowest) from exc
    now = uow.clock.now()
    event = domain.list_non_winning(
        domain.Program(program.program_id, program.category, program.region), cmd,
        price=price, national_lowest=lowest, now=now, actor=caller.actor)
    await uow.conn.execute(insert(store.listings).values(
        **event.model_dump(exclude={"listed_by"}), status="listed", listed_by=caller.actor,
        updated_at=now))
    await store.write_listing_history(
        uow.conn, [(lid, 1, "listed", event.model_dump(mode="json"))], actor=caller.actor,
        reason="non-winning product listed", at=now)
    uow.record(event)
    return NonWinningListed(listing_id=lid, listing_price=price, national_lowest=lowest)


# --- views -------------------------------------------------------------------------------------


async def search_listings(
    conn: AsyncConnection, caller: Principal, *, program_id: str | None,
    category: str | None, enterprise_id: str | None, registration_no: str | None,
    name: str | None, status: str | None, winning: bool | None, cursor: str | None, limit: int,
) -> bytes:
    """A page of listings (JSON text), in a stable order (by id), that the caller may see."""
    scope = enterprise_scope(caller)
    if scope is not None and enterprise_id not in (None, scope):
        return ListingsPage(items=[]).model_dump_json().encode()
    query, params = store.search_listings(
        program_id=program_id, category=category, enterprise_id=scope or enterprise_id,
        registration_no=registration_no, name=name, status=status, winning=winning,
        after=cursor)
    return await jsonsql.page(conn, query, params, ListingOut, key="listing_id", limit=limit)


async def get_listing(conn: AsyncConnection, caller: Principal, listing_id: str) -> ListingOut:
    row = await store.get_listing(conn, listing_id, enterprise_id=enterprise_scope(caller))
    if row is None:
        raise not_found("listing", listing_id)
    return ListingOut.model_validate(row._asdict())


async def listing_history(conn: AsyncConnection, caller: Principal,
                          listing_id: str) -> list[HistoryEntry]:
    """Every change of a listing: version, what, who, when, why."""
    if await store.get_listing(conn, listing_id,
                               enterprise_id=enterprise_scope(caller)) is None:
        raise not_found("listing", listing_id)
    return await store.listing_changes(conn, listing_id)
