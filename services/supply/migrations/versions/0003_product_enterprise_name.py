"""supply: the enterprise's name in the products read model (catalog's ProductListed)

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("products") as batch_op:
        batch_op.add_column(sa.Column("enterprise_name", sa.String(length=200), nullable=True))
    op.create_index("ix_products_enterprise_id", "products", ["enterprise_id"])


def downgrade() -> None:
    op.drop_index("ix_products_enterprise_id", table_name="products")
    with op.batch_alter_table("products") as batch_op:
        batch_op.drop_column("enterprise_name")
