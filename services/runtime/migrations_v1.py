"""Revision 1 of the tables every service database has: outbox, processed_events,
idempotency_keys. Called from each service's first Alembic revision, so it never changes: a
change to these tables is a new module (``migrations_v2``) called from a new revision."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from services.runtime.db import BigId, UTCDateTime


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("ce_type", sa.String(200), nullable=False),
        sa.Column("ce_source", sa.String(200), nullable=False),
        sa.Column("ce_time", UTCDateTime(), nullable=False),
        sa.Column("traceparent", sa.String(64)),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("published_at", UTCDateTime()),
    )
    op.create_index(
        "ix_outbox_unpublished", "outbox", ["id"],
        postgresql_where=sa.text("published_at IS NULL"),
        sqlite_where=sa.text("published_at IS NULL"),
    )
    op.create_table(
        "processed_events",
        sa.Column("consumer", sa.String(100), primary_key=True),
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("processed_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("principal", sa.String(200), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("route", sa.String(300), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=False),
        sa.Column("response", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    op.drop_table("processed_events")
    op.drop_index("ix_outbox_unpublished", "outbox")
    op.drop_table("outbox")
