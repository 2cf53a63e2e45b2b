"""orders initial

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from services.runtime import migrations_v1
from services.runtime.db import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    migrations_v1.upgrade()
    op.create_table(
        "agreement_imports",
        sa.Column("import_id", sa.String(length=64), nullable=False),
        sa.Column("program_id", sa.String(length=64), nullable=False),
        sa.Column("agreement_year", sa.Integer(), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("recorded", sa.Integer(), nullable=False),
        sa.Column("changed", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("imported_by", sa.String(length=200), nullable=False),
        sa.Column("imported_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("import_id", name=op.f("pk_agreement_imports")),
        sa.UniqueConstraint(
            "program_id",
            "agreement_year",
            "content_sha256",
            name=op.f("uq_agreement_imports_program_id_agreement_year_content_sha256"),
        ),
    )
    op.create_table(
        "agreements",
        sa.Column("agreement_id", sa.String(length=64), nullable=False),
        sa.Column("program_id", sa.String(length=64), nullable=False),
        sa.Column("region", sa.String(length=100), nullable=False),
        sa.Column("agreement_year", sa.Integer(), nullable=False),
        sa.Column("year_start", UTCDateTime(), nullable=False),
        sa.Column("year_end", UTCDateTime(), nullable=False),
        sa.Column("institution_id", sa.String(length=64), nullable=False),
        sa.Column("institution_type", sa.String(length=20), nullable=False),
        sa.Column("enterprise_id", sa.String(length=64), nullable=False),
        sa.Column("registration_no", sa.String(length=40), nullable=False),
        sa.Column("listing_id", sa.String(length=64), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("winning_price", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("import_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("agreement_id", name=op.f("pk_agreements")),
    )
    with op.batch_alter_table("agreements", schema=None) as batch_op:
        batch_op.create_index(
            "ix_agreements_institution",
            ["institution_id", "program_id", "agreement_year"],
            unique=False,
        )
        batch_op.create_index(
            "ix_agreements_program", ["program_id", "agreement_year", "enterprise_id"], unique=False
        )

    op.create_table(
        "history",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("aggregate_id", sa.String(length=64), nullable=False),
        sa.Column("change", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_history")),
    )
    with op.batch_alter_table("history", schema=None) as batch_op:
        batch_op.create_index("ix_history_aggregate", ["aggregate_id", "seq"], unique=False)

    op.create_table(
        "institutions",
        sa.Column("institution_id", sa.String(length=64), nullable=False),
        sa.Column("region", sa.String(length=100), nullable=False),
        sa.Column("institution_type", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("registered_by", sa.String(length=200), nullable=False),
        sa.Column("registered_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("institution_id", name=op.f("pk_institutions")),
    )
    with op.batch_alter_table("institutions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_institutions_region"), ["region"], unique=False)

    op.create_table(
        "listings",
        sa.Column("listing_id", sa.String(length=64), nullable=False),
        sa.Column("program_id", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=False),
        sa.Column("registration_no", sa.String(length=40), nullable=False),
        sa.Column("product_name", sa.String(length=200), nullable=False),
        sa.Column("enterprise_id", sa.String(length=64), nullable=False),
        sa.Column("enterprise_name", sa.String(length=200), nullable=False),
        sa.Column("registrant", sa.String(length=200), nullable=False),
        sa.Column("listing_price", sa.BigInteger(), nullable=False),
        sa.Column("payment_standard", sa.BigInteger(), nullable=True),
        sa.Column("coverage", sa.String(length=10), nullable=True),
        sa.Column("national_lowest", sa.BigInteger(), nullable=True),
        sa.Column("winning", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("suspended_reason", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("listed_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("listing_id", name=op.f("pk_listings")),
    )
    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_listings_enterprise_id"), ["enterprise_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_listings_program_id"), ["program_id"], unique=False)

    op.create_table(
        "orders",
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("program_id", sa.String(length=64), nullable=False),
        sa.Column("region", sa.String(length=100), nullable=False),
        sa.Column("agreement_year", sa.Integer(), nullable=False),
        sa.Column("agreement_month", sa.Integer(), nullable=False),
        sa.Column("institution_id", sa.String(length=64), nullable=False),
        sa.Column("listing_id", sa.String(length=64), nullable=False),
        sa.Column("registration_no", sa.String(length=40), nullable=False),
        sa.Column("enterprise_id", sa.String(length=64), nullable=False),
        sa.Column("winning", sa.Boolean(), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("order_class", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("distributor_id", sa.String(length=64), nullable=True),
        sa.Column("shipped_units", sa.Integer(), nullable=True),
        sa.Column("delivered_units", sa.Integer(), nullable=True),
        sa.Column("accepted_units", sa.Integer(), nullable=True),
        sa.Column("accepted_amount", sa.BigInteger(), nullable=True),
        sa.Column("accepted_at", UTCDateTime(), nullable=True),
        sa.Column("accepted_year", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("supply_risk", sa.Text(), nullable=True),
        sa.Column("placed_by", sa.String(length=200), nullable=False),
        sa.Column("placed_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_orders")),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(
            "ix_orders_accepted", ["program_id", "accepted_year", "institution_id"], unique=False
        )
        batch_op.create_index("ix_orders_enterprise", ["enterprise_id", "order_id"], unique=False)
        batch_op.create_index("ix_orders_institution", ["institution_id", "order_id"], unique=False)
        batch_op.create_index(
            "ix_orders_placing",
            ["program_id", "institution_id", "registration_no", "agreement_year"],
            unique=False,
        )

    op.create_table(
        "pacing_warnings",
        sa.Column("warning_id", sa.String(length=64), nullable=False),
        sa.Column("program_id", sa.String(length=64), nullable=False),
        sa.Column("agreement_year", sa.Integer(), nullable=False),
        sa.Column("institution_id", sa.String(length=64), nullable=False),
        sa.Column("registration_no", sa.String(length=40), nullable=False),
        sa.Column("agreement_month", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("month_start", UTCDateTime(), nullable=False),
        sa.Column("month_end", UTCDateTime(), nullable=False),
        sa.Column("checks", sa.String(length=40), nullable=False),
        sa.Column("annual_units", sa.Integer(), nullable=False),
        sa.Column("ordered_units", sa.Integer(), nullable=False),
        sa.Column("cumulative_units", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raised_by", sa.String(length=200), nullable=False),
        sa.Column("raised_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("warning_id", name=op.f("pk_pacing_warnings")),
    )
    with op.batch_alter_table("pacing_warnings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_pacing_warnings_institution", ["institution_id", "warning_id"], unique=False
        )
        batch_op.create_index(
            "ix_pacing_warnings_program", ["program_id", "agreement_year"], unique=False
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
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("program_id", name=op.f("pk_programs")),
    )
    op.create_table(
        "renewals",
        sa.Column("renewal_id", sa.String(length=64), nullable=False),
        sa.Column("program_id", sa.String(length=64), nullable=False),
        sa.Column("agreement_year", sa.Integer(), nullable=False),
        sa.Column("institution_id", sa.String(length=64), nullable=False),
        sa.Column("demand", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("last_year_accepted_total", sa.Integer(), nullable=False),
        sa.Column("last_year_agreement", sa.Text(), nullable=False),
        sa.Column("failures", sa.Text(), nullable=False),
        sa.Column("exception_reason", sa.Text(), nullable=True),
        sa.Column("submitted_by", sa.String(length=200), nullable=False),
        sa.Column("submitted_at", UTCDateTime(), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("renewal_id", name=op.f("pk_renewals")),
    )
    with op.batch_alter_table("renewals", schema=None) as batch_op:
        batch_op.create_index(
            "ix_renewals_institution",
            ["institution_id", "program_id", "agreement_year"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("renewals", schema=None) as batch_op:
        batch_op.drop_index("ix_renewals_institution")

    op.drop_table("renewals")
    op.drop_table("programs")
    with op.batch_alter_table("pacing_warnings", schema=None) as batch_op:
        batch_op.drop_index("ix_pacing_warnings_program")
        batch_op.drop_index("ix_pacing_warnings_institution")

    op.drop_table("pacing_warnings")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_placing")
        batch_op.drop_index("ix_orders_institution")
        batch_op.drop_index("ix_orders_enterprise")
        batch_op.drop_index("ix_orders_accepted")

    op.drop_table("orders")
    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_listings_program_id"))
        batch_op.drop_index(batch_op.f("ix_listings_enterprise_id"))

    op.drop_table("listings")
    with op.batch_alter_table("institutions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_institutions_region"))

    op.drop_table("institutions")
    with op.batch_alter_table("history", schema=None) as batch_op:
        batch_op.drop_index("ix_history_aggregate")

    op.drop_table("history")
    with op.batch_alter_table("agreements", schema=None) as batch_op:
        batch_op.drop_index("ix_agreements_program")
        batch_op.drop_index("ix_agreements_institution")

    op.drop_table("agreements")
    op.drop_table("agreement_imports")
    migrations_v1.downgrade()
