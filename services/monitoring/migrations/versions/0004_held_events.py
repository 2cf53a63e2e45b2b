"""monitoring: per-key order through dead letters, held keys and events (runtime migrations_v3)

Revision ID: 0004
Revises: 0003
"""

from services.runtime import migrations_v3

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    migrations_v3.upgrade()


def downgrade() -> None:
    migrations_v3.downgrade()
