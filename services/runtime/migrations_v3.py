"""Revision 3 of the tables every service database has: ``held_keys`` and ``held_events``, so
that a consumer keeps each key's order through dead letters (``consumer.EventConsumer``): once
one of its events of a key is dead-lettered, it holds its later events of that key until the
dead letter is replayed and applied. Called from each service's revision that follows
``migrations_v2``."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from services.runtime.db import BigId, UTCDateTime


def upgrade() -> None:
    op.create_table(
        "held_keys",
        sa.Column("consumer", sa.String(100), primary_key=True),
        sa.Column("topic", sa.String(200), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("held_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "held_events",
        sa.Column("seq", BigId, primary_key=True, autoincrement=True),
        sa.Column("consumer", sa.String(100), nullable=False),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("value", sa.LargeBinary, nullable=False),
        sa.Column("headers", sa.Text, nullable=False),
        sa.Column("held_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_held_events_consumer_topic_key_seq", "held_events",
                    ["consumer", "topic", "key", "seq"])


def downgrade() -> None:
    op.drop_index("ix_held_events_consumer_topic_key_seq", "held_events")
    op.drop_table("held_events")
    op.drop_table("held_keys")
