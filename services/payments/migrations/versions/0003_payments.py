"""payments: ledger, prepayment schedules, fund payments, payables (issue 14)

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from services.runtime.db import Fen, UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(length=300), nullable=False),
        sa.Column("debits_posted", sa.BigInteger(), nullable=False),
        sa.Column("credits_posted", sa.BigInteger(), nullable=False),
        sa.Column("limit_kind", sa.String(length=40), nullable=True),
        sa.CheckConstraint(
            "NOT (limit_kind = 'credits_must_not_exceed_debits' "
            "AND credits_posted > debits_posted)",
            name=op.f("ck_accounts_credits_within_debits"),
        ),
        sa.CheckConstraint(
            "NOT (limit_kind = 'debits_must_not_exceed_credits' "
            "AND debits_posted > credits_posted)",
            name=op.f("ck_accounts_debits_within_credits"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
    )
    op.create_table(
        "disbursements",
        sa.Column("disbursement_id", sa.String(length=64), nullable=False),
        sa.Column("schedule_id", sa.String(length=200), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("amount", Fen(), nullable=False),
        sa.Column("disbursed_by", sa.String(length=300), nullable=False),
        sa.Column("disbursed_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("disbursement_id", name=op.f("pk_disbursements")),
    )
    op.create_table(
        "fund_payments",
        sa.Column("fund_payment_id", sa.String(length=200), nullable=False),
        sa.Column("agency_id", sa.String(length=100), nullable=False),
        sa.Column("institution_id", sa.String(length=64), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("amount", Fen(), nullable=False),
        sa.Column("offset", Fen(), nullable=False),
        sa.Column("direct_settlement", Fen(), nullable=False),
        sa.Column("net_payable", Fen(), nullable=False),
        sa.Column("submitted_by", sa.String(length=300), nullable=False),
        sa.Column("submitted_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("fund_payment_id", name=op.f("pk_fund_payments")),
    )
    op.create_table(
        "installments",
        sa.Column("schedule_id", sa.String(length=200), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("program_id", sa.String(length=64), nullable=False),
        sa.Column("agreement_year", sa.Integer(), nullable=False),
        sa.Column("institution_id", sa.String(length=64), nullable=False),
        sa.Column("agency_id", sa.String(length=100), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("amount", Fen(), nullable=False),
        sa.Column("disbursed", Fen(), nullable=False),
        sa.Column("overdue_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("schedule_id", "seq", name=op.f("pk_installments")),
    )
    op.create_index(
        "ix_installments_due_unflagged",
        "installments",
        ["due_at"],
        unique=False,
        postgresql_where=sa.text("overdue_at IS NULL"),
        sqlite_where=sa.text("overdue_at IS NULL"),
    )
    op.create_table(
        "offsets",
        sa.Column("fund_payment_id", sa.String(length=200), nullable=False),
        sa.Column("schedule_id", sa.String(length=200), nullable=False),
        sa.Column("amount", Fen(), nullable=False),
        sa.PrimaryKeyConstraint("fund_payment_id", "schedule_id", name=op.f("pk_offsets")),
    )
    op.create_table(
        "payables",
        sa.Column("payable_id", sa.String(length=64), nullable=False),
        sa.Column("program_id", sa.String(length=64), nullable=False),
        sa.Column("region", sa.String(length=100), nullable=False),
        sa.Column("institution_id", sa.String(length=64), nullable=False),
        sa.Column("enterprise_id", sa.String(length=64), nullable=False),
        sa.Column("distributor_id", sa.String(length=64), nullable=True),
        sa.Column("payer", sa.String(length=20), nullable=False),
        sa.Column("payer_id", sa.String(length=100), nullable=False),
        sa.Column("amount", Fen(), nullable=False),
        sa.Column("paid", Fen(), nullable=False),
        sa.Column("accepted_at", UTCDateTime(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("overdue_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("payable_id", name=op.f("pk_payables")),
    )
    op.create_index(
        op.f("ix_payables_enterprise_id_due_at"),
        "payables",
        ["enterprise_id", "due_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_payables_institution_id_due_at"),
        "payables",
        ["institution_id", "due_at"],
        unique=False,
    )
    op.create_index(
        "ix_payables_open_due",
        "payables",
        ["due_at"],
        unique=False,
        postgresql_where=sa.text("status = 'open' AND overdue_at IS NULL"),
        sqlite_where=sa.text("status = 'open' AND overdue_at IS NULL"),
    )
    op.create_table(
        "payments",
        sa.Column("payment_id", sa.String(length=64), nullable=False),
        sa.Column("payable_id", sa.String(length=64), nullable=False),
        sa.Column("amount", Fen(), nullable=False),
        sa.Column("paid_by", sa.String(length=300), nullable=False),
        sa.Column("paid_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("payment_id", name=op.f("pk_payments")),
    )
    op.create_index(op.f("ix_payments_payable_id"), "payments", ["payable_id"], unique=False)
    op.create_table(
        "programs",
        sa.Column("program_id", sa.String(length=64), nullable=False),
        sa.Column("region", sa.String(length=100), nullable=False),
        sa.Column("execution_start", UTCDateTime(), nullable=False),
        sa.Column("cycle_years", sa.Integer(), nullable=False),
        sa.Column("profile", sa.Text(), nullable=True),
        sa.Column("profile_version", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("program_id", name=op.f("pk_programs")),
    )
    op.create_table(
        "schedule_agreements",
        sa.Column("agreement_id", sa.String(length=64), nullable=False),
        sa.Column("schedule_id", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("procurement_amount", Fen(), nullable=False),
        sa.PrimaryKeyConstraint("agreement_id", name=op.f("pk_schedule_agreements")),
    )
    op.create_table(
        "schedule_history",
        sa.Column("schedule_id", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("amount", Fen(), nullable=False),
        sa.Column("adjustment", Fen(), nullable=False),
        sa.Column("cause", sa.String(length=200), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("schedule_id", "version", name=op.f("pk_schedule_history")),
    )
    op.create_table(
        "schedules",
        sa.Column("schedule_id", sa.String(length=200), nullable=False),
        sa.Column("program_id", sa.String(length=64), nullable=False),
        sa.Column("agreement_year", sa.Integer(), nullable=False),
        sa.Column("institution_id", sa.String(length=64), nullable=False),
        sa.Column("agency_id", sa.String(length=100), nullable=False),
        sa.Column("year_start", UTCDateTime(), nullable=False),
        sa.Column("offset_from", UTCDateTime(), nullable=False),
        sa.Column("amount", Fen(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("schedule_id", name=op.f("pk_schedules")),
    )
    op.create_index(op.f("ix_schedules_agency_id"), "schedules", ["agency_id"], unique=False)
    op.create_index(
        op.f("ix_schedules_institution_id_offset_from"),
        "schedules",
        ["institution_id", "offset_from"],
        unique=False,
    )
    op.create_table(
        "transfers",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("debit_account", sa.String(length=300), nullable=False),
        sa.Column("credit_account", sa.String(length=300), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("posted_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_transfers_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfers")),
    )


def downgrade() -> None:
    for table in (
        "schedules",
        "schedule_history",
        "schedule_agreements",
        "programs",
        "payments",
        "payables",
        "offsets",
        "installments",
        "fund_payments",
        "disbursements",
        "accounts",
        "transfers",
    ):
        op.drop_table(table)
