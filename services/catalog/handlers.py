"""Catalog command handlers, and the routing table of the events it consumes.

Every change to a listing bumps its version, writes a history row (who, when, why) and records
an event in the same unit of work.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, insert, select, update

from contracts.base import CloudEvent
from contracts.catalog import (
    FieldChange,
    ImportResult,
    ListingPriceChanged,
    ListingReinstated,
    ListingSuspended,
    NonWinningListed,
    NonWinningListingIn,
    ObservationRecorded,
    PriceObservationIn,
    ProgramIn,
    ProgramOut,
    ProgramProfileChanged,
    ProgramPublished,
    SkippedLine,
    WinningProductCorrected,
)
from contracts.monitoring import SUSPENDING, CreditMeasureApplied, CreditMeasureLifted
from contracts.profiles import PolicyProfile
from services.catalog import domain, importing, pricing, store
from services.catalog.importing import WinningRow
from services.catalog.presets import PRESETS
from services.runtime.auth import Principal
from services.runtime.consumer import ConsumerSpec
from services.runtime.db import UnitOfWork
from services.runtime.problems import Problem, not_found

# --- programs (R-PRG-1) ------------------------------------------------------------------------


def resolve_profile(cmd: ProgramIn) -> PolicyProfile:
    if cmd.profile is not None:
        return cmd.profile
    if cmd.preset is None:
        raise Problem(422, "profile-required", "A policy profile is required",
                      f"send 'profile' or a 'preset' (one of {', '.join(sorted(PRESETS))})")
    if cmd.preset not in PRESETS:
        raise Problem(422, "unknown-preset", "Unknown policy profile preset",
                      f"'preset' {cmd.preset!r} is not one of {', '.join(sorted(PRESETS))}",
                      errors=[{"field": "body.preset", "message": "unknown preset"}])
    return PRESETS[cmd.preset]


def program_out(row: Any) -> ProgramOut:
    data = row._asdict()
    data["profile"] = PolicyProfile.model_validate_json(data["profile"])
    return ProgramOut.model_validate(data)


async def publish_program(uow: UnitOfWork, cmd: ProgramIn, caller: Principal) -> ProgramOut:
    """PublishProgram."""
    if await store.get_program(uow.conn, cmd.program_id) is not None:
        raise Problem(409, "program-exists", "Program already exists",
                      f"program {cmd.program_id!r} is already published")
    profile = resolve_profile(cmd).model_copy(update={"version": 1})
    now = uow.clock.now()
    facts = cmd.model_dump(exclude={"profile", "preset"})
    profile_json = profile.model_dump_json()
    await uow.conn.execute(insert(store.programs).values(
        **facts, profile=profile_json, profile_version=1, published_by=caller.actor,
        published_at=now))
    await uow.conn.execute(insert(store.program_profiles).values(
        program_id=cmd.program_id, version=1, profile=profile_json, reason="published",
        changed_by=caller.actor, changed_at=now))
    uow.record(ProgramPublished(**facts, profile=profile, published_by=caller.actor))
    row = await store.get_program(uow.conn, cmd.program_id)
    return program_out(row)


async def change_profile(uow: UnitOfWork, program_id: str, profile: PolicyProfile, reason: str,
                         caller: Principal) -> ProgramOut:
    """ChangeProgramProfile: a new version, never an edit in place."""
    row = await store.get_program(uow.conn, program_id, for_update=True)
    if row is None:
        raise not_found("program", program_id)
    version = row.profile_version + 1
    profile = profile.model_copy(update={"version": version})
    now = uow.clock.now()
    await uow.conn.execute(update(store.programs).where(store.programs.c.program_id == program_id)
                           .values(profile=profile.model_dump_json(), profile_version=version))
    await uow.conn.execute(insert(store.program_profiles).values(
        program_id=program_id, version=version, profile=profile.model_dump_json(),
        reason=reason, changed_by=caller.actor, changed_at=now))
    uow.record(ProgramProfileChanged(program_id=program_id, version=version, profile=profile,
                                     reason=reason, changed_by=caller.actor, changed_at=now))
    return program_out(await store.get_program(uow.conn, program_id))


# --- winning products (R-CAT-1, R-CAT-4, R-CAT-5, R-CAT-7) --------------------------------------


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
        raise Problem(
            409, "corrections-need-confirmation", "Table changes listed winning products",
            f"{len(changed)} rows differ from what is listed; nothing imported. Send "
            "'corrections_reason' to apply them as versioned corrections.",
            errors=[{"row": r.seq, "registration_no": r.registration_no,
                     "changes": {k: {"old": o, "new": n} for k, (o, n) in c.items()}}
                    for r, _, c in changed],
        )
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
        await _history(uow, [(e.listing_id, 1, "listed", e.model_dump(mode="json"))
                             for e in events], caller.actor, "winning product imported")
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
    await _history(uow, [(current.listing_id, version, "corrected",
                          event.model_dump(mode="json")["changes"])], caller.actor, reason)
    uow.record(event)


def listed(row: Any) -> domain.ListedProduct:
    return domain.ListedProduct(
        registration_no=row.registration_no, product_name=row.product_name,
        enterprise_name=row.enterprise_name, registrant=row.registrant,
        product_price=row.product_price, service_price=row.service_price,
        listing_price=row.listing_price,
    )


# --- non-winning listings and the national lowest price (R-CAT-6) -------------------------------


async def _lowest(uow: UnitOfWork, registration_no: str) -> Decimal | None:
    rows = await store.observations(uow.conn, registration_no)
    return pricing.national_lowest([
        pricing.PriceObservation(platform=r.platform, price=r.price, observed_on=r.observed_on,
                                 source_type=r.source_type) for r in rows])


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
        raise Problem(403, "not-your-enterprise", "You can only list your own products",
                      f"'enterprise_name' {cmd.enterprise_name!r} is enterprise "
                      f"{domain.named(named, cmd.enterprise_name)}; you are enterprise {you}")
    lid = domain.listing_id(cmd.program_id, cmd.registration_no)
    if await store.get_listing(uow.conn, lid) is not None:
        raise Problem(409, "already-listed", "Product already listed in this program",
                      f"{cmd.registration_no} is listed as {lid}")
    lowest = await _lowest(uow, cmd.registration_no)
    if lowest is None:
        raise Problem(422, "no-national-lowest-price", "National lowest price unknown",
                      f"no provincial-platform price is recorded for {cmd.registration_no}; "
                      "a non-winning product is listed at no more than it (R-CAT-6)")
    try:
        price = pricing.capped_listing_price(cmd.price, lowest)
    except pricing.ListingPriceAboveNationalLowest as exc:
        raise Problem(422, "above-national-lowest-price", "Price above the national lowest",
                      str(exc), national_lowest=f"{lowest:.2f}") from exc
    now = uow.clock.now()
    event = domain.list_non_winning(
        domain.Program(program.program_id, program.category, program.region), cmd,
        price=price, national_lowest=lowest, now=now, actor=caller.actor)
    await uow.conn.execute(insert(store.listings).values(
        **event.model_dump(exclude={"listed_by"}), status="listed", listed_by=caller.actor,
        updated_at=now))
    await _history(uow, [(lid, 1, "listed", event.model_dump(mode="json"))], caller.actor,
                   "non-winning product listed")
    uow.record(event)
    return NonWinningListed(listing_id=lid, listing_price=price, national_lowest=lowest)


async def record_observation(uow: UnitOfWork, obs: PriceObservationIn,
                             caller: Principal) -> ObservationRecorded:
    """RecordPriceObservation; a new lower national lowest price lowers the listing price of
    every non-winning listing of that product (同步调整)."""
    now = uow.clock.now()
    await uow.conn.execute(insert(store.price_observations).values(
        **obs.model_dump(), recorded_by=caller.actor, recorded_at=now))
    lowest = await _lowest(uow, obs.registration_no)
    lowered = []
    for row in await store.listings_of(uow.conn, registration_no=obs.registration_no,
                                       winning=False):
        new_price = pricing.price_after_observation(row.listing_price, lowest)
        await uow.conn.execute(update(store.listings)
                               .where(store.listings.c.listing_id == row.listing_id)
                               .values(national_lowest=lowest))
        if new_price is None:
            continue
        version = row.version + 1
        await uow.conn.execute(update(store.listings)
                               .where(store.listings.c.listing_id == row.listing_id)
                               .values(listing_price=new_price, version=version,
                                       updated_at=now))
        reason = (f"national lowest price {lowest:.2f} observed on {obs.platform} "
                  f"({obs.observed_on.isoformat()})")
        event = ListingPriceChanged(
            listing_id=row.listing_id, program_id=row.program_id,
            registration_no=row.registration_no, old_price=row.listing_price,
            new_price=new_price, national_lowest=lowest, payment_standard=row.payment_standard,
            reason=reason, changed_by=caller.actor, changed_at=now, version=version)
        await _history(uow, [(row.listing_id, version, "price_changed",
                              {"old": f"{row.listing_price:.2f}", "new": f"{new_price:.2f}"})],
                       caller.actor, reason)
        uow.record(event)
        lowered.append(row.listing_id)
    return ObservationRecorded(registration_no=obs.registration_no, national_lowest=lowest,
                               lowered_listings=lowered)


# --- credit measures (R-CAT-8, R-CRD-3, R-CRD-4) ------------------------------------------------


async def on_measure_applied(uow: UnitOfWork, event: CreditMeasureApplied,
                             ce: CloudEvent) -> None:
    if event.subject_kind != "enterprise" or event.measure not in SUSPENDING:
        return
    refs = await _listing_refs(uow, event.subject_id)
    reach = domain.measure_reach(subject_id=event.subject_id, region=event.region,
                                 scope=event.scope,
                                 registration_nos=frozenset(event.registration_nos),
                                 listings=refs)
    reason = f"credit measure {event.measure} ({event.level}): {event.reason}"
    actor = f"credit:{event.decided_by}"
    for lid in reach:
        already = await uow.conn.scalar(select(store.suspensions.c.listing_id).where(
            store.suspensions.c.listing_id == lid,
            store.suspensions.c.measure_id == event.measure_id))
        if already is not None:
            continue
        await uow.conn.execute(insert(store.suspensions).values(
            listing_id=lid, measure_id=event.measure_id, reason=reason,
            since=event.effective_from))
        row = await store.get_listing(uow.conn, lid, for_update=True)
        assert row is not None
        if row.status == "suspended":
            continue  # already suspended by another measure: this one is recorded too
        version = row.version + 1
        await uow.conn.execute(update(store.listings).where(store.listings.c.listing_id == lid)
                               .values(status="suspended", suspended_reason=reason,
                                       version=version, updated_at=uow.clock.now()))
        await _history(uow, [(lid, version, "suspended", {"measure_id": event.measure_id})],
                       actor, reason)
        uow.record(ListingSuspended(
            listing_id=lid, program_id=row.program_id, enterprise_id=row.enterprise_id,
            reason=reason, measure_id=event.measure_id, suspended_by=actor,
            suspended_at=uow.clock.now(), version=version))


async def on_measure_lifted(uow: UnitOfWork, event: CreditMeasureLifted,
                            ce: CloudEvent) -> None:
    lids = list((await uow.conn.execute(select(store.suspensions.c.listing_id).where(
        store.suspensions.c.measure_id == event.measure_id))).scalars())
    await uow.conn.execute(delete(store.suspensions)
                           .where(store.suspensions.c.measure_id == event.measure_id))
    actor = f"credit:{event.lifted_by}"
    for lid in lids:
        others = await uow.conn.scalar(select(store.suspensions.c.reason)
                                       .where(store.suspensions.c.listing_id == lid))
        row = await store.get_listing(uow.conn, lid, for_update=True)
        assert row is not None
        version = row.version + 1
        if others is not None:  # still suspended by another measure
            await uow.conn.execute(update(store.listings)
                                   .where(store.listings.c.listing_id == lid)
                                   .values(suspended_reason=others))
            continue
        await uow.conn.execute(update(store.listings).where(store.listings.c.listing_id == lid)
                               .values(status="listed", suspended_reason=None, version=version,
                                       updated_at=uow.clock.now()))
        reason = f"credit measure {event.measure_id} lifted: {event.reason}"
        await _history(uow, [(lid, version, "reinstated", {"measure_id": event.measure_id})],
                       actor, reason)
        uow.record(ListingReinstated(
            listing_id=lid, program_id=row.program_id, enterprise_id=row.enterprise_id,
            reason=reason, measure_id=event.measure_id, reinstated_by=actor,
            reinstated_at=uow.clock.now(), version=version))


async def _listing_refs(uow: UnitOfWork, enterprise_id: str) -> list[domain.ListingRef]:
    query = (select(store.listings.c.listing_id, store.listings.c.enterprise_id,
                    store.listings.c.registration_no, store.programs.c.region)
             .join(store.programs, store.programs.c.program_id == store.listings.c.program_id)
             .where(store.listings.c.enterprise_id == enterprise_id))
    return [domain.ListingRef(r.listing_id, r.enterprise_id, r.registration_no, r.region)
            for r in (await uow.conn.execute(query)).all()]


async def _history(uow: UnitOfWork, entries: list[tuple[str, int, str, Any]], actor: str,
                   reason: str) -> None:
    now = uow.clock.now()
    await uow.conn.execute(insert(store.listing_history), [
        {"listing_id": lid, "version": version, "change": change,
         "detail": json.dumps(detail, ensure_ascii=False, default=str), "actor": actor,
         "reason": reason, "at": now}
        for lid, version, change, detail in entries])


CONSUMERS = [
    ConsumerSpec(name="credit-measures", routes={
        CreditMeasureApplied: on_measure_applied,
        CreditMeasureLifted: on_measure_lifted,
    }),
]
