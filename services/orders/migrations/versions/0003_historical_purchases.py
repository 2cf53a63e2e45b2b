"""orders: history imports and historical purchases (a program onboarded under way)

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
        "history_imports",
        sa.Column("import_id", sa.String(length=64), nullable=False),
        sa.Column("program_id", sa.String(length=64), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("imported_by", sa.String(length=200), nullable=False),
        sa.Column("imported_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("import_id", name=op.f("pk_history_imports")),
        sa.UniqueConstraint("program_id", "content_sha256",
                            name=op.f("uq_history_imports_program_id_content_sha256")),
    )
    op.create_table(
        "historical_purchases",
        sa.Column("purchase_id", sa.String(length=64), nullable=False),
        sa.Column("program_id", sa.String(length=64), nullable=False),
        sa.Column("region", sa.String(length=100), nullable=False),
        sa.Column("agreement_year", sa.Integer(), nullable=False),
        sa.Column("institution_id", sa.String(length=64), nullable=False),
        sa.Column("enterprise_id", sa.String(length=64), nullable=False),
        sa.Column("registration_no", sa.String(length=40), nullable=False),
        sa.Column("listing_id", sa.String(length=64), nullable=False),
        sa.Column("accepted_units", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("import_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("purchase_id", name=op.f("pk_historical_purchases")),
    )
    op.create_index("ix_historical_purchases_program", "historical_purchases",
                    ["program_id", "agreement_year", "institution_id"])


def downgrade() -> None:
    op.drop_index("ix_historical_purchases_program", table_name="historical_purchases")
    op.drop_table("historical_purchases")
    op.drop_table("history_imports")
