"""Revision 4 of the tables every service database has: ``audit_log``, the record of every
write (``services.runtime.audit``, issue #17). Called from each service's revision that
follows the runtime's ``migrations_v3``."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from services.runtime.db import BigId, UTCDateTime


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("role", sa.String(40), nullable=False),
        sa.Column("org", sa.String(200), nullable=False),
        sa.Column("method", sa.String(10), nullable=False),
        sa.Column("route", sa.String(300), nullable=False),
        sa.Column("path", sa.String(1000), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("object_id", sa.String(200)),
        sa.Column("request_id", sa.String(200), nullable=False),
    )
    op.create_index("ix_audit_log_org_at", "audit_log", ["org", "at"])
    op.create_index("ix_audit_log_subject_at", "audit_log", ["subject", "at"])
    op.create_index("ix_audit_log_at", "audit_log", ["at"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_at", "audit_log")
    op.drop_index("ix_audit_log_subject_at", "audit_log")
    op.drop_index("ix_audit_log_org_at", "audit_log")
    op.drop_table("audit_log")
