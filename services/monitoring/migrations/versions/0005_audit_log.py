"""monitoring: the audit record of every write (runtime migrations_v4)

Revision ID: 0005
Revises: 0004
"""

from services.runtime import migrations_v4

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    migrations_v4.upgrade()


def downgrade() -> None:
    migrations_v4.downgrade()
