"""Supply tables and queries.

Concurrency (PostgreSQL): every HTTP command that changes where an order goes holds the
*routing lock* in shared mode; barring, lifting and the pending-order sweep hold it
exclusively, so a bar sees a still picture of the distributor's orders and assignments. The
event handlers (which may share one transaction with many events) do not take it: routing
reads its candidate distributors ``FOR KEY SHARE`` and a cancellation its order's distributor,
which a bar's ``FOR UPDATE`` of the barred distributor excludes (see ``routing_candidates``).
Routing an order with no assignment and recording an assignment also take a per (enterprise,
product) lock, so an order left pending and an assignment recorded at the same moment always
meet. SQLite serialises writers anyway.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    Row,
    String,
    Table,
    Text,
    and_,
    bindparam,
    func,
    or_,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from services.runtime.db import BigId, UTCDateTime, is_postgres, new_metadata
from services.runtime.history import history_row, history_table, write_history
from services.supply import domain

metadata = new_metadata()

distributors = Table(
    "distributors",
    metadata,
    Column("distributor_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("qualified", Boolean, nullable=False),
    Column("barred_from", UTCDateTime()),
    Column("barred_until", UTCDateTime()),
    Column("registered_by", String(200), nullable=False),
    Column("registered_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

bars = Table(  # the violation list (违规名单): one row per listing of a distributor
    "bars",
    metadata,
    Column("bar_id", String(64), primary_key=True),
    Column("distributor_id", String(64), nullable=False, index=True),
    Column("reason", Text, nullable=False),
    Column("barred_from", UTCDateTime(), nullable=False),
    Column("barred_until", UTCDateTime(), nullable=False),
    Column("measure_id", String(100), unique=True),
    Column("barred_by", String(200), nullable=False),
    Column("lifted_at", UTCDateTime()),
    Column("lifted_by", String(200)),
    Column("lift_reason", Text),
)

assignments = Table(
    "assignments",
    metadata,
    Column("assignment_id", String(64), primary_key=True),
    Column("enterprise_id", String(64), nullable=False),
    Column("registration_no", String(40), nullable=False),
    Column("distributor_id", String(64), nullable=False, index=True),
    Column("scope", String(12), nullable=False),
    Column("institution_id", String(64)),
    Column("region", String(100)),
    Column("valid_from", UTCDateTime(), nullable=False),
    Column("valid_until", UTCDateTime()),
    Column("revoked_at", UTCDateTime()),
    Column("revoked_by", String(200)),
    Column("revoke_reason", Text),
    Column("recorded_by", String(200), nullable=False),
    Column("recorded_at", UTCDateTime(), nullable=False),
    Column("reason", Text, nullable=False),
)
Index("ix_assignments_enterprise_id_registration_no", assignments.c.enterprise_id,
      assignments.c.registration_no)

orders = Table(  # supply's view of purchase orders (built from OrderPlaced) and their routing
    "orders",
    metadata,
    Column("order_id", String(64), primary_key=True),
    Column("program_id", String(64), nullable=False),
    Column("institution_id", String(64), nullable=False, index=True),
    Column("region", String(100), nullable=False),
    Column("enterprise_id", String(64), nullable=False),
    Column("registration_no", String(40), nullable=False),
    Column("units", Integer, nullable=False),
    Column("placed_at", UTCDateTime(), nullable=False),
    Column("status", String(12), nullable=False),
    Column("distributor_id", String(64)),
    Column("assignment_id", String(64)),
    Column("routed_at", UTCDateTime()),
    Column("shipped_units", Integer, nullable=False, server_default="0"),
    Column("delivered_units", Integer, nullable=False, server_default="0"),
    Column("delivered_at", UTCDateTime()),
    Column("delivery_us", BigInteger, comment="placed → fully delivered, microseconds"),
    Column("cancelled_at", UTCDateTime()),
)
Index("ix_orders_distributor_id_status", orders.c.distributor_id, orders.c.status)
Index("ix_orders_enterprise_id_status", orders.c.enterprise_id, orders.c.status)
Index("ix_orders_pending", orders.c.enterprise_id, orders.c.registration_no,
      postgresql_where=orders.c.status == "pending", sqlite_where=orders.c.status == "pending")

movements = Table(  # shipments and deliveries, as distributors recorded them (R-SUP-3)
    "movements",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("order_id", String(64), nullable=False, index=True),
    Column("kind", String(10), nullable=False),
    Column("units", Integer, nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("distributor_id", String(64), nullable=False),
    Column("recorded_by", String(200), nullable=False),
    Column("recorded_at", UTCDateTime(), nullable=False),
)

supply_risks = Table(  # an order nobody may distribute (R-SUP-4), open until it is routed
    "supply_risks",
    metadata,
    Column("risk_id", BigId, primary_key=True, autoincrement=True),
    Column("order_id", String(64), nullable=False, index=True),
    Column("enterprise_id", String(64), nullable=False, index=True),
    Column("registration_no", String(40), nullable=False),
    Column("institution_id", String(64), nullable=False, index=True),
    Column("reason", String(40), nullable=False),
    Column("taken_back_from", String(64)),
    Column("opened_at", UTCDateTime(), nullable=False),
    Column("closed_at", UTCDateTime()),
    Column("resolution", String(20)),
)

contingencies = Table(  # R-SUP-4: an enterprise that lost a distributor to a bar
    "contingencies",
    metadata,
    Column("contingency_id", String(64), primary_key=True),
    Column("bar_id", String(64), nullable=False, index=True),
    Column("enterprise_id", String(64), nullable=False, index=True),
    Column("distributor_id", String(64), nullable=False),
    Column("registration_nos", Text, nullable=False, comment="JSON list of products affected"),
    Column("opened_at", UTCDateTime(), nullable=False),
    Column("closed_at", UTCDateTime()),
    Column("closed_by", String(64), comment="the assignment that closed it"),
)

contingency_gaps = Table(  # where no valid assignment covers supply after the bar
    "contingency_gaps",
    metadata,
    Column("contingency_id", String(64), primary_key=True),
    Column("registration_no", String(40), primary_key=True),
    Column("scope", String(12), primary_key=True),
    Column("place", String(100), primary_key=True),
    Column("region", String(100), comment="the institution's region, when known"),
    Column("closed_at", UTCDateTime()),
    Column("closed_by", String(64)),
)

accounts = Table(  # R-SUP-2: institutions' accounts for distributors
    "accounts",
    metadata,
    Column("institution_id", String(64), primary_key=True),
    Column("distributor_id", String(64), primary_key=True, index=True),
    Column("status", String(12), nullable=False),
    Column("requested_at", UTCDateTime()),
    Column("opened_at", UTCDateTime()),
    Column("updated_by", String(200), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

products = Table(  # read model of catalog listings: which enterprise a product belongs to
    "products",
    metadata,
    Column("listing_id", String(64), primary_key=True),
    Column("registration_no", String(40), nullable=False, index=True),
    Column("enterprise_id", String(64), nullable=False, index=True),
    Column("enterprise_name", String(200)),
    Column("version", Integer, nullable=False),
)

async def enterprise_names(conn: AsyncConnection, enterprise_ids: Iterable[str]
                           ) -> dict[str, str]:
    """Enterprise id → name, from the products read model (catalog's ``ProductListed``)."""
    ids = sorted(set(enterprise_ids))
    if not ids:
        return {}
    rows = (await conn.execute(
        select(products.c.enterprise_id, products.c.enterprise_name).distinct()
        .where(products.c.enterprise_id.in_(ids), products.c.enterprise_name.is_not(None))
    )).all()
    return {r.enterprise_id: r.enterprise_name for r in rows}


history = history_table(metadata)
"""Every change of a distributor, assignment, bar, contingency or account: who, when, why (the
runtime's history table, ``services.runtime.history``)."""


async def write_changes(conn: AsyncConnection, entries: Iterable[tuple[str, str, str, Any]],
                        actor: str, reason: str, at: datetime) -> None:
    """Append (subject kind, subject id, change, detail) entries to ``history``."""
    await write_history(conn, history, [history_row(kind, ident, change, detail, actor, reason,
                                                    at)
                                        for kind, ident, change, detail in entries])


async def history_page(conn: AsyncConnection, subject_kind: str, subject_id: str,
                       limit: int = 1000) -> list[Row[Any]]:
    """One object's changes, oldest first (at most ``limit``)."""
    query = (select(history).where(history.c.subject_kind == subject_kind,
                                   history.c.subject_id == subject_id)
             .order_by(history.c.seq).limit(limit))
    return list((await conn.execute(query)).all())


OPEN_STATUSES = ("routed", "shipped")
"""Orders with a distributor and not yet fully delivered."""

# --- locks -------------------------------------------------------------------------------------

ROUTING_LOCK = 0x5B_0B_0C_51


async def routing_lock(conn: AsyncConnection, *, exclusive: bool = False) -> None:
    """Shared by everything that changes where orders go; exclusive for bars and sweeps."""
    if not is_postgres(conn):
        return
    fn = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    await conn.execute(text(f"SELECT {fn}(:k)"), {"k": ROUTING_LOCK})


def _product_key(enterprise_id: str, registration_no: str) -> int:
    digest = hashlib.blake2b(f"{enterprise_id}\x1f{registration_no}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


async def product_lock(conn: AsyncConnection, enterprise_id: str, registration_no: str) -> None:
    """Serialises 'order left pending' against 'assignment recorded' for one product."""
    if is_postgres(conn):
        await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"),
                           {"k": _product_key(enterprise_id, registration_no)})


# --- domain values from rows ---------------------------------------------------------------------


def to_distributor(row: Any) -> domain.Distributor:
    return domain.Distributor(row.distributor_id, row.name, row.qualified,
                              barred_until=row.barred_until, barred_from=row.barred_from)


def to_assignment(row: Any) -> domain.Assignment:
    return domain.Assignment(
        assignment_id=row.assignment_id, enterprise_id=row.enterprise_id,
        registration_no=row.registration_no, distributor_id=row.distributor_id,
        scope=domain.Scope(row.scope), institution_id=row.institution_id, region=row.region,
        valid_from=row.valid_from, valid_until=row.valid_until, revoked_at=row.revoked_at)


def to_order(row: Any) -> domain.OrderToRoute:
    return domain.OrderToRoute(row.order_id, row.enterprise_id, row.registration_no,
                               row.institution_id, row.region, row.units, row.placed_at)


# --- queries --------------------------------------------------------------------------------------

_ASSIGNMENT_COLUMNS = [assignments.c[n] for n in (
    "assignment_id", "enterprise_id", "registration_no", "distributor_id", "scope",
    "institution_id", "region", "valid_from", "valid_until", "revoked_at")]
_DISTRIBUTOR_COLUMNS = [distributors.c[n] for n in (
    "distributor_id", "name", "qualified", "barred_from", "barred_until")]


_CANDIDATE_COLUMNS = (
    *_ASSIGNMENT_COLUMNS, distributors.c.name, distributors.c.qualified,
    distributors.c.barred_from.label("d_from"), distributors.c.barred_until.label("d_until"))
_CANDIDATE_JOIN = assignments.join(
    distributors, distributors.c.distributor_id == assignments.c.distributor_id)

# built once (constructing a statement per event cost more than running it), with expanding
# IN lists, so one cached statement whatever the number of orders. The enterprise and product
# lists let the (enterprise, product) index narrow the search; the exact (enterprise, product,
# place) pairs are compared as one string each, which the database looks up in a hash rather
# than comparing row values one by one.
_assignment = assignments.c
_SEP = "\x1f"


def _place_key(enterprise_id: Any, registration_no: Any, place: Any) -> Any:
    return enterprise_id + _SEP + registration_no + _SEP + place


_ROUTING_CANDIDATES = (
    select(*_CANDIDATE_COLUMNS)
    .select_from(_CANDIDATE_JOIN)
    .where(_assignment.enterprise_id.in_(bindparam("enterprises", expanding=True)),
           _assignment.registration_no.in_(bindparam("products", expanding=True)),
           or_(and_(_assignment.scope == "institution",
                    _place_key(_assignment.enterprise_id, _assignment.registration_no,
                               _assignment.institution_id)
                    .in_(bindparam("institution_keys", expanding=True))),
               and_(_assignment.scope == "region",
                    _place_key(_assignment.enterprise_id, _assignment.registration_no,
                               _assignment.region)
                    .in_(bindparam("region_keys", expanding=True)))))
    .order_by(distributors.c.distributor_id)  # locked in one order, whoever routes
    .with_for_update(read=True, key_share=True, of=distributors)
)


def _candidates(rows: Iterable[Any]) -> tuple[list[domain.Assignment],
                                              dict[str, domain.Distributor]]:
    found: list[domain.Assignment] = []
    dist: dict[str, domain.Distributor] = {}
    for row in rows:
        found.append(to_assignment(row))
        dist[row.distributor_id] = domain.Distributor(
            row.distributor_id, row.name, row.qualified, barred_until=row.d_until,
            barred_from=row.d_from)
    return found, dist


async def routing_candidates(
    conn: AsyncConnection, orders: Sequence[domain.OrderToRoute],
) -> tuple[list[domain.Assignment], dict[str, domain.Distributor]]:
    """The assignments that could route these orders (each order's enterprise and product, for
    its institution or its region), and their distributors, in one round trip.

    On PostgreSQL the distributor rows are read ``FOR KEY SHARE``: a bar holds its
    distributor ``FOR UPDATE`` while it takes orders back, so routing waits for it and then
    reads the distributor barred; a bar that starts later waits for this transaction and then
    sees the orders it routed. That is the whole of the routing hot path's locking.
    """
    if not orders:
        return [], {}
    params = {
        "enterprises": sorted({o.enterprise_id for o in orders}),
        "products": sorted({o.registration_no for o in orders}),
        "institution_keys": sorted({_place_key(o.enterprise_id, o.registration_no,
                                               o.institution_id) for o in orders}),
        "region_keys": sorted({_place_key(o.enterprise_id, o.registration_no, o.region)
                               for o in orders}),
    }
    return _candidates((await conn.execute(_ROUTING_CANDIDATES, params)).all())


async def assignments_where(conn: AsyncConnection, *conditions: Any) -> list[domain.Assignment]:
    rows = (await conn.execute(select(*_ASSIGNMENT_COLUMNS).where(*conditions))).all()
    return [to_assignment(r) for r in rows]


async def assignments_of_products(
    conn: AsyncConnection, keys: Iterable[tuple[str, str]]
) -> list[domain.Assignment]:
    """Every assignment of the given (enterprise, product) pairs."""
    by_enterprise: dict[str, set[str]] = {}
    for enterprise_id, registration_no in keys:
        by_enterprise.setdefault(enterprise_id, set()).add(registration_no)
    found: list[domain.Assignment] = []
    for enterprise_id, nos in sorted(by_enterprise.items()):
        found += await assignments_where(
            conn, assignments.c.enterprise_id == enterprise_id,
            assignments.c.registration_no.in_(sorted(nos)))
    return found


async def distributors_by_id(
    conn: AsyncConnection, ids: Iterable[str], *, key_share: bool = False
) -> dict[str, domain.Distributor]:
    """Distributors by id; ``key_share``: held against a bar until the transaction ends."""
    wanted = sorted(set(ids))
    found: dict[str, domain.Distributor] = {}
    for start in range(0, len(wanted), 5000):
        query = select(*_DISTRIBUTOR_COLUMNS).where(
            distributors.c.distributor_id.in_(wanted[start:start + 5000]))
        if key_share:
            query = query.with_for_update(read=True, key_share=True)
        for row in (await conn.execute(query)).all():
            found[row.distributor_id] = to_distributor(row)
    return found


async def get_distributor(conn: AsyncConnection, distributor_id: str,
                          *, for_update: bool = False) -> Row[Any] | None:
    query = select(distributors).where(distributors.c.distributor_id == distributor_id)
    if for_update:
        query = query.with_for_update()
    return (await conn.execute(query)).first()


async def list_distributors(conn: AsyncConnection, *, after: str | None, limit: int,
                            q: str | None = None) -> list[Row[Any]]:
    query = select(distributors).order_by(distributors.c.distributor_id).limit(limit)
    if after:
        query = query.where(distributors.c.distributor_id > after)
    if q:
        query = query.where(distributors.c.name.contains(q, autoescape=True))
    return list((await conn.execute(query)).all())


async def get_assignment(conn: AsyncConnection, assignment_id: str,
                         *, for_update: bool = False) -> Row[Any] | None:
    query = select(assignments).where(assignments.c.assignment_id == assignment_id)
    if for_update:
        query = query.with_for_update()
    return (await conn.execute(query)).first()


async def search_assignments(
    conn: AsyncConnection, *, filters: dict[str, str | None], after: str | None, limit: int,
) -> list[Row[Any]]:
    query = select(assignments).order_by(assignments.c.assignment_id).limit(limit)
    for name, value in filters.items():
        if value is not None:
            query = query.where(assignments.c[name] == value)
    if after:
        query = query.where(assignments.c.assignment_id > after)
    return list((await conn.execute(query)).all())


async def get_order(conn: AsyncConnection, order_id: str, *, for_update: bool = False
                    ) -> Row[Any] | None:
    query = select(orders).where(orders.c.order_id == order_id)
    if for_update:
        query = query.with_for_update()
    return (await conn.execute(query)).first()


async def search_orders(conn: AsyncConnection, *, filters: dict[str, str | None],
                        after: str | None, limit: int) -> list[Row[Any]]:
    query = select(orders).order_by(orders.c.order_id).limit(limit)
    for name, value in filters.items():
        if value is not None:
            query = query.where(orders.c[name] == value)
    if after:
        query = query.where(orders.c.order_id > after)
    return list((await conn.execute(query)).all())


async def movements_of(conn: AsyncConnection,
                       order_ids: Sequence[str]) -> dict[str, list[Row[Any]]]:
    found: dict[str, list[Row[Any]]] = {}
    for start in range(0, len(order_ids), 5000):
        query = (select(movements).where(movements.c.order_id.in_(order_ids[start:start + 5000]))
                 .order_by(movements.c.id))
        for row in (await conn.execute(query)).all():
            found.setdefault(row.order_id, []).append(row)
    return found


async def pending_orders(conn: AsyncConnection, enterprise_id: str, registration_no: str,
                         *, institution_id: str | None = None,
                         region: str | None = None) -> list[Row[Any]]:
    query = (select(orders)
             .where(orders.c.status == "pending", orders.c.enterprise_id == enterprise_id,
                    orders.c.registration_no == registration_no)
             .order_by(orders.c.placed_at, orders.c.order_id))
    if institution_id is not None:
        query = query.where(orders.c.institution_id == institution_id)
    if region is not None:
        query = query.where(orders.c.region == region)
    return list((await conn.execute(query)).all())


async def institution_regions(conn: AsyncConnection,
                              institution_ids: Iterable[str] | None = None) -> dict[str, str]:
    """Institution → region, as the orders placed say (their latest order's region)."""
    query = (select(orders.c.institution_id, orders.c.region, func.max(orders.c.placed_at))
             .group_by(orders.c.institution_id, orders.c.region))
    if institution_ids is not None:
        wanted = sorted(set(institution_ids))
        if not wanted:
            return {}
        query = query.where(orders.c.institution_id.in_(wanted))
    latest: dict[str, tuple[datetime, str]] = {}
    for inst, region, at in (await conn.execute(query)).all():
        if inst not in latest or at > latest[inst][0]:
            latest[inst] = (at, region)
    return {inst: region for inst, (_, region) in latest.items()}


async def delivery_stats(conn: AsyncConnection, *, distributor_id: str | None,
                         enterprise_id: str | None, since: datetime | None,
                         until: datetime | None, offset: int, limit: int) -> list[Row[Any]]:
    """Per (distributor, enterprise): count, total and the nearest-rank 90th percentile of
    delivery times in microseconds, computed in the database (rank ⌈0.9 n⌉ as in
    ``domain.delivery_stats``)."""
    conds = [orders.c.status == "delivered", orders.c.delivery_us.is_not(None)]
    if distributor_id is not None:
        conds.append(orders.c.distributor_id == distributor_id)
    if enterprise_id is not None:
        conds.append(orders.c.enterprise_id == enterprise_id)
    if since is not None:
        conds.append(orders.c.delivered_at >= since)
    if until is not None:
        conds.append(orders.c.delivered_at < until)
    part = (orders.c.distributor_id, orders.c.enterprise_id)
    ranked = (
        select(orders.c.distributor_id, orders.c.enterprise_id, orders.c.delivery_us,
               func.row_number().over(partition_by=part, order_by=orders.c.delivery_us)
               .label("rn"),
               func.count().over(partition_by=part).label("n"),
               func.sum(orders.c.delivery_us).over(partition_by=part).label("total"))
        .where(*conds).subquery()
    )
    query = (
        select(ranked.c.distributor_id, ranked.c.enterprise_id, ranked.c.n, ranked.c.total,
               ranked.c.delivery_us.label("p90"))
        .where(ranked.c.rn == (9 * ranked.c.n + 9) // 10)
        .order_by(ranked.c.distributor_id, ranked.c.enterprise_id)
        .offset(offset).limit(limit)
    )
    return list((await conn.execute(query)).all())


async def get_bar(conn: AsyncConnection, bar_id: str) -> Row[Any] | None:
    return (await conn.execute(select(bars).where(bars.c.bar_id == bar_id))).first()


async def list_bars(conn: AsyncConnection, *, distributor_id: str | None, active: bool | None,
                    now: datetime, after: str | None, limit: int) -> list[Row[Any]]:
    """The violation list, by bar id; ``active``: only the bars in force at ``now`` (or only
    those not)."""
    query = select(bars).order_by(bars.c.bar_id)
    if distributor_id:
        query = query.where(bars.c.distributor_id == distributor_id)
    if after:
        query = query.where(bars.c.bar_id > after)
    if active is not None:
        live = (bars.c.lifted_at.is_(None) & (bars.c.barred_from <= now)
                & (bars.c.barred_until > now))
        query = query.where(live if active else ~live)
    return list((await conn.execute(query.limit(limit))).all())


async def list_accounts(conn: AsyncConnection, *, institution_id: str | None,
                        distributor_id: str | None, offset: int, limit: int) -> list[Row[Any]]:
    query = (select(accounts).order_by(accounts.c.institution_id, accounts.c.distributor_id)
             .offset(offset).limit(limit))
    if institution_id:
        query = query.where(accounts.c.institution_id == institution_id)
    if distributor_id:
        query = query.where(accounts.c.distributor_id == distributor_id)
    return list((await conn.execute(query)).all())


def _open_or_closed(query: Any, closed_at: Any, status: str) -> Any:
    if status == "all":
        return query
    return query.where(closed_at.is_(None) if status == "open" else closed_at.is_not(None))


async def search_risks(conn: AsyncConnection, *, filters: dict[str, str | None], status: str,
                       after: int | None, limit: int) -> list[Row[Any]]:
    """Supply risks by id; ``status``: open, closed or all."""
    query = select(supply_risks).order_by(supply_risks.c.risk_id).limit(limit)
    for name, value in filters.items():
        if value is not None:
            query = query.where(supply_risks.c[name] == value)
    query = _open_or_closed(query, supply_risks.c.closed_at, status)
    if after is not None:
        query = query.where(supply_risks.c.risk_id > after)
    return list((await conn.execute(query)).all())


async def search_contingencies(conn: AsyncConnection, *, filters: dict[str, str | None],
                               status: str, after: str | None, limit: int) -> list[Row[Any]]:
    """Contingency items by id; ``status``: open, closed or all."""
    query = select(contingencies).order_by(contingencies.c.contingency_id).limit(limit)
    for name, value in filters.items():
        if value is not None:
            query = query.where(contingencies.c[name] == value)
    query = _open_or_closed(query, contingencies.c.closed_at, status)
    if after:
        query = query.where(contingencies.c.contingency_id > after)
    return list((await conn.execute(query)).all())


async def get_contingency(conn: AsyncConnection, contingency_id: str) -> Row[Any] | None:
    return (await conn.execute(select(contingencies).where(
        contingencies.c.contingency_id == contingency_id))).first()


async def gaps_of(conn: AsyncConnection,
                  contingency_ids: Sequence[str]) -> dict[str, list[Row[Any]]]:
    """Each contingency item's gaps, by product and place."""
    found: dict[str, list[Row[Any]]] = {}
    if contingency_ids:
        query = (select(contingency_gaps)
                 .where(contingency_gaps.c.contingency_id.in_(contingency_ids))
                 .order_by(contingency_gaps.c.registration_no, contingency_gaps.c.place))
        for row in (await conn.execute(query)).all():
            found.setdefault(row.contingency_id, []).append(row)
    return found
