"""Payments tables and queries: the read model of programs, the ledger (accounts and immutable
transfers, R-PAY-6), prepayment schedules and installments (R-PAY-2/3/7), monthly fund
payments and their offsets (R-PAY-4), payables and payments (R-PAY-1, R-PAY-5)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from services.payments.domain.ledger import (
    CREDITS_MUST_NOT_EXCEED_DEBITS,
    DEBITS_MUST_NOT_EXCEED_CREDITS,
    Account,
    LedgerRefused,
    Transfer,
    limit_of,
    refusal,
)
from services.runtime.db import Fen, UTCDateTime, new_metadata

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
    Column("overdue_at", UTCDateTime()),
    Index("ix_payables_open_due", "due_at",
          postgresql_where=text("status = 'open' AND overdue_at IS NULL"),
          sqlite_where=text("status = 'open' AND overdue_at IS NULL")),
    Index(None, "institution_id", "due_at"),
    Index(None, "enterprise_id", "due_at"),
)

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


async def get_program(conn: AsyncConnection, program_id: str) -> Any:
    return (await conn.execute(select(programs).where(programs.c.program_id == program_id))
            ).first()


def insert_for(conn: AsyncConnection, table: Table) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


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


async def post_unlimited(conn: AsyncConnection, batch: Iterable[Transfer], at: Any) -> int:
    """Post many transfers that can break no limit in a few statements (the batch path of
    ``OrderAccepted``: payables opened). Transfers already posted are skipped."""
    items = list(batch)
    if not items:
        return 0
    for t in items:  # a debit can break only a debit limit, a credit only a credit limit
        if (limit_of(t.debit) == DEBITS_MUST_NOT_EXCEED_CREDITS
                or limit_of(t.credit) == CREDITS_MUST_NOT_EXCEED_DEBITS):
            raise ValueError(f"transfer {t.id} could break a limit: post it with post()")
    inserted = set((await conn.execute(
        insert_for(conn, transfers).on_conflict_do_nothing(index_elements=["id"])
        .returning(transfers.c.id),
        [{"id": t.id, "debit_account": t.debit, "credit_account": t.credit,
          "amount": t.amount, "code": t.code, "posted_at": at} for t in items])).scalars())
    if not inserted:
        return 0
    delta: dict[str, list[int]] = {}
    for t in items:
        if t.id in inserted:
            delta.setdefault(t.debit, [0, 0])[0] += t.amount
            delta.setdefault(t.credit, [0, 0])[1] += t.amount
    stmt = insert_for(conn, accounts)
    stmt = stmt.on_conflict_do_update(index_elements=["id"], set_={
        "debits_posted": accounts.c.debits_posted + stmt.excluded.debits_posted,
        "credits_posted": accounts.c.credits_posted + stmt.excluded.credits_posted})
    await conn.execute(stmt, [
        {"id": k, "debits_posted": v[0], "credits_posted": v[1], "limit_kind": limit_of(k)}
        for k, v in sorted(delta.items())])
    return len(inserted)


async def balance(conn: AsyncConnection, account_id: str) -> tuple[int, int]:
    row = (await conn.execute(select(accounts.c.debits_posted, accounts.c.credits_posted)
                              .where(accounts.c.id == account_id))).first()
    return (0, 0) if row is None else (row[0], row[1])
