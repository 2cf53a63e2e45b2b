"""credit and read models

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from services.runtime.db import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agreements",
        sa.Column("agreement_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("program_id", sa.String(length=64), nullable=False),
        sa.Column("agreement_year", sa.Integer(), nullable=False),
        sa.Column("year_start", UTCDateTime(), nullable=False),
        sa.Column("year_end", UTCDateTime(), nullable=False),
        sa.Column("institution_id", sa.String(length=64), nullable=False),
        sa.Column("enterprise_id", sa.String(length=64), nullable=False),
        sa.Column("registration_no", sa.String(length=40), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("agreement_id", "version", name=op.f("pk_agreements")),
    )
    with op.batch_alter_table("agreements", schema=None) as batch_op:
        batch_op.create_index(
            "ix_agreements_program_year", ["program_id", "year_start"], unique=False
        )

    op.create_table(
        "credit_interventions",
        sa.Column("intervention_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("program_id", sa.String(length=64), nullable=False),
        sa.Column("enterprise_id", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("intervention_id", name=op.f("pk_credit_interventions")),
    )
    op.create_table(
        "credit_measures",
        sa.Column("measure_id", sa.String(length=64), nullable=False),
        sa.Column("subject_kind", sa.String(length=20), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("region", sa.String(length=100), nullable=False),
        sa.Column("scheme", sa.String(length=40), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("measure", sa.String(length=40), nullable=False),
        sa.Column("scope", sa.String(length=20), nullable=False),
        sa.Column("registration_nos", sa.JSON(), nullable=False),
        sa.Column("effective_from", UTCDateTime(), nullable=False),
        sa.Column("effective_until", UTCDateTime(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=False),
        sa.Column("lifted_at", UTCDateTime(), nullable=True),
        sa.Column("lifted_by", sa.String(length=200), nullable=True),
        sa.Column("lift_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("measure_id", name=op.f("pk_credit_measures")),
    )
    with op.batch_alter_table("credit_measures", schema=None) as batch_op:
        batch_op.create_index(
            "ix_credit_measures_subject",
            ["subject_kind", "subject_id", "region", "scheme"],
            unique=False,
        )

    op.create_table(
        "credit_ratings",
        sa.Column("subject_kind", sa.String(length=20), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("region", sa.String(length=100), nullable=False),
        sa.Column("scheme", sa.String(length=40), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=True),
        sa.Column("level_code", sa.String(length=40), nullable=True),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("active_records", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint(
            "subject_kind", "subject_id", "region", "scheme", name=op.f("pk_credit_ratings")
        ),
    )
    op.create_table(
        "credit_records",
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("subject_kind", sa.String(length=20), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("program_id", sa.String(length=64), nullable=False),
        sa.Column("region", sa.String(length=100), nullable=False),
        sa.Column("scheme", sa.String(length=40), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("level_code", sa.String(length=40), nullable=False),
        sa.Column("conduct", sa.String(length=40), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("registration_nos", sa.JSON(), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("effective_from", UTCDateTime(), nullable=True),
        sa.Column("filed_by", sa.String(length=200), nullable=False),
        sa.Column("filed_at", UTCDateTime(), nullable=False),
        sa.Column("proposal_key", sa.String(length=200), nullable=True),
        sa.Column("repair", sa.String(length=20), nullable=True),
        sa.Column("last_refused_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("record_id", name=op.f("pk_credit_records")),
        sa.UniqueConstraint("proposal_key", name=op.f("uq_credit_records_proposal_key")),
    )
    with op.batch_alter_table("credit_records", schema=None) as batch_op:
        batch_op.create_index("ix_credit_records_status", ["status"], unique=False)
        batch_op.create_index(
            "ix_credit_records_subject",
            ["subject_kind", "subject_id", "region", "scheme"],
            unique=False,
        )

    op.create_table(
        "credit_steps",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("step", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_credit_steps")),
    )
    with op.batch_alter_table("credit_steps", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_credit_steps_record_id"), ["record_id"], unique=False)

    op.create_table(
        "facts",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("units", sa.Integer(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("seconds", sa.Integer(), nullable=True),
        sa.Column("distributor_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_facts")),
    )
    with op.batch_alter_table("facts", schema=None) as batch_op:
        batch_op.create_index("ix_facts_at", ["at"], unique=False)
        batch_op.create_index("ix_facts_order", ["order_id"], unique=False)

    op.create_table(
        "listings",
        sa.Column("listing_id", sa.String(length=64), nullable=False),
        sa.Column("program_id", sa.String(length=64), nullable=False),
        sa.Column("registration_no", sa.String(length=40), nullable=False),
        sa.Column("product_name", sa.String(length=200), nullable=False),
        sa.Column("enterprise_id", sa.String(length=64), nullable=False),
        sa.Column("enterprise_name", sa.String(length=200), nullable=False),
        sa.Column("listing_price", sa.BigInteger(), nullable=False),
        sa.Column("winning", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("listing_id", name=op.f("pk_listings")),
    )
    op.create_table(
        "orders",
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("program_id", sa.String(length=64), nullable=False),
        sa.Column("region", sa.String(length=100), nullable=False),
        sa.Column("institution_id", sa.String(length=64), nullable=False),
        sa.Column("enterprise_id", sa.String(length=64), nullable=False),
        sa.Column("registration_no", sa.String(length=40), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("placed_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_orders")),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index("ix_orders_region", ["region"], unique=False)

    op.create_table(
        "pacing_warnings",
        sa.Column("warning_id", sa.String(length=100), nullable=False),
        sa.Column("program_id", sa.String(length=64), nullable=False),
        sa.Column("agreement_year", sa.Integer(), nullable=False),
        sa.Column("institution_id", sa.String(length=64), nullable=False),
        sa.Column("registration_no", sa.String(length=40), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("raised_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("warning_id", name=op.f("pk_pacing_warnings")),
    )
    op.create_table(
        "programs",
        sa.Column("program_id", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=False),
        sa.Column("region", sa.String(length=100), nullable=False),
        sa.Column("execution_start", UTCDateTime(), nullable=False),
        sa.Column("cycle_years", sa.Integer(), nullable=False),
        sa.Column("profile", sa.Text(), nullable=True),
        sa.Column("profile_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("program_id", name=op.f("pk_programs")),
    )
    op.create_table(
        "report_closings",
        sa.Column("report_id", sa.String(length=100), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("region", sa.String(length=100), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("totals", sa.JSON(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("closed_by", sa.String(length=200), nullable=False),
        sa.Column("closed_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("report_id", name=op.f("pk_report_closings")),
    )
    op.create_table(
        "supply_risks",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("enterprise_id", sa.String(length=64), nullable=False),
        sa.Column("institution_id", sa.String(length=64), nullable=False),
        sa.Column("registration_no", sa.String(length=40), nullable=False),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_supply_risks")),
        sa.UniqueConstraint(
            "order_id", "opened_at", name=op.f("uq_supply_risks_order_id_opened_at")
        ),
    )
    with op.batch_alter_table("supply_risks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_supply_risks_order_id"), ["order_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("supply_risks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_supply_risks_order_id"))

    op.drop_table("supply_risks")
    op.drop_table("report_closings")
    op.drop_table("programs")
    op.drop_table("pacing_warnings")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_region")

    op.drop_table("orders")
    op.drop_table("listings")
    with op.batch_alter_table("facts", schema=None) as batch_op:
        batch_op.drop_index("ix_facts_order")
        batch_op.drop_index("ix_facts_at")

    op.drop_table("facts")
    with op.batch_alter_table("credit_steps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_credit_steps_record_id"))

    op.drop_table("credit_steps")
    with op.batch_alter_table("credit_records", schema=None) as batch_op:
        batch_op.drop_index("ix_credit_records_subject")
        batch_op.drop_index("ix_credit_records_status")

    op.drop_table("credit_records")
    op.drop_table("credit_ratings")
    with op.batch_alter_table("credit_measures", schema=None) as batch_op:
        batch_op.drop_index("ix_credit_measures_subject")

    op.drop_table("credit_measures")
    op.drop_table("credit_interventions")
    with op.batch_alter_table("agreements", schema=None) as batch_op:
        batch_op.drop_index("ix_agreements_program_year")

    op.drop_table("agreements")
