"""orders: unpublished outbox rows by topic (runtime migrations_v2)

Revision ID: 0002
Revises: 0001
"""

from services.runtime import migrations_v2

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    migrations_v2.upgrade()


def downgrade() -> None:
    migrations_v2.downgrade()
