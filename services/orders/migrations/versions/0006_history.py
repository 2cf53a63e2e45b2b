"""orders: the history table in the runtime's shape (services.runtime.history): ``kind`` is
``subject_kind``, ``aggregate_id`` is ``subject_id`` (up to 200 characters), indexed by kind, id
and order. The columns are renamed in place, so every row stays (SQLite copies the table).

Revision ID: orders_0006_history
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "orders_0006_history"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("history", schema=None) as batch_op:
        batch_op.drop_index("ix_history_aggregate")
        batch_op.alter_column("kind", new_column_name="subject_kind",
                              existing_type=sa.String(length=20), existing_nullable=False)
        batch_op.alter_column("aggregate_id", new_column_name="subject_id",
                              existing_type=sa.String(length=64), type_=sa.String(length=200),
                              existing_nullable=False)
    with op.batch_alter_table("history", schema=None) as batch_op:
        batch_op.create_index("ix_history_subject_kind_subject_id_seq",
                              ["subject_kind", "subject_id", "seq"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("history", schema=None) as batch_op:
        batch_op.drop_index("ix_history_subject_kind_subject_id_seq")
        batch_op.alter_column("subject_id", new_column_name="aggregate_id",
                              existing_type=sa.String(length=200), type_=sa.String(length=64),
                              existing_nullable=False)
        batch_op.alter_column("subject_kind", new_column_name="kind",
                              existing_type=sa.String(length=20), existing_nullable=False)
    with op.batch_alter_table("history", schema=None) as batch_op:
        batch_op.create_index("ix_history_aggregate", ["aggregate_id", "seq"], unique=False)
