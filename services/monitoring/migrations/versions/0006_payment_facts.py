"""monitoring: payment facts, the settlement and disbursement outcomes (R-PAY-1, R-PAY-7)

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from services.runtime.db import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payment_facts",
        sa.Column("outcome_key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("program_id", sa.String(length=64), nullable=False),
        sa.Column("institution_id", sa.String(length=64), nullable=False),
        sa.Column("enterprise_id", sa.String(length=64), nullable=True),
        sa.Column("payer", sa.String(length=20), nullable=True),
        sa.PrimaryKeyConstraint("outcome_key", name=op.f("pk_payment_facts")),
    )
    with op.batch_alter_table("payment_facts", schema=None) as batch_op:
        batch_op.create_index("ix_payment_facts_program_at", ["program_id", "at"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("payment_facts", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_facts_program_at")
    op.drop_table("payment_facts")
