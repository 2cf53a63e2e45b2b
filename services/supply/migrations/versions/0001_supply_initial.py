"""supply initial

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from services.runtime import migrations_v1
from services.runtime.db import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    migrations_v1.upgrade()
    op.create_table(
        "accounts",
        sa.Column("institution_id", sa.String(length=64), nullable=False),
        sa.Column("distributor_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("requested_at", UTCDateTime(), nullable=True),
        sa.Column("opened_at", UTCDateTime(), nullable=True),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("institution_id", "distributor_id", name=op.f("pk_accounts")),
    )
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_accounts_distributor_id"), ["distributor_id"], unique=False
        )

    op.create_table(
        "assignments",
        sa.Column("assignment_id", sa.String(length=64), nullable=False),
        sa.Column("enterprise_id", sa.String(length=64), nullable=False),
        sa.Column("registration_no", sa.String(length=40), nullable=False),
        sa.Column("distributor_id", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=12), nullable=False),
        sa.Column("institution_id", sa.String(length=64), nullable=True),
        sa.Column("region", sa.String(length=100), nullable=True),
        sa.Column("valid_from", UTCDateTime(), nullable=False),
        sa.Column("valid_until", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_by", sa.String(length=200), nullable=True),
        sa.Column("revoke_reason", sa.Text(), nullable=True),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("assignment_id", name=op.f("pk_assignments")),
    )
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_assignments_distributor_id"), ["distributor_id"], unique=False
        )
        batch_op.create_index(
            "ix_assignments_enterprise_id_registration_no",
            ["enterprise_id", "registration_no"],
            unique=False,
        )

    op.create_table(
        "bars",
        sa.Column("bar_id", sa.String(length=64), nullable=False),
        sa.Column("distributor_id", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("barred_from", UTCDateTime(), nullable=False),
        sa.Column("barred_until", UTCDateTime(), nullable=False),
        sa.Column("measure_id", sa.String(length=100), nullable=True),
        sa.Column("barred_by", sa.String(length=200), nullable=False),
        sa.Column("lifted_at", UTCDateTime(), nullable=True),
        sa.Column("lifted_by", sa.String(length=200), nullable=True),
        sa.Column("lift_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("bar_id", name=op.f("pk_bars")),
        sa.UniqueConstraint("measure_id", name=op.f("uq_bars_measure_id")),
    )
    with op.batch_alter_table("bars", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bars_distributor_id"), ["distributor_id"], unique=False
        )

    op.create_table(
        "contingencies",
        sa.Column("contingency_id", sa.String(length=64), nullable=False),
        sa.Column("bar_id", sa.String(length=64), nullable=False),
        sa.Column("enterprise_id", sa.String(length=64), nullable=False),
        sa.Column("distributor_id", sa.String(length=64), nullable=False),
        sa.Column(
            "registration_nos", sa.Text(), nullable=False, comment="JSON list of products affected"
        ),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column(
            "closed_by",
            sa.String(length=64),
            nullable=True,
            comment="the assignment that closed it",
        ),
        sa.PrimaryKeyConstraint("contingency_id", name=op.f("pk_contingencies")),
    )
    with op.batch_alter_table("contingencies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contingencies_bar_id"), ["bar_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_contingencies_enterprise_id"), ["enterprise_id"], unique=False
        )

    op.create_table(
        "contingency_gaps",
        sa.Column("contingency_id", sa.String(length=64), nullable=False),
        sa.Column("registration_no", sa.String(length=40), nullable=False),
        sa.Column("scope", sa.String(length=12), nullable=False),
        sa.Column("place", sa.String(length=100), nullable=False),
        sa.Column(
            "region",
            sa.String(length=100),
            nullable=True,
            comment="the institution's region, when known",
        ),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("closed_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint(
            "contingency_id", "registration_no", "scope", "place", name=op.f("pk_contingency_gaps")
        ),
    )
    op.create_table(
        "distributors",
        sa.Column("distributor_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("qualified", sa.Boolean(), nullable=False),
        sa.Column("barred_from", UTCDateTime(), nullable=True),
        sa.Column("barred_until", UTCDateTime(), nullable=True),
        sa.Column("registered_by", sa.String(length=200), nullable=False),
        sa.Column("registered_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("distributor_id", name=op.f("pk_distributors")),
    )
    op.create_table(
        "history",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("subject_kind", sa.String(length=20), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("change", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_history")),
    )
    with op.batch_alter_table("history", schema=None) as batch_op:
        batch_op.create_index(
            "ix_history_subject_kind_subject_id", ["subject_kind", "subject_id"], unique=False
        )

    op.create_table(
        "movements",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("distributor_id", sa.String(length=64), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_movements")),
    )
    with op.batch_alter_table("movements", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_movements_order_id"), ["order_id"], unique=False)

    op.create_table(
        "orders",
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("program_id", sa.String(length=64), nullable=False),
        sa.Column("institution_id", sa.String(length=64), nullable=False),
        sa.Column("region", sa.String(length=100), nullable=False),
        sa.Column("enterprise_id", sa.String(length=64), nullable=False),
        sa.Column("registration_no", sa.String(length=40), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("placed_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("distributor_id", sa.String(length=64), nullable=True),
        sa.Column("assignment_id", sa.String(length=64), nullable=True),
        sa.Column("routed_at", UTCDateTime(), nullable=True),
        sa.Column("shipped_units", sa.Integer(), server_default="0", nullable=False),
        sa.Column("delivered_units", sa.Integer(), server_default="0", nullable=False),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.Column(
            "delivery_us",
            sa.BigInteger(),
            nullable=True,
            comment="placed → fully delivered, microseconds",
        ),
        sa.Column("cancelled_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_orders")),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(
            "ix_orders_distributor_id_status", ["distributor_id", "status"], unique=False
        )
        batch_op.create_index(
            "ix_orders_enterprise_id_status", ["enterprise_id", "status"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_orders_institution_id"), ["institution_id"], unique=False
        )
        batch_op.create_index(
            "ix_orders_pending",
            ["enterprise_id", "registration_no"],
            unique=False,
            postgresql_where=sa.text("status = 'pending'"),
            sqlite_where=sa.text("status = 'pending'"),
        )

    op.create_table(
        "products",
        sa.Column("listing_id", sa.String(length=64), nullable=False),
        sa.Column("registration_no", sa.String(length=40), nullable=False),
        sa.Column("enterprise_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("listing_id", name=op.f("pk_products")),
    )
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_products_registration_no"), ["registration_no"], unique=False
        )

    op.create_table(
        "supply_risks",
        sa.Column(
            "risk_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("enterprise_id", sa.String(length=64), nullable=False),
        sa.Column("registration_no", sa.String(length=40), nullable=False),
        sa.Column("institution_id", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("taken_back_from", sa.String(length=64), nullable=True),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("resolution", sa.String(length=20), nullable=True),
        sa.PrimaryKeyConstraint("risk_id", name=op.f("pk_supply_risks")),
    )
    with op.batch_alter_table("supply_risks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_supply_risks_enterprise_id"), ["enterprise_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_supply_risks_institution_id"), ["institution_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_supply_risks_order_id"), ["order_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("supply_risks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_supply_risks_order_id"))
        batch_op.drop_index(batch_op.f("ix_supply_risks_institution_id"))
        batch_op.drop_index(batch_op.f("ix_supply_risks_enterprise_id"))

    op.drop_table("supply_risks")
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_products_registration_no"))

    op.drop_table("products")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_orders_pending",
            postgresql_where=sa.text("status = 'pending'"),
            sqlite_where=sa.text("status = 'pending'"),
        )
        batch_op.drop_index(batch_op.f("ix_orders_institution_id"))
        batch_op.drop_index("ix_orders_enterprise_id_status")
        batch_op.drop_index("ix_orders_distributor_id_status")

    op.drop_table("orders")
    with op.batch_alter_table("movements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_movements_order_id"))

    op.drop_table("movements")
    with op.batch_alter_table("history", schema=None) as batch_op:
        batch_op.drop_index("ix_history_subject_kind_subject_id")

    op.drop_table("history")
    op.drop_table("distributors")
    op.drop_table("contingency_gaps")
    with op.batch_alter_table("contingencies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contingencies_enterprise_id"))
        batch_op.drop_index(batch_op.f("ix_contingencies_bar_id"))

    op.drop_table("contingencies")
    with op.batch_alter_table("bars", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bars_distributor_id"))

    op.drop_table("bars")
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_index("ix_assignments_enterprise_id_registration_no")
        batch_op.drop_index(batch_op.f("ix_assignments_distributor_id"))

    op.drop_table("assignments")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_accounts_distributor_id"))

    op.drop_table("accounts")
    migrations_v1.downgrade()
