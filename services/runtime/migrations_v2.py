"""Revision 2 of the tables every service database has: the unpublished outbox rows indexed by
topic, so that the relay can take each topic's oldest rows (``outbox.OutboxRelay``) and an
import's backlog on one topic does not hold back the events of another. Called from each
service's revision that follows ``migrations_v1``."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


def upgrade() -> None:
    op.create_index(
        "ix_outbox_unpublished_topic", "outbox", ["topic", "id"],
        postgresql_where=sa.text("published_at IS NULL"),
        sqlite_where=sa.text("published_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_unpublished_topic", "outbox")
