"""monitoring: month_activity, the counted facts summed per month (R-MON-1), and facts.counted

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

FIGURES = ("orders_placed", "ordered_units", "ordered_amount", "cancelled_units",
           "accepted_units", "accepted_amount", "rejected_units", "orders_delivered",
           "delivery_seconds", "late_deliveries")


def upgrade() -> None:
    # existing facts start uncounted: the first fold sums them into month_activity
    op.add_column("facts", sa.Column("counted", sa.Boolean(), nullable=False,
                                     server_default=sa.false()))
    op.create_index("ix_facts_uncounted", "facts", ["at"], unique=False,
                    postgresql_where=sa.text("NOT counted"),
                    sqlite_where=sa.text("NOT counted"))
    op.create_table(
        "month_activity",
        sa.Column("program_id", sa.String(length=64), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("agreement_year", sa.Integer(), nullable=False),
        sa.Column("institution_id", sa.String(length=64), nullable=False),
        sa.Column("enterprise_id", sa.String(length=64), nullable=False),
        sa.Column("registration_no", sa.String(length=40), nullable=False),
        sa.Column("distributor_id", sa.String(length=64), nullable=False),
        *[sa.Column(name, sa.BigInteger(), nullable=False) for name in FIGURES],
        sa.PrimaryKeyConstraint("program_id", "month", "agreement_year", "institution_id",
                                "enterprise_id", "registration_no", "distributor_id",
                                name=op.f("pk_month_activity")),
    )


def downgrade() -> None:
    op.drop_table("month_activity")
    op.drop_index("ix_facts_uncounted", table_name="facts")
    op.drop_column("facts", "counted")
