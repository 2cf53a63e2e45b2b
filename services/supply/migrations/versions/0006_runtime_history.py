"""supply: the history table takes the runtime's shape (services.runtime.history): ``id``
becomes ``seq``, subject ids up to 200 characters, the index covers the order of changes. The
rows are kept (columns renamed and widened in place).

Revision ID: supply_0006_history
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "supply_0006_history"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("history", schema=None) as batch_op:
        batch_op.drop_index("ix_history_subject_kind_subject_id")
        batch_op.alter_column("id", new_column_name="seq")
        batch_op.alter_column("subject_id", existing_type=sa.String(length=64),
                              type_=sa.String(length=200), existing_nullable=False)
    with op.batch_alter_table("history", schema=None) as batch_op:
        batch_op.create_index("ix_history_subject_kind_subject_id_seq",
                              ["subject_kind", "subject_id", "seq"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("history", schema=None) as batch_op:
        batch_op.drop_index("ix_history_subject_kind_subject_id_seq")
        batch_op.alter_column("subject_id", existing_type=sa.String(length=200),
                              type_=sa.String(length=64), existing_nullable=False)
        batch_op.alter_column("seq", new_column_name="id")
    with op.batch_alter_table("history", schema=None) as batch_op:
        batch_op.create_index("ix_history_subject_kind_subject_id",
                              ["subject_kind", "subject_id"], unique=False)
