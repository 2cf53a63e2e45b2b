"""Orders tables and queries: the read models of catalog's programs and listings, the
institution register, agreement volumes and their imports, renewals, purchase orders, pacing
warnings, and one history table (who, when, why of every change, R-AGR-9)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Index,
    Integer,
    Row,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    any_,
    bindparam,
    case,
    exists,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ColumnElement, Select

from services.orders.domain import (
    COMMITS_NOTHING,
    COUNTS_TOWARD_PROGRESS,
    NOT_ORDERED,
    OrderStatus,
)
from services.runtime.db import Fen, UTCDateTime, is_postgres, new_metadata
from services.runtime.history import history_row, history_table, write_history

metadata = new_metadata()

ORDER, AGREEMENT, RENEWAL, INSTITUTION = "order", "agreement", "renewal", "institution"
HISTORICAL_PURCHASE = "historical_purchase"
"""The kinds of subject the history holds."""

# --- read models of the catalog ---------------------------------------------------------------

listings = Table(
    "listings",
    metadata,
    Column("listing_id", String(64), primary_key=True),
    Column("program_id", String(64), nullable=False, index=True),
    Column("category", String(100), nullable=False),
    Column("registration_no", String(40), nullable=False),
    Column("product_name", String(200), nullable=False),
    Column("enterprise_id", String(64), nullable=False, index=True),
    Column("enterprise_name", String(200), nullable=False),
    Column("registrant", String(200), nullable=False),
    Column("listing_price", Fen(), nullable=False),
    Column("payment_standard", Fen()),
    Column("coverage", String(10)),
    Column("national_lowest", Fen()),
    Column("winning", Boolean, nullable=False),
    Column("status", String(20), nullable=False),
    Column("suspended_reason", Text),
    Column("version", Integer, nullable=False),
    Column("listed_at", UTCDateTime(), nullable=False),
)

programs = Table(
    "programs",
    metadata,
    Column("program_id", String(64), primary_key=True),
    Column("category", String(100), nullable=False),
    Column("region", String(100), nullable=False),
    Column("execution_start", UTCDateTime(), nullable=False),
    Column("cycle_years", Integer, nullable=False),
    Column("profile", Text),  # PolicyProfile JSON; null = the program was published without one
    Column("profile_version", Integer, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

# --- institutions (R-PRG-3) -------------------------------------------------------------------

institutions = Table(
    "institutions",
    metadata,
    Column("institution_id", String(64), primary_key=True),
    Column("region", String(100), nullable=False, index=True),
    Column("institution_type", String(20), nullable=False),
    Column("name", String(200)),
    Column("registered_by", String(200), nullable=False),
    Column("registered_at", UTCDateTime(), nullable=False),
)

# --- agreement volumes (R-AGR-1) --------------------------------------------------------------

agreement_imports = Table(
    "agreement_imports",
    metadata,
    Column("import_id", String(64), primary_key=True),
    Column("program_id", String(64), nullable=False),
    Column("agreement_year", Integer, nullable=False),
    Column("content_sha256", String(64), nullable=False),
    Column("rows", Integer, nullable=False),
    Column("recorded", Integer, nullable=False),
    Column("changed", Integer, nullable=False),
    Column("unchanged", Integer, nullable=False),
    Column("reason", Text, nullable=False),
    Column("imported_by", String(200), nullable=False),
    Column("imported_at", UTCDateTime(), nullable=False),
    UniqueConstraint("program_id", "agreement_year", "content_sha256"),
)

agreements = Table(
    "agreements",
    metadata,
    Column("agreement_id", String(64), primary_key=True),
    Column("program_id", String(64), nullable=False),
    Column("region", String(100), nullable=False),
    Column("agreement_year", Integer, nullable=False),
    Column("year_start", UTCDateTime(), nullable=False),
    Column("year_end", UTCDateTime(), nullable=False),
    Column("institution_id", String(64), nullable=False),
    Column("institution_type", String(20), nullable=False),
    Column("enterprise_id", String(64), nullable=False),
    Column("registration_no", String(40), nullable=False),
    Column("listing_id", String(64), nullable=False),
    Column("units", Integer, nullable=False),
    Column("winning_price", Fen(), nullable=False),
    Column("amount", Fen(), nullable=False),
    Column("version", Integer, nullable=False),
    Column("recorded_by", String(200), nullable=False),
    Column("recorded_at", UTCDateTime(), nullable=False),
    Column("reason", Text, nullable=False),
    Column("import_id", String(64), nullable=False),
)
Index("ix_agreements_institution", agreements.c.institution_id, agreements.c.program_id,
      agreements.c.agreement_year)
Index("ix_agreements_program", agreements.c.program_id, agreements.c.agreement_year,
      agreements.c.enterprise_id)

# --- history of a program onboarded under way (earlier years' actual purchases) --------------

history_imports = Table(
    "history_imports",
    metadata,
    Column("import_id", String(64), primary_key=True),
    Column("program_id", String(64), nullable=False),
    Column("content_sha256", String(64), nullable=False),
    Column("result", Text, nullable=False),  # HistoryImportResult JSON, replayed as it was
    Column("reason", Text, nullable=False),
    Column("imported_by", String(200), nullable=False),
    Column("imported_at", UTCDateTime(), nullable=False),
    UniqueConstraint("program_id", "content_sha256"),
)

historical_purchases = Table(  # units accepted before the platform ran the program
    "historical_purchases",
    metadata,
    Column("purchase_id", String(64), primary_key=True),
    Column("program_id", String(64), nullable=False),
    Column("region", String(100), nullable=False),
    Column("agreement_year", Integer, nullable=False),
    Column("institution_id", String(64), nullable=False),
    Column("enterprise_id", String(64), nullable=False),
    Column("registration_no", String(40), nullable=False),
    Column("listing_id", String(64), nullable=False),
    Column("accepted_units", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("recorded_by", String(200), nullable=False),
    Column("recorded_at", UTCDateTime(), nullable=False),
    Column("reason", Text, nullable=False),
    Column("import_id", String(64), nullable=False),
)
Index("ix_historical_purchases_program", historical_purchases.c.program_id,
      historical_purchases.c.agreement_year, historical_purchases.c.institution_id)

# --- renewals (R-AGR-2) -----------------------------------------------------------------------

renewals = Table(
    "renewals",
    metadata,
    Column("renewal_id", String(64), primary_key=True),
    Column("program_id", String(64), nullable=False),
    Column("agreement_year", Integer, nullable=False),
    Column("institution_id", String(64), nullable=False),
    Column("demand", Text, nullable=False),  # JSON {enterprise_id: units}
    Column("status", String(30), nullable=False),
    Column("last_year_accepted_total", Integer, nullable=False),
    Column("last_year_agreement", Text, nullable=False),  # JSON {enterprise_id: units}
    Column("failures", Text, nullable=False),  # JSON [RenewalFailureOut]
    Column("exception_reason", Text),
    Column("submitted_by", String(200), nullable=False),
    Column("submitted_at", UTCDateTime(), nullable=False),
    Column("decided_by", String(200), nullable=False),
    Column("decided_at", UTCDateTime(), nullable=False),
)
Index("ix_renewals_institution", renewals.c.institution_id, renewals.c.program_id,
      renewals.c.agreement_year)

# --- purchase orders (R-AGR-4/5/8) ------------------------------------------------------------

orders = Table(
    "orders",
    metadata,
    Column("order_id", String(64), primary_key=True),
    Column("program_id", String(64), nullable=False),
    Column("region", String(100), nullable=False),
    Column("agreement_year", Integer, nullable=False),
    Column("agreement_month", Integer, nullable=False),
    Column("institution_id", String(64), nullable=False),
    Column("listing_id", String(64), nullable=False),
    Column("registration_no", String(40), nullable=False),
    Column("enterprise_id", String(64), nullable=False),
    Column("winning", Boolean, nullable=False),
    Column("units", Integer, nullable=False),
    Column("unit_price", Fen(), nullable=False),
    Column("amount", Fen(), nullable=False),
    Column("order_class", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("distributor_id", String(64)),
    Column("shipped_units", Integer),
    Column("delivered_units", Integer),
    Column("accepted_units", Integer),
    Column("accepted_amount", Fen()),
    Column("accepted_at", UTCDateTime()),
    Column("accepted_year", Integer),
    Column("reason", Text),
    Column("supply_risk", Text),
    Column("placed_by", String(200), nullable=False),
    Column("placed_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("version", Integer, nullable=False),
)
Index("ix_orders_placing", orders.c.program_id, orders.c.institution_id,
      orders.c.registration_no, orders.c.agreement_year)
Index("ix_orders_accepted", orders.c.program_id, orders.c.accepted_year,
      orders.c.institution_id)
Index("ix_orders_institution", orders.c.institution_id, orders.c.order_id)
Index("ix_orders_enterprise", orders.c.enterprise_id, orders.c.order_id)

# --- pacing (R-AGR-6) -------------------------------------------------------------------------

pacing_warnings = Table(
    "pacing_warnings",
    metadata,
    Column("warning_id", String(64), primary_key=True),
    Column("program_id", String(64), nullable=False),
    Column("agreement_year", Integer, nullable=False),
    Column("institution_id", String(64), nullable=False),
    Column("registration_no", String(40), nullable=False),
    Column("agreement_month", Integer, nullable=False),
    Column("month", Date, nullable=False),
    Column("month_start", UTCDateTime(), nullable=False),
    Column("month_end", UTCDateTime(), nullable=False),
    Column("checks", String(40), nullable=False),  # comma-separated
    Column("annual_units", Integer, nullable=False),
    Column("ordered_units", Integer, nullable=False),
    Column("cumulative_units", Integer, nullable=False),
    Column("reason", Text, nullable=False),
    Column("raised_by", String(200), nullable=False),
    Column("raised_at", UTCDateTime(), nullable=False),
)
Index("ix_pacing_warnings_institution", pacing_warnings.c.institution_id,
      pacing_warnings.c.warning_id)
Index("ix_pacing_warnings_program", pacing_warnings.c.program_id,
      pacing_warnings.c.agreement_year)

# --- history (R-AGR-9) ------------------------------------------------------------------------

history = history_table(metadata)
"""Who changed what, when and why (R-AGR-9): subjects ``order``, ``agreement``, ``renewal``,
``institution``, ``historical_purchase`` (``services.runtime.history``)."""


# --- listings ---------------------------------------------------------------------------------


async def search_listings(
    conn: AsyncConnection,
    *,
    program_id: str | None,
    enterprise_id: str | None,
    after: str | None,
    limit: int,
) -> list[Row[Any]]:
    """Listings in a stable order (by id), keyset-paginated."""
    query = select(listings).order_by(listings.c.listing_id).limit(limit)
    if program_id:
        query = query.where(listings.c.program_id == program_id)
    if enterprise_id:
        query = query.where(listings.c.enterprise_id == enterprise_id)
    if after:
        query = query.where(listings.c.listing_id > after)
    return list((await conn.execute(query)).all())


async def enterprise_names(conn: AsyncConnection, *, program_id: str | None = None,
                           enterprise_ids: Sequence[str] | None = None) -> dict[str, str]:
    """Enterprise id → name, from the listings read model (catalog's ``ProductListed``): of one
    program's listings, or of the given ids."""
    query = select(listings.c.enterprise_id, listings.c.enterprise_name).distinct()
    if program_id is not None:
        query = query.where(listings.c.program_id == program_id)
    if enterprise_ids is not None:
        if not enterprise_ids:
            return {}
        query = query.where(listings.c.enterprise_id.in_(sorted(set(enterprise_ids))))
    return {r.enterprise_id: r.enterprise_name for r in (await conn.execute(query)).all()}


async def winning_listings(conn: AsyncConnection, program_id: str) -> list[Row[Any]]:
    query = select(listings.c.listing_id, listings.c.registration_no, listings.c.enterprise_id,
                   listings.c.listing_price).where(listings.c.program_id == program_id,
                                                   listings.c.winning.is_(True))
    return list((await conn.execute(query)).all())


# --- programs ---------------------------------------------------------------------------------


async def get_program(conn: AsyncConnection, program_id: str, *,
                      for_update: bool = False) -> Row[Any] | None:
    query = select(programs).where(programs.c.program_id == program_id)
    if for_update:
        query = query.with_for_update()
    return (await conn.execute(query)).first()


async def list_programs(conn: AsyncConnection) -> list[Row[Any]]:
    return list((await conn.execute(select(programs).order_by(programs.c.program_id))).all())


# --- institutions -----------------------------------------------------------------------------


async def region_register(conn: AsyncConnection, region: str) -> dict[str, str] | None:
    """The registered institutions of a region (id → type); None when none are registered,
    i.e. the region's institutions are not known to the platform."""
    rows = (await conn.execute(
        select(institutions.c.institution_id, institutions.c.institution_type)
        .where(institutions.c.region == region))).all()
    return {r.institution_id: r.institution_type for r in rows} or None


# --- orders -----------------------------------------------------------------------------------


def _any_of(column: ColumnElement[Any], statuses: Iterable[OrderStatus]) -> ColumnElement[bool]:
    """``column`` is one of ``statuses``, as ORs of equalities in a stable order (no IN (…): an
    expanding parameter is rendered on every execution of a prepared statement)."""
    return or_(*(column == status.value for status in sorted(statuses)))


def committed_units(counted: Iterable[OrderStatus] = COUNTS_TOWARD_PROGRESS,
                    nothing: Iterable[OrderStatus] = COMMITS_NOTHING) -> ColumnElement[Any]:
    """R-AGR-4 in SQL, built from the domain's statuses (``domain.committed_units``): an
    order's accepted units once accepted, nothing once cancelled or rejected, its units while
    open."""
    return case((_any_of(orders.c.status, counted), orders.c.accepted_units),
                (_any_of(orders.c.status, nothing), literal(0)),
                else_=orders.c.units)


def ordered_units(withdrawn: Iterable[OrderStatus] = NOT_ORDERED) -> ColumnElement[Any]:
    """R-AGR-6 in SQL, built from the domain's statuses (``domain.ordered_units``): an order's
    units unless it was cancelled."""
    return case((_any_of(orders.c.status, withdrawn), literal(0)), else_=orders.c.units)


def _order_context(listing: Any, institution: Any) -> Select[Any]:
    """Everything placing an order for ``listing`` by ``institution`` (parameters, or the
    columns of a list of requests) needs, in one round trip: the listing; its program; whether
    the program's region has an institution register and the caller's region in it; the
    institution's agreement volume for the product per agreement year, with the last month a
    pacing warning was raised for it; and, per agreement year with a volume, per agreement
    month, the units it ordered (not cancelled) and the units committed against the agreement
    (accepted units of closed orders, ordered units of open ones, nothing of cancelled or
    rejected ones). One row per (agreement year, month with orders), or one row of nulls."""
    inst_region = (select(institutions.c.region)
                   .where(institutions.c.institution_id == institution)
                   .scalar_subquery())
    region_known = exists().where(institutions.c.region == programs.c.region)
    committed = committed_units()
    ordered = ordered_units()
    of_listing = select(listings.c.program_id, listings.c.registration_no).where(
        listings.c.listing_id == listing).subquery()
    stats = (
        select(orders.c.agreement_year, orders.c.agreement_month,
               func.sum(ordered).label("ordered"), func.sum(committed).label("committed"))
        .where(orders.c.program_id == select(of_listing.c.program_id).scalar_subquery(),
               orders.c.institution_id == institution,
               orders.c.registration_no == select(of_listing.c.registration_no)
               .scalar_subquery())
        .group_by(orders.c.agreement_year, orders.c.agreement_month)
        .subquery("stats")
    )
    warned = (select(func.max(pacing_warnings.c.agreement_month))
              .where(pacing_warnings.c.program_id == listings.c.program_id,
                     pacing_warnings.c.agreement_year == agreements.c.agreement_year,
                     pacing_warnings.c.institution_id == institution,
                     pacing_warnings.c.registration_no == listings.c.registration_no)
              .scalar_subquery())
    joined = (
        listings.outerjoin(programs, programs.c.program_id == listings.c.program_id)
        .outerjoin(agreements, and_(agreements.c.program_id == listings.c.program_id,
                                    agreements.c.institution_id == institution,
                                    agreements.c.registration_no == listings.c.registration_no))
        .outerjoin(stats, stats.c.agreement_year == agreements.c.agreement_year)
    )
    return (
        select(listings, programs.c.region, programs.c.execution_start, programs.c.cycle_years,
               programs.c.profile, programs.c.profile_version,
               programs.c.program_id.label("program_known"),
               inst_region.label("institution_region"), region_known.label("region_known"),
               agreements.c.agreement_year.label("agreement_year"),
               agreements.c.units.label("agreement_units"),
               stats.c.agreement_month.label("month"), stats.c.ordered, stats.c.committed,
               warned.label("last_warned_month"))
        .select_from(joined)
        .where(listings.c.listing_id == listing)
    )


ORDER_CONTEXT = _order_context(bindparam("listing_id", type_=String),
                               bindparam("institution_id", type_=String))
"""Built once: constructing the statement costs more than running it."""


def _order_contexts() -> Select[Any]:
    """:data:`ORDER_CONTEXT` for many orders at once (PostgreSQL): the arrays ``listing_ids``
    and ``institution_ids`` side by side, each pair's rows tagged with its position ``n``
    (1-based); a pair with an unknown listing has no rows."""
    wanted = func.unnest(bindparam("listing_ids", type_=postgresql.ARRAY(String)),
                         bindparam("institution_ids", type_=postgresql.ARRAY(String))
                         ).table_valued("listing_id", "institution_id", with_ordinality="n"
                                        ).render_derived(name="wanted")
    # the lateral subquery's nested queries refer to ``wanted`` by name: as columns of the
    # function, SQLAlchemy would add it to their FROM lists instead of correlating
    context = _order_context(literal_column("wanted.listing_id", String),
                             literal_column("wanted.institution_id", String)).lateral("context")
    return select(wanted.c.n, context).select_from(wanted.join(context, true()))


ORDER_CONTEXTS = _order_contexts()


async def order_contexts(conn: AsyncConnection, wanted: Sequence[tuple[str, str]]
                         ) -> list[list[Row[Any]]]:
    """The context rows of each (listing_id, institution_id) in ``wanted``, in its order."""
    if conn.dialect.name != "postgresql":
        return [list((await conn.execute(ORDER_CONTEXT, {
            "listing_id": listing, "institution_id": institution})).all())
            for listing, institution in wanted]
    found: list[list[Row[Any]]] = [[] for _ in wanted]
    for row in (await conn.execute(ORDER_CONTEXTS, {
            "listing_ids": [listing for listing, _ in wanted],
            "institution_ids": [institution for _, institution in wanted]})).all():
        found[row.n - 1].append(row)
    return found


async def insert_orders(conn: AsyncConnection,
                        placed: Sequence[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    """New orders (their column values) with their 'placed' history rows (the detail; by
    ``placed_by`` at ``placed_at``): one round trip for all on PostgreSQL."""
    if not placed:
        return
    rows = [history_row(ORDER, values["order_id"], OrderStatus.PLACED.value, detail,
                        values["placed_by"], "order placed", values["placed_at"])
            for values, detail in placed]
    if conn.dialect.name == "postgresql":
        await conn.execute(INSERT_ORDER_WITH_HISTORY, [
            {**{f"o_{c.name}": values.get(c.name) for c in orders.c},
             "h_detail": row["detail"], "h_actor": row["actor"], "h_at": row["at"]}
            for (values, _), row in zip(placed, rows, strict=True)])
        return
    await conn.execute(insert(orders), [{c.name: values.get(c.name) for c in orders.c}
                                        for values, _ in placed])
    await write_history(conn, history, rows)


def _insert_order_with_history() -> Any:
    """INSERT an order and its first history row in one statement (a data-modifying CTE), run
    once per order in one executemany. Parameters: the order's columns prefixed ``o_``, and
    ``h_detail``, ``h_actor``, ``h_at``."""
    new = (insert(orders).values({c.name: bindparam(f"o_{c.name}", type_=c.type)
                                  for c in orders.c})
           .returning(orders.c.order_id).cte("new_order"))
    return (insert(history).values(
        subject_kind=ORDER, subject_id=bindparam("o_order_id", type_=String),
        change=OrderStatus.PLACED.value,
        detail=bindparam("h_detail", type_=Text), actor=bindparam("h_actor", type_=String),
        reason="order placed", at=bindparam("h_at", type_=UTCDateTime()))
        .add_cte(new))


INSERT_ORDER_WITH_HISTORY = _insert_order_with_history()


async def get_order(conn: AsyncConnection, order_id: str, *, for_update: bool = False
                    ) -> Row[Any] | None:
    query = select(orders).where(orders.c.order_id == order_id)
    if for_update:
        query = query.with_for_update()
    return (await conn.execute(query)).first()


LOCK_ORDERS = (select(orders).where(orders.c.order_id == any_(bindparam(
    "order_ids", type_=postgresql.ARRAY(String)))).order_by(orders.c.order_id).with_for_update())
"""Several orders locked for a change, in one statement (in order_id order, so two such
transactions never wait on each other crosswise)."""

SUPPLY_MOVE_COLUMNS = ("status", "distributor_id", "supply_risk", "shipped_units",
                       "delivered_units", "updated_at", "version")
"""What supply's events change on an order (``lifecycle``)."""

SAVE_SUPPLY_MOVES = update(orders).where(orders.c.order_id == bindparam("b_order_id"))


async def lock_orders(conn: AsyncConnection, order_ids: Sequence[str]) -> list[Row[Any]]:
    if is_postgres(conn):
        return list((await conn.execute(LOCK_ORDERS, {"order_ids": list(order_ids)})).all())
    # SQLite: no arrays (nor row locks: one writer at a time)
    return list((await conn.execute(select(orders).where(orders.c.order_id.in_(order_ids))
                                    .order_by(orders.c.order_id))).all())


async def save_supply_moves(conn: AsyncConnection, changed: Iterable[dict[str, Any]]) -> None:
    """Orders as supply's events left them (``SUPPLY_MOVE_COLUMNS`` of each, one statement
    for them all)."""
    params = [{"b_order_id": row["order_id"], **{c: row[c] for c in SUPPLY_MOVE_COLUMNS}}
              for row in changed]
    if params:
        await conn.execute(SAVE_SUPPLY_MOVES, params)


async def change_order(conn: AsyncConnection, row: Any, change: str, values: dict[str, Any],
                       detail: dict[str, Any], actor: str, reason: str, at: datetime) -> Any:
    """A change of an order: its new values with the next version, and the history row saying
    what, who, when and why (R-AGR-9); the order as it is now."""
    version = row.version + 1
    new = (await conn.execute(update(orders).where(orders.c.order_id == row.order_id)
                              .values(**values, updated_at=at, version=version)
                              .returning(*orders.c))).one()
    await write_history(conn, history, [history_row(
        ORDER, row.order_id, change, {**detail, "version": version}, actor, reason, at)])
    return new


def accepted_sum(program_id: Any, year: Any, institution_id: Any,
                 registration_no: Any) -> Any:
    """Correlated: winning-product units accepted by an institution in an agreement year, by
    live orders and as imported history (the two count alike)."""
    purchases = historical_purchases.c
    live = (select(func.coalesce(func.sum(orders.c.accepted_units), 0))
            .where(orders.c.program_id == program_id, orders.c.accepted_year == year,
                   orders.c.institution_id == institution_id,
                   orders.c.registration_no == registration_no,
                   orders.c.winning.is_(True), orders.c.accepted_units.is_not(None))
            .scalar_subquery())
    imported = (select(func.coalesce(func.sum(purchases.accepted_units), 0))
                .where(purchases.program_id == program_id, purchases.agreement_year == year,
                       purchases.institution_id == institution_id,
                       purchases.registration_no == registration_no)
                .scalar_subquery())
    return live + imported


async def accepted_total(conn: AsyncConnection, *, program_id: str, agreement_year: int,
                         institution_id: str) -> int:
    """Winning-product units an institution accepted in an agreement year (its actual
    purchases, R-AGR-2): live orders and imported history alike."""
    purchases = historical_purchases.c
    live = await conn.scalar(
        select(func.coalesce(func.sum(orders.c.accepted_units), 0))
        .where(orders.c.program_id == program_id, orders.c.institution_id == institution_id,
               orders.c.accepted_year == agreement_year, orders.c.winning.is_(True),
               orders.c.accepted_units.is_not(None)))
    imported = await conn.scalar(
        select(func.coalesce(func.sum(purchases.accepted_units), 0))
        .where(purchases.program_id == program_id, purchases.institution_id == institution_id,
               purchases.agreement_year == agreement_year))
    return int(live or 0) + int(imported or 0)


async def accepted_by_product(conn: AsyncConnection, *, program_id: str, agreement_year: int,
                              institution_id: str | None, region: str | None = None
                              ) -> list[Row[Any]]:
    """Accepted units per (institution, product, enterprise, winning) in an agreement year: the
    rows of live orders, then those of imported history (winning products only); a key may
    appear in both, callers sum."""
    query = (
        select(orders.c.institution_id, orders.c.registration_no, orders.c.enterprise_id,
               orders.c.winning, func.sum(orders.c.accepted_units).label("accepted"))
        .where(orders.c.program_id == program_id, orders.c.accepted_year == agreement_year,
               orders.c.accepted_units.is_not(None))
        .group_by(orders.c.institution_id, orders.c.registration_no, orders.c.enterprise_id,
                  orders.c.winning)
    )
    if institution_id is not None:
        query = query.where(orders.c.institution_id == institution_id)
    if region is not None:
        query = query.where(orders.c.region == region)
    purchases = historical_purchases.c
    imported = (
        select(purchases.institution_id, purchases.registration_no, purchases.enterprise_id,
               true().label("winning"), func.sum(purchases.accepted_units).label("accepted"))
        .where(purchases.program_id == program_id, purchases.agreement_year == agreement_year)
        .group_by(purchases.institution_id, purchases.registration_no, purchases.enterprise_id)
    )
    if institution_id is not None:
        imported = imported.where(purchases.institution_id == institution_id)
    if region is not None:
        imported = imported.where(purchases.region == region)
    return [*(await conn.execute(query)).all(), *(await conn.execute(imported)).all()]


async def agreement_units_by_product(conn: AsyncConnection, *, program_id: str,
                                     agreement_year: int, institution_id: str | None,
                                     region: str | None = None) -> list[Row[Any]]:
    query = (
        select(agreements.c.institution_id, agreements.c.registration_no,
               agreements.c.enterprise_id, agreements.c.units)
        .where(agreements.c.program_id == program_id,
               agreements.c.agreement_year == agreement_year)
    )
    if institution_id is not None:
        query = query.where(agreements.c.institution_id == institution_id)
    if region is not None:
        query = query.where(agreements.c.region == region)
    return list((await conn.execute(query)).all())


def agreements_with_progress() -> Select[Any]:
    accepted = accepted_sum(agreements.c.program_id, agreements.c.agreement_year,
                            agreements.c.institution_id, agreements.c.registration_no)
    name = (select(listings.c.enterprise_name)
            .where(listings.c.listing_id == agreements.c.listing_id).scalar_subquery())
    return select(agreements, accepted.label("accepted_units"), name.label("enterprise_name"))
