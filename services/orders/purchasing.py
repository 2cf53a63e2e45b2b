"""Purchase orders, the institution's commands (R-CAT-5, R-CAT-8, R-AGR-4/5/6/7/8/9): placing
at exactly the listing price, and acting on a delivered or not yet shipped order (accept fully
or partly, reject, cancel). Each loads what it needs, lets the domain decide
(``domain.decide_order``, ``domain.transition``, ``domain.accept``), and records the change: the
order's row, a history row and an event. Supply's events move the order in ``lifecycle``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from contracts.orders import (
    AcceptanceIn,
    OrderAccepted,
    OrderCancelled,
    OrderIn,
    OrderOut,
    OrderPlaced,
    OrderRejected,
)
from services.orders import domain, errors, pacing, store
from services.orders.domain import OrderAction, OrderStatus
from services.orders.order_views import order_out
from services.orders.programs import Program
from services.runtime.auth import Principal
from services.runtime.db import UnitOfWork
from services.runtime.ids import time_ordered_id
from services.runtime.problems import Problem, not_found

OWN_ORDERS = {"institution": "institution_id"}
"""An institution acts on its own orders only (another's is not found)."""


def new_order_id(now: datetime) -> str:
    """Time-ordered (so pages of orders run oldest first) and unguessable."""
    return time_ordered_id("O", now)


def placement_lock(institution_id: str) -> str:
    """The lock an institution's placements hold (GroupCommit's ``lock``): its orders are
    decided one after the other, also across processes, so that two cannot both spend the same
    remaining agreement volume (R-AGR-4)."""
    return f"placement:{institution_id}"


def placement_context(rows: Sequence[Any], now: datetime) -> domain.PlacementContext:
    """The context rows of one order (``store.order_contexts``) as the domain's plain values:
    the listing, its program, the institution's registration, and its agreement volumes for
    the product per agreement year with the units ordered per month and committed."""
    if not rows:
        return domain.PlacementContext(now=now, listing=None, program=None,
                                       institution_region=None, region_has_register=False)
    first = rows[0]
    listing = domain.ListingFacts(
        listing_id=first.listing_id, program_id=first.program_id, status=first.status,
        suspended_reason=first.suspended_reason, listing_price=first.listing_price,
        registration_no=first.registration_no, enterprise_id=first.enterprise_id,
        winning=first.winning)
    program = None
    if first.program_known is not None:
        known = Program.of(first)
        program = domain.ProgramFacts(
            program_id=known.program_id, region=known.region,
            execution_start=known.execution_start, cycle_years=known.cycle_years,
            pacing=known.pacing)
    years: dict[int, Any] = {}  # agreement year → its first row (volume, last month warned)
    ordered: dict[int, dict[int, int]] = {}
    committed: dict[int, int] = {}
    for row in rows:  # one per agreement year and month with orders (or one without orders)
        year = row.agreement_year
        if year is None:
            continue
        if year not in years:
            years[year], ordered[year], committed[year] = row, {}, 0
        if row.month is not None:
            ordered[year][row.month] = int(row.ordered)
            committed[year] += int(row.committed)
    return domain.PlacementContext(
        now=now, listing=listing, program=program,
        institution_region=first.institution_region,
        region_has_register=bool(first.region_known),
        volumes={year: domain.AgreementVolume(units=row.agreement_units, ordered=ordered[year],
                                              committed=committed[year],
                                              last_warned_month=row.last_warned_month)
                 for year, row in years.items()})


async def place_orders(uow: UnitOfWork, requests: Sequence[tuple[OrderIn, Principal]]
                       ) -> list[OrderOut | Problem]:
    """PlaceOrder for orders arriving together (group commit): each is decided as if placed
    after the ones before it (it sees their units), with one context query and one insert for
    all. Each gets its order or the problem refusing it; a refused order writes nothing. Run
    holding the institutions' ``placement_lock`` (``api.place_order``).

    Refused unless the listing is known, listed (not suspended, R-CAT-8) and the price is
    exactly its listing price (R-CAT-5); beyond-agreement and no-agreement orders are filled
    at the winning price (R-AGR-4), non-winning listings count apart (R-AGR-5)."""
    contexts = await store.order_contexts(
        uow.conn, [(cmd.listing_id, cmd.institution_id) for cmd, _ in requests])
    earlier = domain.Earlier()
    outcomes: list[OrderOut | Problem] = []
    placed: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for (cmd, caller), rows in zip(requests, contexts, strict=True):
        now = uow.clock.now()
        try:
            decision = domain.decide_order(placement_context(rows, now), cmd, earlier)
        except (domain.PlacementRefused, domain.PriceMismatch) as refused:
            outcomes.append(errors.placement_refused(refused))
            continue
        values, detail = await _record(uow, cmd, caller, decision, now)
        warned = False
        if decision.pacing_warnings:
            warned = await pacing.raise_warning(
                uow, decision.program_id, decision.month, institution_id=cmd.institution_id,
                registration_no=decision.registration_no,
                annual_units=decision.annual_units or 0,
                monthly_orders=list(decision.monthly_orders),
                found=list(decision.pacing_warnings),
                raised_by=f"order:{values['order_id']}") is not None
        earlier.add(decision, warned=warned)
        placed.append((values, detail))
        outcomes.append(order_out(_Row(values)))
    await store.insert_orders(uow.conn, placed)
    return outcomes


async def _record(uow: UnitOfWork, cmd: OrderIn, caller: Principal, decision: domain.Decision,
                  now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    """A decided order's values and 'placed' history detail (``store.insert_orders`` writes
    them), and its ``OrderPlaced``."""
    order_id = new_order_id(now)
    values = {
        "order_id": order_id, "program_id": decision.program_id, "region": decision.region,
        "agreement_year": decision.month.year, "agreement_month": decision.month.month,
        "institution_id": cmd.institution_id, "listing_id": cmd.listing_id,
        "registration_no": decision.registration_no, "enterprise_id": decision.enterprise_id,
        "winning": decision.winning, "units": cmd.units, "unit_price": decision.unit_price,
        "amount": decision.amount, "order_class": decision.order_class.value,
        "status": OrderStatus.PLACED.value, "placed_by": caller.actor, "placed_at": now,
        "updated_at": now, "version": 1,
    }
    detail = {"status": "placed", "units": cmd.units,
              "unit_price": f"{decision.unit_price:.2f}",
              "order_class": decision.order_class.value,
              "units_within_agreement": decision.units_within,
              "units_beyond_agreement": decision.units_beyond}
    uow.record(OrderPlaced(
        order_id=order_id, program_id=decision.program_id, institution_id=cmd.institution_id,
        region=decision.region, listing_id=cmd.listing_id,
        registration_no=decision.registration_no, enterprise_id=decision.enterprise_id,
        units=cmd.units, unit_price=decision.unit_price, amount=decision.amount,
        order_class=decision.order_class.value, placed_by=caller.actor, placed_at=now,
        agreement_year=decision.month.year))
    return values, detail


class _Row:
    """A dict as a row (``_asdict``), to render what was just inserted without re-reading."""

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = {c: None for c in store.orders.c.keys()} | values

    def _asdict(self) -> dict[str, Any]:
        return dict(self._values)


# --- the institution's actions ------------------------------------------------------------------


async def _own_order(uow: UnitOfWork, order_id: str, caller: Principal) -> Any:
    row = await store.get_order(uow.conn, order_id, for_update=True)
    if row is None or any(getattr(row, column) != org
                          for column, org in caller.filters(OWN_ORDERS).items()):
        raise not_found("order", order_id)
    return row


def _move(row: Any, action: OrderAction) -> OrderStatus:
    try:
        return domain.transition(OrderStatus(row.status), action)
    except domain.IllegalTransition as exc:
        raise errors.illegal_transition(exc) from exc


async def cancel(uow: UnitOfWork, order_id: str, reason: str, caller: Principal) -> OrderOut:
    """CancelOrder: only before shipping (R-AGR-8)."""
    row = await _own_order(uow, order_id, caller)
    status = _move(row, OrderAction.CANCEL)
    new = await store.change_order(uow.conn, row, "cancelled",
                                   {"status": status.value, "reason": reason},
                                   {"status": status.value}, caller.actor, reason,
                                   uow.clock.now())
    uow.record(OrderCancelled(order_id=order_id, institution_id=row.institution_id,
                              reason=reason, cancelled_by=caller.actor,
                              cancelled_at=new.updated_at))
    return order_out(new)


async def accept(uow: UnitOfWork, order_id: str, cmd: AcceptanceIn,
                 caller: Principal) -> OrderOut:
    """AcceptDelivery (交货验收): all units, or some (partial, with a reason for the rest).
    Only accepted units count toward progress; the instant starts the settlement clock."""
    row = await _own_order(uow, order_id, caller)
    _move(row, OrderAction.ACCEPT)  # delivered, or a 409 naming the status
    try:
        result = domain.accept(row.units, row.delivered_units or 0, cmd.accepted_units)
    except domain.InvalidAcceptance as exc:
        raise errors.invalid_acceptance(exc) from exc
    reason = (cmd.reason or "").strip() or None
    if result.refused_units and reason is None:
        raise errors.reason_required(result.refused_units)
    status = domain.transition(OrderStatus(row.status), result.action)
    now = uow.clock.now()
    amount = domain.order_amount(result.accepted_units, row.unit_price)
    program = await store.get_program(uow.conn, row.program_id)
    year = (Program.of(program).year_at(now) if program is not None else None) \
        or row.agreement_year
    new = await store.change_order(
        uow.conn, row, status.value,
        {"status": status.value, "accepted_units": result.accepted_units,
         "accepted_amount": amount, "accepted_at": now, "accepted_year": year,
         "reason": reason},
        {"status": status.value, "accepted_units": result.accepted_units,
         "refused_units": result.refused_units,
         "undelivered_units": result.undelivered_units, "amount": f"{amount:.2f}"},
        caller.actor, reason or "delivery accepted", now)
    uow.record(OrderAccepted(
        order_id=order_id, program_id=row.program_id, institution_id=row.institution_id,
        enterprise_id=row.enterprise_id, listing_id=row.listing_id,
        registration_no=row.registration_no, distributor_id=row.distributor_id,
        accepted_units=result.accepted_units, rejected_units=result.refused_units,
        unit_price=row.unit_price, amount=amount, rejection_reason=reason,
        accepted_by=caller.actor, accepted_at=now))
    return order_out(new)


async def reject(uow: UnitOfWork, order_id: str, reason: str, caller: Principal) -> OrderOut:
    """RejectDelivery: the whole delivery, with a reason (R-AGR-8)."""
    row = await _own_order(uow, order_id, caller)
    status = _move(row, OrderAction.REJECT)
    try:
        why = domain.rejection_reason(reason)
    except domain.InvalidAcceptance as exc:
        raise errors.REASON_REQUIRED(exc.args[0]) from exc
    new = await store.change_order(uow.conn, row, "rejected",
                                   {"status": status.value, "reason": why},
                                   {"status": status.value}, caller.actor, why,
                                   uow.clock.now())
    uow.record(OrderRejected(order_id=order_id, institution_id=row.institution_id,
                             enterprise_id=row.enterprise_id, reason=why,
                             rejected_by=caller.actor, rejected_at=new.updated_at))
    return order_out(new)
