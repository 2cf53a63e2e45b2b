"""catalog: unpublished outbox rows by topic (runtime migrations_v2)

Revision ID: 0003
Revises: 0002
"""

from services.runtime import migrations_v2

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    migrations_v2.upgrade()


def downgrade() -> None:
    migrations_v2.downgrade()
