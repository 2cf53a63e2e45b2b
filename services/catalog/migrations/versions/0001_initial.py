"""catalog: runtime tables, programs, listings

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
        "programs",
        sa.Column("program_id", sa.String(64), primary_key=True),
        sa.Column("category", sa.String(100), nullable=False),
        sa.Column("region", sa.String(100), nullable=False),
        sa.Column("notice_no", sa.String(200), nullable=False),
        sa.Column("organiser", sa.String(20), nullable=False),
        sa.Column("procurement_doc_no", sa.String(100)),
        sa.Column("execution_start", UTCDateTime(), nullable=False),
        sa.Column("cycle_years", sa.Integer, nullable=False),
        sa.Column("published_by", sa.String(200), nullable=False),
        sa.Column("published_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "listings",
        sa.Column("listing_id", sa.String(64), primary_key=True),
        sa.Column("program_id", sa.String(64), nullable=False),
        sa.Column("category", sa.String(100), nullable=False),
        sa.Column("registration_no", sa.String(40), nullable=False),
        sa.Column("product_name", sa.String(200), nullable=False),
        sa.Column("enterprise_id", sa.String(64), nullable=False),
        sa.Column("enterprise_name", sa.String(200), nullable=False),
        sa.Column("registrant", sa.String(200), nullable=False),
        sa.Column("product_price", sa.BigInteger, nullable=False),
        sa.Column("service_price", sa.BigInteger, nullable=False),
        sa.Column("listing_price", sa.BigInteger, nullable=False),
        sa.Column("winning", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("listed_at", UTCDateTime(), nullable=False),
        sa.Column("listed_by", sa.String(200), nullable=False),
        sa.UniqueConstraint(
            "program_id", "registration_no", name="uq_listings_program_id_registration_no"
        ),
    )
    op.create_index("ix_listings_program_id", "listings", ["program_id"])
    op.create_index("ix_listings_enterprise_id", "listings", ["enterprise_id"])


def downgrade() -> None:
    op.drop_table("listings")
    op.drop_table("programs")
