"""payments: the deadlines of open payables not yet found overdue in a narrow table of their
own (issue #14, the overdue scan's speed)

The scan deletes a payable's row from ``payable_deadlines`` when it finds it overdue, instead of
rewriting the wide ``payables`` row with its indexes (an UPDATE of ``overdue_at``, named by the
partial index's predicate, was never a HOT update). ``payables.overdue_at`` and its partial
index go; the open, unflagged payables are copied over.

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
        "payable_deadlines",
        sa.Column("payable_id", sa.String(length=64), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("payable_id", name=op.f("pk_payable_deadlines")),
    )
    op.create_index(op.f("ix_payable_deadlines_due_at"), "payable_deadlines", ["due_at"])
    op.execute("INSERT INTO payable_deadlines (payable_id, due_at) SELECT payable_id, due_at "
               "FROM payables WHERE status = 'open' AND overdue_at IS NULL")
    op.drop_index("ix_payables_open_due", table_name="payables")
    with op.batch_alter_table("payables") as batch:
        batch.drop_column("overdue_at")


def downgrade() -> None:
    with op.batch_alter_table("payables") as batch:
        batch.add_column(sa.Column("overdue_at", UTCDateTime(), nullable=True))
    op.execute("UPDATE payables SET overdue_at = due_at WHERE status = 'open' AND payable_id "
               "NOT IN (SELECT payable_id FROM payable_deadlines)")
    op.create_index(
        "ix_payables_open_due", "payables", ["due_at"],
        postgresql_where=sa.text("status = 'open' AND overdue_at IS NULL"),
        sqlite_where=sa.text("status = 'open' AND overdue_at IS NULL"))
    op.drop_index(op.f("ix_payable_deadlines_due_at"), table_name="payable_deadlines")
    op.drop_table("payable_deadlines")
