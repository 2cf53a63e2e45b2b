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


def downgrade() -> None:
    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_listings_program_id"))
        batch_op.drop_index(batch_op.f("ix_listings_enterprise_id"))

    op.drop_table("listings")
    migrations_v1.downgrade()
