"""catalog: listing_history becomes the runtime's history table (issue #13)

Every row moves (subject_kind ``listing``, the listing's version kept in the detail beside the
change's own detail, in the same order), then listing_history is dropped.

Revision ID: catalog_0006_history
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from services.runtime.db import UTCDateTime

revision = "catalog_0006_history"
down_revision = "0005"
branch_labels = None
depends_on = None

_TO_HISTORY = {
    "postgresql": "json_build_object('version', version, 'detail', detail::json)::text",
    "sqlite": "json_object('version', version, 'detail', json(detail))",
}
_TO_LISTING_HISTORY = {
    "postgresql": "(detail::json ->> 'version')::integer, (detail::json -> 'detail')::text",
    "sqlite": "json_extract(detail, '$.version'), json_extract(detail, '$.detail')",
}


def upgrade() -> None:
    op.create_table(
        "history",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("subject_kind", sa.String(length=20), nullable=False),
        sa.Column("subject_id", sa.String(length=200), nullable=False),
        sa.Column("change", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_history")),
    )
    with op.batch_alter_table("history", schema=None) as batch_op:
        batch_op.create_index(
            "ix_history_subject_kind_subject_id_seq",
            ["subject_kind", "subject_id", "seq"],
            unique=False,
        )
    detail = _TO_HISTORY[op.get_bind().dialect.name]
    op.execute(
        "INSERT INTO history (subject_kind, subject_id, change, detail, actor, reason, at) "
        f"SELECT 'listing', listing_id, change, {detail}, actor, reason, at "
        "FROM listing_history ORDER BY id"
    )
    with op.batch_alter_table("listing_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_listing_history_listing_id"))
    op.drop_table("listing_history")


def downgrade() -> None:
    op.create_table(
        "listing_history",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("listing_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("change", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_listing_history")),
    )
    with op.batch_alter_table("listing_history", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_listing_history_listing_id"), ["listing_id"], unique=False
        )
    columns = _TO_LISTING_HISTORY[op.get_bind().dialect.name]
    op.execute(
        "INSERT INTO listing_history (listing_id, version, detail, change, actor, reason, at) "
        f"SELECT subject_id, {columns}, change, actor, reason, at "
        "FROM history WHERE subject_kind = 'listing' ORDER BY seq"
    )
    with op.batch_alter_table("history", schema=None) as batch_op:
        batch_op.drop_index("ix_history_subject_kind_subject_id_seq")
    op.drop_table("history")
