"""catalog initial

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
        "listing_history",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("listing_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("change", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_listing_history")),
    )
    with op.batch_alter_table("listing_history", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_listing_history_listing_id"), ["listing_id"], unique=False
        )

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
        sa.Column("product_price", sa.BigInteger(), nullable=False),
        sa.Column("service_price", sa.BigInteger(), nullable=False),
        sa.Column("listing_price", sa.BigInteger(), nullable=False),
        sa.Column("payment_standard", sa.BigInteger(), nullable=True),
        sa.Column("coverage", sa.String(length=10), nullable=True),
        sa.Column("national_lowest", sa.BigInteger(), nullable=True),
        sa.Column("winning", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("suspended_reason", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("listed_at", UTCDateTime(), nullable=False),
        sa.Column("listed_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("listing_id", name=op.f("pk_listings")),
        sa.UniqueConstraint(
            "program_id", "registration_no", name=op.f("uq_listings_program_id_registration_no")
        ),
    )
    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.create_index("ix_listings_enterprise_id", ["enterprise_id"], unique=False)
        batch_op.create_index(
            "ix_listings_program_id_listing_id", ["program_id", "listing_id"], unique=False
        )
        batch_op.create_index("ix_listings_registration_no", ["registration_no"], unique=False)

    op.create_table(
        "price_observations",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("registration_no", sa.String(length=40), nullable=False),
        sa.Column("platform", sa.String(length=200), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("observed_on", sa.Date(), nullable=False),
        sa.Column("source_type", sa.String(length=20), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price_observations")),
    )
    with op.batch_alter_table("price_observations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_price_observations_registration_no"), ["registration_no"], unique=False
        )

    op.create_table(
        "program_profiles",
        sa.Column("program_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("profile", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("changed_by", sa.String(length=200), nullable=False),
        sa.Column("changed_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("program_id", "version", name=op.f("pk_program_profiles")),
    )
    op.create_table(
        "programs",
        sa.Column("program_id", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=False),
        sa.Column("region", sa.String(length=100), nullable=False),
        sa.Column("notice_no", sa.String(length=200), nullable=False),
        sa.Column("organiser", sa.String(length=20), nullable=False),
        sa.Column("procurement_doc_no", sa.String(length=100), nullable=True),
        sa.Column("execution_start", UTCDateTime(), nullable=False),
        sa.Column("cycle_years", sa.Integer(), nullable=False),
        sa.Column("profile", sa.Text(), nullable=False),
        sa.Column("profile_version", sa.Integer(), nullable=False),
        sa.Column("published_by", sa.String(length=200), nullable=False),
        sa.Column("published_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("program_id", name=op.f("pk_programs")),
    )
    op.create_table(
        "suspensions",
        sa.Column("listing_id", sa.String(length=64), nullable=False),
        sa.Column("measure_id", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("since", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("listing_id", "measure_id", name=op.f("pk_suspensions")),
    )
    with op.batch_alter_table("suspensions", schema=None) as batch_op:
        batch_op.create_index("ix_suspensions_measure_id", ["measure_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("suspensions", schema=None) as batch_op:
        batch_op.drop_index("ix_suspensions_measure_id")

    op.drop_table("suspensions")
    op.drop_table("programs")
    op.drop_table("program_profiles")
    with op.batch_alter_table("price_observations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_price_observations_registration_no"))

    op.drop_table("price_observations")
    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.drop_index("ix_listings_registration_no")
        batch_op.drop_index("ix_listings_program_id_listing_id")
        batch_op.drop_index("ix_listings_enterprise_id")

    op.drop_table("listings")
    with op.batch_alter_table("listing_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_listing_history_listing_id"))

    op.drop_table("listing_history")
    migrations_v1.downgrade()
