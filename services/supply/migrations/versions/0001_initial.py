"""supply: runtime tables

Revision ID: 0001
Revises:
"""

from services.runtime import migrations_v1

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    migrations_v1.upgrade()


def downgrade() -> None:
    migrations_v1.downgrade()
