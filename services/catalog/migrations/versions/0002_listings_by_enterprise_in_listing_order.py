"""listings by enterprise in listing order

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_listings_enterprise_id"))
        batch_op.create_index(
            "ix_listings_enterprise_id_listing_id", ["enterprise_id", "listing_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.drop_index("ix_listings_enterprise_id_listing_id")
        batch_op.create_index(
            batch_op.f("ix_listings_enterprise_id"), ["enterprise_id"], unique=False
        )
