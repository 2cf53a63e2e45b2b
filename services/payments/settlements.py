"""Settlements of accepted goods (R-PAY-1) and direct settlement (R-PAY-5).

Every ``OrderAccepted`` opens a payable (its id is the order's): owed by the institution to
the enterprise, due before 00:00 Asia/Shanghai on the first day of the second month after the
Shanghai month of acceptance; in a direct-settlement program owed by the fund (the region's
paying agency) instead, and then deducted from the institution's next fund payments. The
payer records payments (partial allowed); what is unpaid at the deadline is overdue
(``overdue.py``).
"""

from __future__ import annotations

import json
import secrets
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from contracts.base import CloudEvent
from contracts.orders import OrderAccepted
from contracts.payments import PayableOpened, PayableOut, PayablePaid
from services.payments import errors, metrics, programs, store
from services.payments.domain import postings
from services.payments.domain.deadlines import age_bucket, settlement_due_for
from services.payments.domain.ledger import LedgerRefused, transfer_id
from services.payments.events import child_span, json_instant, uuid7_prefix
from services.runtime.auth import Principal
from services.runtime.clock import days_overdue
from services.runtime.db import UnitOfWork

PAYABLES = store.payables
ZERO = Decimal("0.00")


async def on_orders_accepted(uow: UnitOfWork,
                             items: Sequence[tuple[OrderAccepted, CloudEvent]]) -> None:
    """Open the payables of many acceptances in a few statements: one insert of the payables,
    their deadlines and their ``PayableOpened`` events (a replayed acceptance's payable exists
    already and opens nothing, and publishes nothing), and the ledger transfers (one insert,
    one upsert of the accounts' sums). The events' payloads are written here as the contract
    dumps them (``opened_payload``), without a model and an envelope per event (issue #14)."""
    conn = uow.conn
    now = uow.clock.now()
    known: dict[str, programs.Program] = {}
    rows: dict[str, dict[str, Any]] = {}
    causes: dict[str, CloudEvent] = {}
    for event, ce in items:
        if event.order_id in rows:
            continue  # the same order twice in one chunk: the first opens it
        if event.program_id not in known:
            known[event.program_id] = await programs.load(conn, event.program_id)
        program = known[event.program_id]
        fund = program.direct_settlement
        rows[event.order_id] = {
            "payable_id": event.order_id, "program_id": event.program_id,
            "region": program.region, "institution_id": event.institution_id,
            "enterprise_id": event.enterprise_id, "distributor_id": event.distributor_id,
            "payer": "fund" if fund else "institution",
            "payer_id": program.agency_id if fund else event.institution_id,
            "amount": event.amount, "paid": ZERO, "accepted_at": event.accepted_at,
            "due_at": settlement_due_for(program.profile, event.accepted_at),
            "status": "open"}
        causes[event.order_id] = ce
    events = opened_events(uow, list(rows.values()), causes, now)
    opened = await store.open_payables(conn, list(rows.values()), events)
    batch = []
    per_program: Counter[str] = Counter()
    for payable_id in opened:
        row = rows[payable_id]
        batch += postings.payable_opened(
            f"accepted:{causes[payable_id].id}", row["payer_id"], row["enterprise_id"],
            row["institution_id"], row["amount"], row["payer"] == "fund")
        per_program[row["program_id"]] += 1
    await store.post_unlimited(conn, batch, now)
    for program_id, count in per_program.items():
        metrics.PAYABLES_OPENED.labels(program_id).inc(count)


def opened_events(uow: UnitOfWork, rows: Sequence[dict[str, Any]],
                  causes: Mapping[str, CloudEvent], now: datetime) -> store.Events:
    """The ``PayableOpened`` outbox rows of ``rows`` (written for the payables that open):
    time-ordered event ids (UUIDv7: this moment and random bits, then the row's number), each
    a new span in the trace of the acceptance that caused it."""
    prefix = uuid7_prefix(now)
    span = secrets.token_hex(2)
    opened_at = json_instant(now)
    ids, traces, payloads = [], [], []
    for n, row in enumerate(rows, 1):
        ids.append(f"{prefix}{n:012x}")
        traces.append(child_span(causes[row["payable_id"]].traceparent, f"{span}{n:012x}"))
        payloads.append(opened_payload(row, opened_at))
    return store.Events(topic=PayableOpened.TOPIC, ce_type=PayableOpened.TYPE,
                        source=uow.source, time=now, event_ids=ids, traceparents=traces,
                        payloads=payloads)


def opened_payload(row: Mapping[str, Any], opened_at: str) -> str:
    """``PayableOpened`` of a payable row, as the contract dumps it to JSON (field order, money
    as a two-place decimal string, instants as RFC 3339; ``tests/unit/test_payments_domain.py``
    compares it with the contract's own dump)."""
    return json.dumps({
        "payable_id": row["payable_id"], "program_id": row["program_id"],
        "institution_id": row["institution_id"], "enterprise_id": row["enterprise_id"],
        "distributor_id": row["distributor_id"], "payer": row["payer"],
        "payer_id": row["payer_id"], "amount": f"{row['amount']:.2f}",
        "accepted_at": json_instant(row["accepted_at"]), "due_at": json_instant(row["due_at"]),
        "opened_at": opened_at}, ensure_ascii=False, separators=(",", ":"))


async def on_order_accepted(uow: UnitOfWork, event: OrderAccepted, ce: CloudEvent) -> None:
    await on_orders_accepted(uow, [(event, ce)])


def payable_out(r: Any, now: Any) -> PayableOut:
    outstanding = r.amount - r.paid
    open_ = r.status == "open"
    return PayableOut(
        payable_id=r.payable_id, program_id=r.program_id, institution_id=r.institution_id,
        enterprise_id=r.enterprise_id, distributor_id=r.distributor_id, payer=r.payer,
        payer_id=r.payer_id, amount=r.amount, paid=r.paid, outstanding=outstanding,
        accepted_at=r.accepted_at, due_at=r.due_at, status=r.status,
        days_overdue=days_overdue(r.due_at, now) if open_ else 0,
        age_bucket=age_bucket(r.due_at, now) if open_ else "paid")


def may_pay(caller: Principal, row: Any) -> bool:
    """The payer pays: the institution its own payables, the agency the fund's (R-PAY-5)."""
    if caller.role == "institution":
        return bool(row.payer == "institution" and row.payer_id == caller.org)
    if caller.role == "agency":
        return bool(row.payer == "fund" and row.payer_id == caller.org)
    return False


async def pay(uow: UnitOfWork, payable_id: str, amount: Decimal, caller: Principal,
              key: str | None) -> PayableOut:
    """A payment against a payable, partial allowed (R-PAY-1); never more than outstanding.
    The ledger transfer is posted in the same transaction (R-PAY-6)."""
    conn = uow.conn
    row = (await conn.execute(select(PAYABLES).where(PAYABLES.c.payable_id == payable_id)
                              .with_for_update())).first()
    if row is None or not may_pay(caller, row):
        raise errors.payable_not_found(payable_id)
    outstanding = row.amount - row.paid
    if amount > outstanding:
        raise errors.overpayment(payable_id, amount, outstanding)
    now = uow.clock.now()
    payment_id = transfer_id("payment", caller.actor, key) if key else \
        transfer_id("payment", payable_id, now.isoformat(), str(row.paid), str(amount))
    fund = row.payer == "fund"
    try:
        await store.post(conn, postings.payable_paid(
            payment_id, row.payer_id, row.enterprise_id, amount, fund), now)
    except LedgerRefused as refused:
        raise errors.ledger_refused(refused) from refused
    paid = row.paid + amount
    status = "paid" if paid == row.amount else "open"
    await conn.execute(PAYABLES.update().where(PAYABLES.c.payable_id == payable_id)
                       .values(paid=paid, status=status))
    await conn.execute(store.payments.insert().values(
        payment_id=payment_id, payable_id=payable_id, amount=amount, paid_by=caller.actor,
        paid_at=now))
    if status == "paid":  # paid in full: nothing left to find overdue
        await conn.execute(store.payable_deadlines.delete().where(
            store.payable_deadlines.c.payable_id == payable_id))
        metrics.PAYABLES_PAID.labels(row.program_id).inc()
    uow.record(PayablePaid(
        payment_id=payment_id, payable_id=payable_id, program_id=row.program_id,
        institution_id=row.institution_id, enterprise_id=row.enterprise_id, payer=row.payer,
        amount=amount, paid_total=paid, outstanding=row.amount - paid, due_at=row.due_at,
        on_time=now < row.due_at, paid_by=caller.actor, paid_at=now))
    updated = (await conn.execute(
        select(PAYABLES).where(PAYABLES.c.payable_id == payable_id))).one()
    return payable_out(updated, now)

