"""monitoring: the audit record of every write (runtime migrations_v4)

Revision ID: audit_log
Revises: 0002
"""

from services.runtime import migrations_v4

revision = "audit_log"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    migrations_v4.upgrade()


def downgrade() -> None:
    migrations_v4.downgrade()
