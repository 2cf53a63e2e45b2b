"""Purchase orders (R-CAT-5, R-CAT-8, R-AGR-4/5/7/8/9): placing at exactly the listing price,
the lifecycle placed → routed → shipped → delivered (supply's events) → accepted / partially
accepted / rejected (the institution), cancelled before shipping; every change a history row
and an event."""

from __future__ import annotations

import logging
import secrets
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update

from contracts.orders import (
    AcceptanceIn,
    OrderAccepted,
    OrderCancelled,
    OrderIn,
    OrderOut,
    OrderPlaced,
    OrderRejected,
)
from contracts.supply import OrderDelivered, OrderRouted, OrderShipped, SupplyRiskOpened
from services.orders import domain, pacing, store
from services.orders.domain import OrderAction, OrderStatus
from services.orders.programs import Program, parse_profile
from services.runtime.auth import Principal
from services.runtime.db import UnitOfWork
from services.runtime.problems import Problem, not_found

log = logging.getLogger("vbp.orders")
O = store.orders  # noqa: E741


def new_order_id(uow: UnitOfWork) -> str:
    """Time-ordered (so pages of orders run oldest first) and unguessable."""
    return f"O-{int(uow.clock.now().timestamp() * 1000):012x}{secrets.token_hex(6)}"


def placement_lock(institution_id: str) -> str:
    """The lock an institution's placements hold (GroupCommit's ``lock``): its orders are
    decided one after the other, also across processes, so that two cannot both spend the same
    remaining agreement volume (R-AGR-4)."""
    return f"placement:{institution_id}"


def order_out(row: Any, names: dict[str, str] | None = None) -> OrderOut:
    """An order as answered; ``names`` (enterprise id → name) puts the enterprise's name
    beside its id (the views do; a command's answer carries the id alone)."""
    data = row._asdict()
    for name in ("agreement_month", "winning", "accepted_year"):
        data.pop(name, None)
    if names:
        data["enterprise_name"] = names.get(data["enterprise_id"])
    return OrderOut.model_validate(data)


async def order_view(conn: Any, row: Any) -> OrderOut:
    """One order for a reader, with its enterprise's name."""
    return order_out(row, await store.enterprise_names(conn, enterprise_ids=[row.enterprise_id]))


def _program(ctx: Any) -> Program:
    return Program(program_id=ctx.program_id, category=ctx.category, region=ctx.region,
                   execution_start=ctx.execution_start, cycle_years=ctx.cycle_years,
                   profile=parse_profile(ctx.profile) if ctx.profile else None,
                   profile_version=ctx.profile_version)


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
    earlier = _Earlier()
    outcomes: list[OrderOut | Problem] = []
    placed: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for (cmd, caller), rows in zip(requests, contexts, strict=True):
        try:
            values, detail = await _place(uow, cmd, caller, rows, earlier)
        except Problem as refused:
            outcomes.append(refused)
            continue
        placed.append((values, detail))
        outcomes.append(order_out(_Row(values)))
    await store.insert_orders(uow.conn, placed)
    return outcomes


class _Earlier:
    """What the orders placed before in the same transaction, not yet inserted, add to the
    context rows: units per (institution, program, product, agreement year) and month, and
    the months warned for."""

    def __init__(self) -> None:
        self.units: dict[tuple[str, str, str, int], dict[int, int]] = defaultdict(dict)
        self.warned: dict[tuple[str, str, str, int], int] = {}


async def _place(uow: UnitOfWork, cmd: OrderIn, caller: Principal, rows: list[Any],
                 earlier: _Earlier) -> tuple[dict[str, Any], dict[str, Any]]:
    """One order: checked, classified, its event recorded and its pacing judged; the order's
    values and history detail (the caller inserts them)."""
    if not rows:
        raise Problem(422, "unknown-listing", "Unknown listing",
                      f"listing {cmd.listing_id!r} is not listed (R-CAT-5)",
                      errors=[{"field": "body.listing_id", "message": "unknown listing"}])
    ctx = rows[0]
    if ctx.program_known is None:
        raise Problem(422, "unknown-program", "The listing's program is not known yet",
                      f"program {ctx.program_id!r} of listing {cmd.listing_id!r} is not known "
                      "to the orders service yet")
    if ctx.status != "listed":
        raise Problem(422, "listing-suspended", "Listing suspended",
                      f"listing {cmd.listing_id!r} is suspended and cannot be ordered (R-CAT-8): "
                      f"{ctx.suspended_reason or 'no reason given'}",
                      listing_id=cmd.listing_id)
    try:
        domain.check_order_price(cmd.unit_price, ctx.listing_price)
    except domain.PriceMismatch as exc:
        raise Problem(422, "price-mismatch", "Unit price is not the listing price", str(exc),
                      unit_price=f"{cmd.unit_price:.2f}",
                      listing_price=f"{ctx.listing_price:.2f}",
                      errors=[{"field": "body.unit_price",
                               "message": f"must be {ctx.listing_price:.2f}"}]) from exc
    if ctx.region_known and ctx.institution_region != ctx.region:
        raise Problem(403, "institution-not-in-region", "Institution not in the program's region",
                      f"institution {cmd.institution_id!r} is not registered in {ctx.region!r}")
    program = _program(ctx)
    now = uow.clock.now()
    month = domain.agreement_month(now, program.execution_start, program.cycle_years)
    if month is None:
        raise Problem(422, "outside-cycle", "Outside the program's cycle",
                      f"program {program.program_id!r} is executed from "
                      f"{program.execution_start.isoformat()} for {program.cycle_years} years "
                      "(R-AGR-4: orders are filled until the cycle ends)")
    this_year = [r for r in rows if r.agreement_year == month.year]
    annual = this_year[0].agreement_units if this_year else None
    per_month = {r.month: int(r.ordered) for r in this_year if r.month is not None}
    committed = sum(int(r.committed) for r in this_year if r.month is not None)
    key = (cmd.institution_id, program.program_id, ctx.registration_no, month.year)
    for m, units in earlier.units.get(key, {}).items():  # placed orders: ordered = committed
        per_month[m] = per_month.get(m, 0) + units
        committed += units
    remaining = None if annual is None else domain.remaining(committed, annual)
    order_class = domain.classify_order(cmd.units, remaining, ctx.winning)
    amount = domain.order_amount(cmd.units, ctx.listing_price)
    order_id = new_order_id(uow)
    values = {
        "order_id": order_id, "program_id": program.program_id, "region": program.region,
        "agreement_year": month.year, "agreement_month": month.month,
        "institution_id": cmd.institution_id, "listing_id": cmd.listing_id,
        "registration_no": ctx.registration_no, "enterprise_id": ctx.enterprise_id,
        "winning": ctx.winning, "units": cmd.units, "unit_price": ctx.listing_price,
        "amount": amount, "order_class": order_class.value, "status": OrderStatus.PLACED.value,
        "placed_by": caller.actor, "placed_at": now, "updated_at": now, "version": 1,
    }
    within, beyond = (domain.split_units(cmd.units, remaining) if ctx.winning else (0, 0))
    detail = {"status": "placed", "units": cmd.units, "unit_price": f"{ctx.listing_price:.2f}",
              "order_class": order_class.value, "units_within_agreement": within,
              "units_beyond_agreement": beyond}
    uow.record(OrderPlaced(
        order_id=order_id, program_id=program.program_id, institution_id=cmd.institution_id,
        region=program.region, listing_id=cmd.listing_id, registration_no=ctx.registration_no,
        enterprise_id=ctx.enterprise_id, units=cmd.units, unit_price=ctx.listing_price,
        amount=amount, order_class=order_class.value, placed_by=caller.actor, placed_at=now,
        agreement_year=month.year))
    earlier_months = earlier.units[key]
    earlier_months[month.month] = earlier_months.get(month.month, 0) + cmd.units
    policy = program.pacing
    last_warned = earlier.warned.get(key, this_year[0].last_warned_month if this_year else None)
    if policy is not None and annual and ctx.winning and last_warned != month.month:
        per_month[month.month] = per_month.get(month.month, 0) + cmd.units
        if await pacing.on_order_placed(
                uow, program, policy, month, institution_id=cmd.institution_id,
                registration_no=ctx.registration_no, annual_units=annual, per_month=per_month,
                order_id=order_id) is not None:
            earlier.warned[key] = month.month
    return values, detail


class _Row:
    """A dict as a row (``_asdict``), to render what was just inserted without re-reading."""

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = {c: None for c in O.c.keys()} | values

    def _asdict(self) -> dict[str, Any]:
        return dict(self._values)


# --- the institution's actions ------------------------------------------------------------------


async def _own_order(uow: UnitOfWork, order_id: str, caller: Principal) -> Any:
    row = await store.get_order(uow.conn, order_id, for_update=True)
    if row is None or (caller.role == "institution" and row.institution_id != caller.org):
        raise not_found("order", order_id)
    return row


def _move(row: Any, action: OrderAction) -> OrderStatus:
    try:
        return domain.transition(OrderStatus(row.status), action)
    except domain.IllegalTransition as exc:
        raise Problem(409, "illegal-transition", "Not allowed in the order's status", str(exc),
                      status_now=row.status, action=action.value) from exc


async def _apply(uow: UnitOfWork, row: Any, change: str, values: dict[str, Any],
                 detail: dict[str, Any], actor: str, reason: str) -> Any:
    now = uow.clock.now()
    version = row.version + 1
    await uow.conn.execute(update(O).where(O.c.order_id == row.order_id)
                           .values(**values, updated_at=now, version=version))
    await store.add_history(uow.conn, [store.history_row(
        "order", row.order_id, change, {**detail, "version": version}, actor, reason, now)])
    return await store.get_order(uow.conn, row.order_id)


async def cancel(uow: UnitOfWork, order_id: str, reason: str, caller: Principal) -> OrderOut:
    """CancelOrder: only before shipping (R-AGR-8)."""
    row = await _own_order(uow, order_id, caller)
    status = _move(row, OrderAction.CANCEL)
    new = await _apply(uow, row, "cancelled", {"status": status.value, "reason": reason},
                       {"status": status.value}, caller.actor, reason)
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
        raise Problem(422, "invalid-acceptance", "Acceptance not possible", str(exc),
                      errors=[{"field": "body.accepted_units", "message": str(exc)}]) from exc
    reason = (cmd.reason or "").strip() or None
    if result.refused_units and reason is None:
        raise Problem(422, "reason-required", "A reason is required",
                      f"{result.refused_units} delivered units are not accepted: say why",
                      errors=[{"field": "body.reason", "message": "required"}])
    status = domain.transition(OrderStatus(row.status), result.action)
    now = uow.clock.now()
    amount = domain.order_amount(result.accepted_units, row.unit_price)
    program = await store.get_program(uow.conn, row.program_id)
    year = (Program.of(program).year_at(now) if program is not None else None) \
        or row.agreement_year
    new = await _apply(
        uow, row, status.value,
        {"status": status.value, "accepted_units": result.accepted_units,
         "accepted_amount": amount, "accepted_at": now, "accepted_year": year,
         "reason": reason},
        {"status": status.value, "accepted_units": result.accepted_units,
         "refused_units": result.refused_units,
         "undelivered_units": result.undelivered_units, "amount": f"{amount:.2f}"},
        caller.actor, reason or "delivery accepted")
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
        raise Problem(422, "reason-required", "A reason is required", str(exc)) from exc
    new = await _apply(uow, row, "rejected", {"status": status.value, "reason": why},
                       {"status": status.value}, caller.actor, why)
    uow.record(OrderRejected(order_id=order_id, institution_id=row.institution_id,
                             enterprise_id=row.enterprise_id, reason=why,
                             rejected_by=caller.actor, rejected_at=new.updated_at))
    return order_out(new)


# --- supply's events ----------------------------------------------------------------------------


async def _supply_move(uow: UnitOfWork, order_id: str, action: OrderAction, change: str,
                       values: dict[str, Any], detail: dict[str, Any], actor: str,
                       reason: str) -> None:
    row = await store.get_order(uow.conn, order_id, for_update=True)
    if row is None:
        log.info("%s for order %s, not an order of this service: ignored", change, order_id)
        return
    try:
        status = domain.transition(OrderStatus(row.status), action)
    except domain.IllegalTransition as exc:
        # e.g. routed after the institution cancelled: the order's status stands; noted.
        log.warning("order %s: %s", order_id, exc)
        await store.add_history(uow.conn, [store.history_row(
            "order", order_id, f"{change}_ignored", {"status": row.status}, actor, str(exc),
            uow.clock.now())])
        return
    await _apply(uow, row, change, {**values, "status": status.value},
                 {**detail, "status": status.value}, actor, reason)


async def on_routed(uow: UnitOfWork, event: OrderRouted, ce: Any) -> None:
    reason = (f"re-routed from {event.rerouted_from}" if event.rerouted_from
              else "routed to the assigned distributor")
    await _supply_move(uow, event.order_id, OrderAction.ROUTE, "routed",
                       {"distributor_id": event.distributor_id, "supply_risk": None},
                       {"distributor_id": event.distributor_id,
                        "assignment_id": event.assignment_id,
                        "rerouted_from": event.rerouted_from},
                       f"supply:{ce.source}", reason)


async def on_shipped(uow: UnitOfWork, event: OrderShipped, ce: Any) -> None:
    await _supply_move(uow, event.order_id, OrderAction.SHIP, "shipped",
                       {"shipped_units": event.units},
                       {"units": event.units, "distributor_id": event.distributor_id,
                        "shipped_at": event.shipped_at.isoformat()},
                       event.recorded_by, "shipped")


async def on_delivered(uow: UnitOfWork, event: OrderDelivered, ce: Any) -> None:
    await _supply_move(uow, event.order_id, OrderAction.DELIVER, "delivered",
                       {"delivered_units": event.units},
                       {"units": event.units, "distributor_id": event.distributor_id,
                        "delivered_at": event.delivered_at.isoformat(),
                        "delivery_seconds": event.delivery_seconds},
                       event.recorded_by, "delivered")


async def on_supply_risk(uow: UnitOfWork, event: SupplyRiskOpened, ce: Any) -> None:
    row = await store.get_order(uow.conn, event.order_id, for_update=True)
    if row is None:
        return
    await _apply(uow, row, "supply_risk_opened", {"supply_risk": event.reason},
                 {"status": row.status}, f"supply:{ce.source}", event.reason)


# --- reads ------------------------------------------------------------------------------------


def scope_filters(caller: Principal) -> dict[str, str]:
    """Who sees which orders: an institution its own, an enterprise those of its products, a
    distributor those routed to it; regulators and operators all."""
    return {"institution": {"institution_id": caller.org},
            "enterprise": {"enterprise_id": caller.org},
            "distributor": {"distributor_id": caller.org}}.get(caller.role, {})


async def get_visible(conn: Any, order_id: str, caller: Principal) -> Any:
    row = await store.get_order(conn, order_id)
    if row is None or any(getattr(row, k) != v for k, v in scope_filters(caller).items()):
        raise not_found("order", order_id)
    return row


async def list_orders(conn: Any, caller: Principal, *, filters: dict[str, Any],
                      after: str | None, limit: int) -> list[OrderOut]:
    query = select(O).order_by(O.c.order_id).limit(limit)
    for name, value in {**filters, **scope_filters(caller)}.items():
        if value is not None:
            query = query.where(O.c[name] == value)
    if after:
        query = query.where(O.c.order_id > after)
    rows = (await conn.execute(query)).all()
    names = await store.enterprise_names(conn, enterprise_ids=[r.enterprise_id for r in rows])
    return [order_out(r, names) for r in rows]
