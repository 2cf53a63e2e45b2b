"""monitoring: per-key order through dead letters, held keys and events (runtime migrations_v3)

Revision ID: 0003
Revises: 0002
"""

from services.runtime import migrations_v3

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    migrations_v3.upgrade()


def downgrade() -> None:
    migrations_v3.downgrade()
