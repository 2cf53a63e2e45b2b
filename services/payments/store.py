"""Payments tables and queries: the read model of programs, the ledger (accounts and immutable
transfers, R-PAY-6), prepayment schedules and installments (R-PAY-2/3/7), monthly fund
payments and their offsets (R-PAY-4), payables and payments (R-PAY-1, R-PAY-5)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    Index,
    Integer,
    String,
    Table,
    Text,
    bindparam,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.money import to_fen
from services.payments.domain.ledger import (
    CREDITS_MUST_NOT_EXCEED_DEBITS,
    DEBITS_MUST_NOT_EXCEED_CREDITS,
    Account,
    LedgerRefused,
    Transfer,
    limit_of,
    refusal,
)
from services.runtime.db import Fen, UTCDateTime, insert_for, new_metadata, outbox

metadata = new_metadata()

programs = Table(
    "programs",
    metadata,
    Column("program_id", String(64), primary_key=True),
    Column("region", String(100), nullable=False),
    Column("execution_start", UTCDateTime(), nullable=False),
    Column("cycle_years", Integer, nullable=False),
    Column("profile", Text),
    Column("profile_version", Integer, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

# --- the ledger (R-PAY-6) -----------------------------------------------------------------------

accounts = Table(
    "accounts",
    metadata,
    Column("id", String(300), primary_key=True),
    Column("debits_posted", BigInteger, nullable=False),
    Column("credits_posted", BigInteger, nullable=False),
    Column("limit_kind", String(40)),
    CheckConstraint(
        f"NOT (limit_kind = '{DEBITS_MUST_NOT_EXCEED_CREDITS}' "
        "AND debits_posted > credits_posted)", name="debits_within_credits"),
    CheckConstraint(
        f"NOT (limit_kind = '{CREDITS_MUST_NOT_EXCEED_DEBITS}' "
        "AND credits_posted > debits_posted)", name="credits_within_debits"),
)

transfers = Table(
    "transfers",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("debit_account", String(300), nullable=False),
    Column("credit_account", String(300), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("code", String(40), nullable=False),
    Column("posted_at", UTCDateTime(), nullable=False),
    CheckConstraint("amount > 0", name="positive"),
)

# --- prepayments (R-PAY-2/3/4/7) ----------------------------------------------------------------

schedules = Table(
    "schedules",
    metadata,
    Column("schedule_id", String(200), primary_key=True),
    Column("program_id", String(64), nullable=False),
    Column("agreement_year", Integer, nullable=False),
    Column("institution_id", String(64), nullable=False),
    Column("agency_id", String(100), nullable=False),
    Column("year_start", UTCDateTime(), nullable=False),
    Column("offset_from", UTCDateTime(), nullable=False),
    Column("amount", Fen, nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index(None, "institution_id", "offset_from"),
    Index(None, "agency_id"),
)

schedule_agreements = Table(
    "schedule_agreements",
    metadata,
    Column("agreement_id", String(64), primary_key=True),
    Column("schedule_id", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    Column("procurement_amount", Fen, nullable=False),
)

schedule_history = Table(
    "schedule_history",
    metadata,
    Column("schedule_id", String(200), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("amount", Fen, nullable=False),
    Column("adjustment", Fen, nullable=False),
    Column("cause", String(200), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
)

installments = Table(
    "installments",
    metadata,
    Column("schedule_id", String(200), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("program_id", String(64), nullable=False),
    Column("agreement_year", Integer, nullable=False),
    Column("institution_id", String(64), nullable=False),
    Column("agency_id", String(100), nullable=False),
    Column("due_at", UTCDateTime(), nullable=False),
    Column("amount", Fen, nullable=False),
    Column("disbursed", Fen, nullable=False),
    Column("overdue_at", UTCDateTime()),
    Index("ix_installments_due_unflagged", "due_at",
          postgresql_where=text("overdue_at IS NULL"), sqlite_where=text("overdue_at IS NULL")),
)

disbursements = Table(
    "disbursements",
    metadata,
    Column("disbursement_id", String(64), primary_key=True),
    Column("schedule_id", String(200), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("amount", Fen, nullable=False),
    Column("disbursed_by", String(300), nullable=False),
    Column("disbursed_at", UTCDateTime(), nullable=False),
)

fund_payments = Table(
    "fund_payments",
    metadata,
    Column("fund_payment_id", String(200), primary_key=True),
    Column("agency_id", String(100), nullable=False),
    Column("institution_id", String(64), nullable=False),
    Column("month", Date, nullable=False),
    Column("amount", Fen, nullable=False),
    Column("offset", Fen, nullable=False),
    Column("direct_settlement", Fen, nullable=False),
    Column("net_payable", Fen, nullable=False),
    Column("submitted_by", String(300), nullable=False),
    Column("submitted_at", UTCDateTime(), nullable=False),
)

offsets = Table(
    "offsets",
    metadata,
    Column("fund_payment_id", String(200), primary_key=True),
    Column("schedule_id", String(200), primary_key=True),
    Column("amount", Fen, nullable=False),
)

# --- settlements (R-PAY-1, R-PAY-5) -------------------------------------------------------------

payables = Table(
    "payables",
    metadata,
    Column("payable_id", String(64), primary_key=True),
    Column("program_id", String(64), nullable=False),
    Column("region", String(100), nullable=False),
    Column("institution_id", String(64), nullable=False),
    Column("enterprise_id", String(64), nullable=False),
    Column("distributor_id", String(64)),
    Column("payer", String(20), nullable=False),
    Column("payer_id", String(100), nullable=False),
    Column("amount", Fen, nullable=False),
    Column("paid", Fen, nullable=False),
    Column("accepted_at", UTCDateTime(), nullable=False),
    Column("due_at", UTCDateTime(), nullable=False),
    Column("status", String(10), nullable=False),
    Index(None, "institution_id", "due_at"),
    Index(None, "enterprise_id", "due_at"),
)

payable_deadlines = Table(
    "payable_deadlines",
    metadata,
    Column("payable_id", String(64), primary_key=True),
    Column("due_at", UTCDateTime(), nullable=False),
    Index(None, "due_at"),
)
"""The deadline of every open payable not yet found overdue (R-PAY-1): inserted with the
payable, deleted by the overdue scan when it flags it (``overdue.py``) or by the payment that
pays it in full. A narrow queue, so flagging a payable deletes a small row (no index entry
written) instead of rewriting the wide ``payables`` row and its indexes (issue #14)."""

payments = Table(
    "payments",
    metadata,
    Column("payment_id", String(64), primary_key=True),
    Column("payable_id", String(64), nullable=False, index=True),
    Column("amount", Fen, nullable=False),
    Column("paid_by", String(300), nullable=False),
    Column("paid_at", UTCDateTime(), nullable=False),
)


# --- queries ------------------------------------------------------------------------------------

CHUNK = 5_000
"""Ids bound per ``IN (...)`` list: a request of 50,000 rows stays under the drivers' limit of
bound parameters per statement."""


async def get_program(conn: AsyncConnection, program_id: str) -> Any:
    return (await conn.execute(select(programs).where(programs.c.program_id == program_id))
            ).first()


async def post(conn: AsyncConnection, batch: Sequence[Transfer], at: Any) -> int:
    """Post linked transfers in the connection's transaction (R-PAY-6): a transfer whose id was
    posted before is skipped; one that would break an account's limit raises
    ``LedgerRefused`` naming the account and the amounts (the caller's transaction is then
    rolled back: nothing is posted). Returns how many were posted."""
    if not batch:
        return 0
    ids = [t.id for t in batch]
    seen = set((await conn.execute(select(transfers.c.id).where(transfers.c.id.in_(ids))))
               .scalars())
    fresh = [t for t in batch if t.id not in seen]
    if not fresh:
        return 0
    names = sorted({t.debit for t in fresh} | {t.credit for t in fresh})
    await conn.execute(
        insert_for(conn, accounts).on_conflict_do_nothing(index_elements=["id"]),
        [{"id": n, "debits_posted": 0, "credits_posted": 0, "limit_kind": limit_of(n)}
         for n in names])
    rows = (await conn.execute(
        select(accounts.c.id, accounts.c.debits_posted, accounts.c.credits_posted)
        .where(accounts.c.id.in_(names)).order_by(accounts.c.id).with_for_update())).all()
    held = {r.id: Account(r.id, r.debits_posted, r.credits_posted) for r in rows}
    for t in fresh:
        refused: LedgerRefused | None = refusal(t, held[t.debit], held[t.credit])
        if refused is not None:
            raise refused
        held[t.debit].debits += t.amount
        held[t.credit].credits += t.amount
    await conn.execute(transfers.insert(), [
        {"id": t.id, "debit_account": t.debit, "credit_account": t.credit, "amount": t.amount,
         "code": t.code, "posted_at": at} for t in fresh])
    touched = {t.debit for t in fresh} | {t.credit for t in fresh}
    for name in sorted(touched):
        account = held[name]
        await conn.execute(accounts.update().where(accounts.c.id == name).values(
            debits_posted=account.debits, credits_posted=account.credits))
    return len(fresh)


# The batch path of ``OrderAccepted`` on PostgreSQL: one statement per table per chunk, its
# rows bound as a few arrays (``unnest``), so no per-row statement building or bind processing
# in Python (issue #14's speed target: 1,000,000 acceptances in under 2 minutes).

OPEN_PAYABLES = text("""
WITH opened AS (
    INSERT INTO payables (payable_id, program_id, region, institution_id, enterprise_id,
                          distributor_id, payer, payer_id, amount, paid, accepted_at, due_at,
                          status)
    SELECT payable_id, program_id, region, institution_id, enterprise_id, distributor_id,
           payer, payer_id, amount, 0, accepted_at, due_at, 'open'
    FROM unnest(CAST(:payable_id AS text[]), CAST(:program_id AS text[]),
                CAST(:region AS text[]), CAST(:institution_id AS text[]),
                CAST(:enterprise_id AS text[]), CAST(:distributor_id AS text[]),
                CAST(:payer AS text[]), CAST(:payer_id AS text[]), CAST(:amount AS bigint[]),
                CAST(:accepted_at AS timestamptz[]), CAST(:due_at AS timestamptz[]))
         AS r(payable_id, program_id, region, institution_id, enterprise_id, distributor_id,
              payer, payer_id, amount, accepted_at, due_at)
    ON CONFLICT (payable_id) DO NOTHING
    RETURNING payable_id, due_at
), queued AS (
    INSERT INTO payable_deadlines (payable_id, due_at) SELECT payable_id, due_at FROM opened
), published AS (
    INSERT INTO outbox (event_id, topic, key, ce_type, ce_source, ce_time, traceparent,
                        payload, created_at)
    SELECT event_id, :topic, payable_id, :ce_type, :source, :now, traceparent, payload, :now
    FROM unnest(CAST(:payable_id AS text[]), CAST(:event_id AS text[]),
                CAST(:traceparent AS text[]), CAST(:payload AS text[]))
         AS e(payable_id, event_id, traceparent, payload)
    WHERE payable_id IN (SELECT payable_id FROM opened)
)
SELECT payable_id FROM opened
""")
"""Payables, their deadlines and the events of those that open, in one statement (the events
of a replayed acceptance's payable, which exists already, are not written)."""

INSERT_TRANSFERS = text("""
INSERT INTO transfers (id, debit_account, credit_account, amount, code, posted_at)
SELECT id, debit_account, credit_account, amount, code, :posted_at
FROM unnest(CAST(:id AS text[]), CAST(:debit AS text[]), CAST(:credit AS text[]),
            CAST(:amount AS bigint[]), CAST(:code AS text[]))
     AS t(id, debit_account, credit_account, amount, code)
ON CONFLICT (id) DO NOTHING
RETURNING id
""")

ADD_TO_ACCOUNTS = text("""
INSERT INTO accounts (id, debits_posted, credits_posted, limit_kind)
SELECT id, debits, credits, limit_kind
FROM unnest(CAST(:id AS text[]), CAST(:debits AS bigint[]), CAST(:credits AS bigint[]),
            CAST(:limit_kind AS text[])) AS a(id, debits, credits, limit_kind)
ON CONFLICT (id) DO UPDATE SET debits_posted = accounts.debits_posted + excluded.debits_posted,
                              credits_posted = accounts.credits_posted + excluded.credits_posted
""")
"""One row per distinct account (summed in Python), in id order: concurrent chunks lock the
accounts they share in the same order."""

MOVE_ACCOUNTS = text("""
UPDATE accounts SET debits_posted = accounts.debits_posted + m.debits,
                    credits_posted = accounts.credits_posted + m.credits
FROM unnest(CAST(:id AS text[]), CAST(:debits AS bigint[]), CAST(:credits AS bigint[]))
     AS m(id, debits, credits)
WHERE accounts.id = m.id
""")
"""Existing accounts moved by sums, one statement (``post_checked``)."""


@dataclass(frozen=True)
class Events:
    """Outbox rows of one event type written with the rows they belong to, aligned with them:
    the event ids, traceparents and JSON payloads; the rest is shared."""

    topic: str
    ce_type: str
    source: str
    time: datetime
    event_ids: list[str]
    traceparents: list[str]
    payloads: list[str]

    def rows(self, keys: Sequence[str], among: set[str]) -> list[dict[str, Any]]:
        """The outbox rows of the keys ``among``."""
        return [{"event_id": event_id, "topic": self.topic, "key": key,
                 "ce_type": self.ce_type, "ce_source": self.source, "ce_time": self.time,
                 "traceparent": trace, "payload": payload, "created_at": self.time}
                for key, event_id, trace, payload in zip(
                    keys, self.event_ids, self.traceparents, self.payloads, strict=True)
                if key in among]


async def open_payables(conn: AsyncConnection, rows: Sequence[dict[str, Any]],
                        events: Events) -> list[str]:
    """Insert payables (``rows`` as the table's columns, distinct ids; ``paid`` 0, ``status``
    open), their deadlines and their events (``events``, aligned with ``rows``); one whose id
    exists already (a replayed acceptance) is skipped with its event. Returns the ids
    inserted, in the order of ``rows``."""
    if not rows:
        return []
    ids = [r["payable_id"] for r in rows]
    if conn.dialect.name != "postgresql":
        opened = set((await conn.execute(
            insert_for(conn, payables).on_conflict_do_nothing(index_elements=["payable_id"])
            .returning(payables.c.payable_id), list(rows))).scalars())
        if opened:
            await conn.execute(payable_deadlines.insert(), [
                {"payable_id": r["payable_id"], "due_at": r["due_at"]} for r in rows
                if r["payable_id"] in opened])
            await conn.execute(outbox.insert(), events.rows(ids, opened))
        return [i for i in ids if i in opened]
    params: dict[str, Any] = {name: [r[name] for r in rows] for name in (
        "payable_id", "program_id", "region", "institution_id", "enterprise_id",
        "distributor_id", "payer", "payer_id")}
    params["amount"] = [to_fen(r["amount"]) for r in rows]
    for name in ("accepted_at", "due_at"):
        params[name] = [_utc(r[name]) for r in rows]
    params.update(topic=events.topic, ce_type=events.ce_type, source=events.source,
                  now=_utc(events.time), event_id=events.event_ids,
                  traceparent=events.traceparents, payload=events.payloads)
    opened = set((await conn.execute(OPEN_PAYABLES, params)).scalars())
    return [i for i in ids if i in opened]


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime: instants must be timezone-aware")
    return value.astimezone(UTC)


async def post_unlimited(conn: AsyncConnection, batch: Iterable[Transfer], at: Any) -> int:
    """Post many transfers that can break no limit in a few statements (the batch path of
    ``OrderAccepted``: payables opened). Transfers already posted are skipped (ids derive from
    the cause: a replay posts nothing twice); the accounts move by the sums of what was
    inserted, in the same transaction, so debits still equal credits (R-PAY-6)."""
    items = list(batch)
    if not items:
        return 0
    limits: dict[str, str | None] = {}
    for t in items:  # a debit can break only a debit limit, a credit only a credit limit
        for name in (t.debit, t.credit):
            if name not in limits:
                limits[name] = limit_of(name)
        if (limits[t.debit] == DEBITS_MUST_NOT_EXCEED_CREDITS
                or limits[t.credit] == CREDITS_MUST_NOT_EXCEED_DEBITS):
            raise ValueError(f"transfer {t.id} could break a limit: post it with post()")
    delta = await _insert_transfers(conn, items, at)
    await _add_to_accounts(conn, delta)
    return sum(1 for t in items if t.id in delta.posted)


async def lock_accounts(conn: AsyncConnection, names: Iterable[str]) -> dict[str, Account]:
    """The existing accounts among ``names``, locked for the transaction in id order (the
    order ``post`` locks them in, so concurrent movements wait instead of deadlocking); an
    account not there yet is absent (its balance is zero)."""
    held: dict[str, Account] = {}
    ordered = sorted(set(names))
    for start in range(0, len(ordered), CHUNK):
        rows = (await conn.execute(
            select(accounts.c.id, accounts.c.debits_posted, accounts.c.credits_posted)
            .where(accounts.c.id.in_(ordered[start:start + CHUNK])).order_by(accounts.c.id)
            .with_for_update())).all()
        held.update((r.id, Account(r.id, r.debits_posted, r.credits_posted)) for r in rows)
    return held


async def post_checked(conn: AsyncConnection, batch: Sequence[Transfer], at: Any,
                       locked: Collection[str]) -> int:
    """Post transfers already checked against their accounts' limits in memory, the accounts
    ``locked`` first (``lock_accounts``, then ``domain.ledger.Ledger``): a few statements
    however many (the batch path of a month's fund payments, R-PAY-4). The locked accounts
    move by the sums; the others are new and are inserted with them. The accounts' CHECK
    constraints still hold the limits in the database (R-PAY-6)."""
    if not batch:
        return 0
    delta = await _insert_transfers(conn, list(batch), at)
    await _add_to_accounts(conn, {k: v for k, v in delta.items() if k not in locked})
    moved = sorted(k for k in delta if k in locked)
    if moved and conn.dialect.name == "postgresql":
        await conn.execute(MOVE_ACCOUNTS, {"id": moved, "debits": [delta[k][0] for k in moved],
                                           "credits": [delta[k][1] for k in moved]})
    elif moved:
        update = (accounts.update().where(accounts.c.id == bindparam("name")).values(
            debits_posted=accounts.c.debits_posted + bindparam("debits"),
            credits_posted=accounts.c.credits_posted + bindparam("credits")))
        await conn.execute(update, [{"name": k, "debits": delta[k][0], "credits": delta[k][1]}
                                    for k in moved])
    return len(delta.posted)


async def balance(conn: AsyncConnection, account_id: str) -> tuple[int, int]:
    row = (await conn.execute(select(accounts.c.debits_posted, accounts.c.credits_posted)
                              .where(accounts.c.id == account_id))).first()
    return (0, 0) if row is None else (row[0], row[1])


class _Sums(dict[str, list[int]]):
    """Per account, the debits and credits of the transfers inserted (``posted``: their ids)."""

    posted: set[str]


async def _insert_transfers(conn: AsyncConnection, items: list[Transfer], at: Any) -> _Sums:
    """Insert the transfers not posted before (one statement on PostgreSQL); the sums of those
    inserted per account."""
    if conn.dialect.name == "postgresql":
        inserted = set((await conn.execute(INSERT_TRANSFERS, {
            "id": [t.id for t in items], "debit": [t.debit for t in items],
            "credit": [t.credit for t in items], "amount": [t.amount for t in items],
            "code": [t.code for t in items], "posted_at": _utc(at)})).scalars())
    else:
        inserted = set((await conn.execute(
            insert_for(conn, transfers).on_conflict_do_nothing(index_elements=["id"])
            .returning(transfers.c.id),
            [{"id": t.id, "debit_account": t.debit, "credit_account": t.credit,
              "amount": t.amount, "code": t.code, "posted_at": at} for t in items])).scalars())
    delta = _Sums()
    delta.posted = set(inserted)
    for t in items:
        if t.id in inserted:
            inserted.discard(t.id)  # the same transfer twice in one batch is posted once
            delta.setdefault(t.debit, [0, 0])[0] += t.amount
            delta.setdefault(t.credit, [0, 0])[1] += t.amount
    return delta


async def _add_to_accounts(conn: AsyncConnection, delta: dict[str, list[int]]) -> None:
    """Add the sums to the accounts, creating those not there yet (a created account's sums
    must keep its limit: the CHECK is tested on the row proposed for insertion)."""
    names = sorted(delta)
    if not names:
        return
    if conn.dialect.name == "postgresql":
        await conn.execute(ADD_TO_ACCOUNTS, {
            "id": names, "debits": [delta[n][0] for n in names],
            "credits": [delta[n][1] for n in names],
            "limit_kind": [limit_of(n) for n in names]})
        return
    stmt = insert_for(conn, accounts)
    stmt = stmt.on_conflict_do_update(index_elements=["id"], set_={
        "debits_posted": accounts.c.debits_posted + stmt.excluded.debits_posted,
        "credits_posted": accounts.c.credits_posted + stmt.excluded.credits_posted})
    await conn.execute(stmt, [
        {"id": n, "debits_posted": delta[n][0], "credits_posted": delta[n][1],
         "limit_kind": limit_of(n)} for n in names])
