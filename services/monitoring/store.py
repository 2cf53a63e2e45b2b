"""Monitoring tables and queries.

Two kinds of tables:

* **credit** (owned by monitoring, never rebuilt): records and their steps (who decided what,
  when, why), measures applied and lifted, ratings, R-CRD-5 interventions, closed months;
* **read models** of the other services' events (``READ_MODELS``): programs, listings,
  agreements (every version), orders, facts (one row per event that moves a figure, at its
  event time), pacing warnings, supply risks and payment facts (settlement and disbursement
  outcomes). Every write to them is idempotent (keyed by
  the event or the aggregate's version), so ``vbp monitoring rebuild`` can replay the topics
  into fresh copies and re-apply the tail after the swap.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)

from services.runtime.db import BigId, Fen, UTCDateTime, new_metadata

metadata = new_metadata()

# --- credit (R-CRD-1..5) ------------------------------------------------------------------------

records = Table(
    "credit_records",
    metadata,
    Column("record_id", String(64), primary_key=True),
    Column("subject_kind", String(20), nullable=False),
    Column("subject_id", String(64), nullable=False),
    Column("program_id", String(64), nullable=False),
    Column("region", String(100), nullable=False),
    Column("scheme", String(40), nullable=False),
    Column("level", String(20), nullable=False),
    Column("level_code", String(40), nullable=False),
    Column("conduct", String(40), nullable=False),
    Column("description", Text, nullable=False),
    Column("evidence", JSON, nullable=False),
    Column("registration_nos", JSON, nullable=False),
    Column("occurred_on", Date, nullable=False),
    Column("status", String(20), nullable=False),
    Column("effective_from", UTCDateTime()),
    Column("filed_by", String(200), nullable=False),
    Column("filed_at", UTCDateTime(), nullable=False),
    Column("proposal_key", String(200), unique=True),
    Column("repair", String(20)),
    Column("last_refused_at", UTCDateTime()),
    Index("ix_credit_records_subject", "subject_kind", "subject_id", "region", "scheme"),
    Index("ix_credit_records_status", "status"),
)

steps = Table(
    "credit_steps",
    metadata,
    Column("seq", BigId, primary_key=True, autoincrement=True),
    Column("record_id", String(64), nullable=False, index=True),
    Column("step", String(40), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("reason", Text, nullable=False),
    Column("detail", JSON),
    Column("at", UTCDateTime(), nullable=False),
)

measures = Table(
    "credit_measures",
    metadata,
    Column("measure_id", String(64), primary_key=True),
    Column("subject_kind", String(20), nullable=False),
    Column("subject_id", String(64), nullable=False),
    Column("region", String(100), nullable=False),
    Column("scheme", String(40), nullable=False),
    Column("level", String(20), nullable=False),
    Column("measure", String(40), nullable=False),
    Column("scope", String(20), nullable=False),
    Column("registration_nos", JSON, nullable=False),
    Column("effective_from", UTCDateTime(), nullable=False),
    Column("effective_until", UTCDateTime()),
    Column("reason", Text, nullable=False),
    Column("decided_by", String(200), nullable=False),
    Column("lifted_at", UTCDateTime()),
    Column("lifted_by", String(200)),
    Column("lift_reason", Text),
    Index("ix_credit_measures_subject", "subject_kind", "subject_id", "region", "scheme"),
)

ratings = Table(
    "credit_ratings",
    metadata,
    Column("subject_kind", String(20), primary_key=True),
    Column("subject_id", String(64), primary_key=True),
    Column("region", String(100), primary_key=True),
    Column("scheme", String(40), primary_key=True),
    Column("level", String(20)),
    Column("level_code", String(40)),
    Column("public", Boolean, nullable=False),
    Column("active_records", Integer, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

interventions = Table(
    "credit_interventions",
    metadata,
    Column("intervention_id", String(64), primary_key=True),
    Column("kind", String(40), nullable=False),
    Column("program_id", String(64), nullable=False),
    Column("enterprise_id", String(64), nullable=False),
    Column("detail", JSON, nullable=False),
    Column("decided_by", String(200), nullable=False),
    Column("decided_at", UTCDateTime(), nullable=False),
)

closings = Table(
    "report_closings",
    metadata,
    Column("report_id", String(100), primary_key=True),
    Column("month", String(7), nullable=False),
    Column("region", String(100)),
    Column("sha256", String(64), nullable=False),
    Column("totals", JSON, nullable=False),
    Column("rows", Integer, nullable=False),
    Column("closed_by", String(200), nullable=False),
    Column("closed_at", UTCDateTime(), nullable=False),
)

# --- read models of the other services' events ----------------------------------------------

programs = Table(
    "programs",
    metadata,
    Column("program_id", String(64), primary_key=True),
    Column("category", String(100), nullable=False),
    Column("region", String(100), nullable=False),
    Column("execution_start", UTCDateTime(), nullable=False),
    Column("cycle_years", Integer, nullable=False),
    Column("profile", Text),  # PolicyProfile JSON; null = published without one
    Column("profile_version", Integer, nullable=False),
)

listings = Table(
    "listings",
    metadata,
    Column("listing_id", String(64), primary_key=True),
    Column("program_id", String(64), nullable=False),
    Column("registration_no", String(40), nullable=False),
    Column("product_name", String(200), nullable=False),
    Column("enterprise_id", String(64), nullable=False),
    Column("enterprise_name", String(200), nullable=False),
    Column("listing_price", Fen(), nullable=False),
    Column("winning", Boolean, nullable=False),
    Column("status", String(20), nullable=False),
    Column("version", Integer, nullable=False),
)

agreements = Table(
    "agreements",
    metadata,
    Column("agreement_id", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("program_id", String(64), nullable=False),
    Column("agreement_year", Integer, nullable=False),
    Column("year_start", UTCDateTime(), nullable=False),
    Column("year_end", UTCDateTime(), nullable=False),
    Column("institution_id", String(64), nullable=False),
    Column("enterprise_id", String(64), nullable=False),
    Column("registration_no", String(40), nullable=False),
    Column("units", Integer, nullable=False),
    Column("recorded_at", UTCDateTime(), nullable=False),
    Index("ix_agreements_program_year", "program_id", "year_start"),
)

orders = Table(
    "orders",
    metadata,
    Column("order_id", String(64), primary_key=True),
    Column("program_id", String(64), nullable=False),
    Column("region", String(100), nullable=False),
    Column("institution_id", String(64), nullable=False),
    Column("enterprise_id", String(64), nullable=False),
    Column("registration_no", String(40), nullable=False),
    Column("units", Integer, nullable=False),
    Column("placed_at", UTCDateTime(), nullable=False),
    Index("ix_orders_region", "region"),
)

facts = Table(
    "facts",
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("order_id", String(64), nullable=False),
    Column("units", Integer),  # null = the order's units (a whole rejection)
    Column("amount", Fen()),
    Column("seconds", Integer),
    Column("distributor_id", String(64)),
    Column("counted", Boolean, nullable=False, server_default=false()),
    Index("ix_facts_at", "at"),
    Index("ix_facts_order", "order_id"),
    Index("ix_facts_uncounted", "at", postgresql_where=text("NOT counted"),
          sqlite_where=text("NOT counted")),
)
"""One row per event that moves a monthly figure, at its *event* time (R-MON-1): placed,
cancelled, accepted, rejected, delivered; dimensions come from the order (joined).
``counted``: already summed into ``month_activity`` (``readmodels.fold``); a fact whose order
or program is not known yet waits uncounted, and a report adds the uncounted ones itself."""

pacing_warnings = Table(
    "pacing_warnings",
    metadata,
    Column("warning_id", String(100), primary_key=True),
    Column("program_id", String(64), nullable=False),
    Column("agreement_year", Integer, nullable=False),
    Column("institution_id", String(64), nullable=False),
    Column("registration_no", String(40), nullable=False),
    Column("month", Date, nullable=False),
    Column("raised_at", UTCDateTime(), nullable=False),
)

supply_risks = Table(
    "supply_risks",
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("order_id", String(64), nullable=False, index=True),
    Column("enterprise_id", String(64), nullable=False),
    Column("institution_id", String(64), nullable=False),
    Column("registration_no", String(40), nullable=False),
    Column("opened_at", UTCDateTime(), nullable=False),
    Column("closed_at", UTCDateTime()),
    UniqueConstraint("order_id", "opened_at"),
)

payment_facts = Table(
    "payment_facts",
    metadata,
    Column("outcome_key", String(200), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("program_id", String(64), nullable=False),
    Column("institution_id", String(64), nullable=False),
    Column("enterprise_id", String(64)),
    Column("payer", String(20)),
    Index("ix_payment_facts_program_at", "program_id", "at"),
)
"""One row per payable or prepayment installment that came to an outcome (R-PAY-1, R-PAY-7):
settled on time / overdue, disbursed on time / late, at the outcome's event time
(``domain.repayment``), keyed by the payable or installment so it counts once. A payable's
``enterprise_id`` and ``payer`` (institution, or the fund under direct settlement); an
installment names neither."""

month_activity = Table(
    "month_activity",
    metadata,
    Column("program_id", String(64), primary_key=True),
    Column("month", Date, primary_key=True),
    Column("agreement_year", Integer, primary_key=True),
    Column("institution_id", String(64), primary_key=True),
    Column("enterprise_id", String(64), primary_key=True),
    Column("registration_no", String(40), primary_key=True),
    Column("distributor_id", String(64), primary_key=True),
    *[Column(name, BigInteger, nullable=False) for name in (
        "orders_placed", "ordered_units", "ordered_amount", "cancelled_units",
        "accepted_units", "accepted_amount", "rejected_units", "orders_delivered",
        "delivery_seconds", "late_deliveries")],
)
"""The counted facts summed per program, Shanghai month of their event time, agreement year
(1, 2 …; 0 outside the program's cycle), institution, product and distributor ('' for none):
what a month's report reads instead of the facts (R-MON-1: by event time, so a late event is
added to its own month's row). Amounts in fen; ``late_deliveries`` by the program's current
``late_delivery_hours`` (a profile changing it has the program's rows summed again)."""

READ_MODELS: tuple[Table, ...] = (programs, listings, agreements, orders, facts,
                                  pacing_warnings, supply_risks, payment_facts, month_activity)
"""Rebuilt from the topics by ``vbp monitoring rebuild``."""
