"""Read models of the other services' events (R-MON-1): programs, listings, agreements,
orders, facts, pacing warnings, supply risks, and payments' settlement and disbursement
outcomes.

Each ``project_*`` takes consecutive events of one type and writes them with a few statements;
every write is idempotent (keyed by the event id or the aggregate's version), so replaying a
topic — a rebuild, or its tail after the swap — changes nothing twice. Facts are kept at their
*event* time (the producer's own timestamp: placed_at, accepted_at, delivered_at …), so a
month's figures do not depend on when an event arrived.

Payments' events become one outcome per payable or installment (``domain.repayment``):
``settled_on_time`` / ``settled_overdue`` (R-PAY-1), ``disbursed_on_time`` /
``disbursed_late`` (R-PAY-7), keyed by the payable or installment, so an outcome counts once
whichever of its events arrives first (an overdue payable paid later, say).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Sequence
from functools import lru_cache
from typing import Any, Literal

from sqlalchemy import Table, TextClause, and_, bindparam, cast, func, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import TypeDecorator

from contracts.base import CloudEvent, Event
from contracts.catalog import (
    ListingPriceChanged,
    ListingReinstated,
    ListingSuspended,
    ProductListed,
    ProgramProfileChanged,
    ProgramPublished,
    WinningProductCorrected,
)
from contracts.orders import (
    AGREEMENTS_TOPIC,
    ORDERS_TOPIC,
    AgreementRecorded,
    OrderAccepted,
    OrderCancelled,
    OrderPlaced,
    OrderRejected,
    PacingWarningRaised,
)
from contracts.payments import (
    PREPAYMENTS_TOPIC,
    SETTLEMENTS_TOPIC,
    InstallmentDisbursed,
    InstallmentOverdue,
    PayableOverdue,
    PayablePaid,
    PayablesOverdue,
)
from contracts.supply import DELIVERIES_TOPIC, OrderDelivered, OrderRouted, SupplyRiskOpened
from services.monitoring import programs, store
from services.monitoring.domain import repayment
from services.monitoring.domain.repayment import Outcome
from services.runtime.db import copy_rows, insert_ignoring_duplicates, is_postgres

COPIED = "monitoring_copied"
"""Execution option: names of tables ``insert_new`` fills by COPY, every row (a rebuild's fresh
tables, without their keys while it replays: it removes the duplicates and adds the keys
after)."""
Batch = Sequence[tuple[Any, CloudEvent]]
Projector = Callable[[AsyncConnection, Batch], Awaitable[None]]


async def insert_new(conn: AsyncConnection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert rows whose key is not there yet (a replayed event inserts nothing). On
    PostgreSQL in one statement whatever their number: each column bound as one array
    (``INSERT … SELECT unnest(…), unnest(…) … ON CONFLICT DO NOTHING``), so no statement or
    bind processing per row; elsewhere as an executemany."""
    if not rows:
        return
    if table.name in _options(conn).get(COPIED, ()):
        await copy_rows(conn, table, rows, schema=_schema(conn))
        return
    if len(rows) == 1 or not is_postgres(conn):
        await conn.execute(insert_ignoring_duplicates(conn, table), rows)
        return
    names = tuple(rows[0])
    params = {}
    for name in names:
        kind = table.c[name].type
        values = [row[name] for row in rows]
        if isinstance(kind, TypeDecorator):  # Fen, UTCDateTime: converted as the column would
            values = [kind.process_bind_param(v, conn.dialect) for v in values]
        params[f"a_{name}"] = values
    columns = []
    for name in names:
        kind = table.c[name].type
        element = kind.impl_instance if isinstance(kind, TypeDecorator) else kind
        columns.append(func.unnest(cast(bindparam(f"a_{name}"), ARRAY(element))))
    statement = insert_ignoring_duplicates(conn, table).from_select(list(names),
                                                                    select(*columns))
    await conn.execute(statement, params)


# --- catalog -----------------------------------------------------------------------------------


async def project_programs(conn: AsyncConnection, batch: Batch) -> None:
    await insert_new(conn, store.programs, [{
        "program_id": e.program_id, "category": e.category, "region": e.region,
        "execution_start": e.execution_start, "cycle_years": e.cycle_years,
        "profile": e.profile.model_dump_json() if e.profile is not None else None,
        "profile_version": e.profile.version if e.profile is not None else 1,
    } for e, _ in batch])
    _forget_known(conn)
    await fold(conn)  # facts of these programs' orders seen before them


async def project_profiles(conn: AsyncConnection, batch: Batch) -> None:
    """A newer profile replaces the program's; one that changes ``late_delivery_hours`` has
    the program's facts summed again (``recount``)."""
    programs_table = store.programs
    for e, _ in batch:
        before = (await conn.execute(select(programs_table.c.profile).where(
            programs_table.c.program_id == e.program_id,
            programs_table.c.profile_version < e.version))).scalar_one_or_none()
        await conn.execute(update(programs_table).where(programs_table.c.program_id == e.program_id,
                                           programs_table.c.profile_version < e.version)
                           .values(profile=e.profile.model_dump_json(),
                                   profile_version=e.version))
        if before is not None and (programs.parse_profile(before).monitoring.late_delivery_hours
                                   != e.profile.monitoring.late_delivery_hours):
            await recount(conn, e.program_id)


async def project_listed(conn: AsyncConnection, batch: Batch) -> None:
    listings_table = store.listings
    rows = [{"listing_id": e.listing_id, "program_id": e.program_id,
             "registration_no": e.registration_no, "product_name": e.product_name,
             "enterprise_id": e.enterprise_id, "enterprise_name": e.enterprise_name,
             "listing_price": e.listing_price, "winning": e.winning, "status": "listed",
             "version": e.version} for e, _ in batch]
    await insert_new(conn, listings_table, rows)
    for row in rows:  # a newer version of a listing already held
        await conn.execute(
            update(listings_table)
            .where(
                listings_table.c.listing_id == row["listing_id"],
                listings_table.c.version < row["version"],
            )
            .values(row)
        )


def _listing_change(values: Callable[[Any], dict[str, Any]]) -> Projector:
    async def project(conn: AsyncConnection, batch: Batch) -> None:
        listings_table = store.listings
        for e, _ in batch:
            await conn.execute(
                update(listings_table)
                .where(
                    listings_table.c.listing_id == e.listing_id,
                    listings_table.c.version < e.version,
                )
                .values(**values(e), version=e.version)
            )
    return project


project_price = _listing_change(lambda e: {"listing_price": e.new_price})
project_corrected = _listing_change(lambda e: {
    "listing_price": e.listing_price, "product_name": e.product_name,
    "enterprise_id": e.enterprise_id, "enterprise_name": e.enterprise_name})
project_suspended = _listing_change(lambda e: {"status": "suspended"})
project_reinstated = _listing_change(lambda e: {"status": "listed"})


# --- orders ------------------------------------------------------------------------------------


async def project_agreements(conn: AsyncConnection, batch: Batch) -> None:
    await insert_new(conn, store.agreements, [{
        "agreement_id": e.agreement_id, "version": e.version, "program_id": e.program_id,
        "agreement_year": e.agreement_year, "year_start": e.year_start,
        "year_end": e.year_end, "institution_id": e.institution_id,
        "enterprise_id": e.enterprise_id, "registration_no": e.registration_no,
        "units": e.units, "recorded_at": e.recorded_at} for e, _ in batch])


async def project_pacing(conn: AsyncConnection, batch: Batch) -> None:
    await insert_new(conn, store.pacing_warnings, [{
        "warning_id": e.warning_id, "program_id": e.program_id,
        "agreement_year": e.agreement_year, "institution_id": e.institution_id,
        "registration_no": e.registration_no, "month": e.month, "raised_at": e.raised_at}
        for e, _ in batch])


def _fact(ce: CloudEvent, kind: str, at: Any, order_id: str, *, units: int | None = None,
          amount: Any = None, seconds: int | None = None, distributor_id: str | None = None,
          suffix: str = "") -> dict[str, Any]:
    return {"event_id": ce.id + suffix, "kind": kind, "at": at, "order_id": order_id,
            "units": units, "amount": amount, "seconds": seconds,
            "distributor_id": distributor_id}


async def project_placed(conn: AsyncConnection, batch: Batch) -> None:
    await insert_new(conn, store.orders, [{
        "order_id": e.order_id, "program_id": e.program_id, "region": e.region,
        "institution_id": e.institution_id, "enterprise_id": e.enterprise_id,
        "registration_no": e.registration_no, "units": e.units, "placed_at": e.placed_at}
        for e, _ in batch])
    await insert_facts(conn, [
        _fact(ce, "placed", e.placed_at, e.order_id, units=e.units, amount=e.amount)
        for e, ce in batch])
    await fold(conn)  # facts of these orders seen before them (deliveries: another topic)


async def project_cancelled(conn: AsyncConnection, batch: Batch) -> None:
    await insert_facts(conn, [
        _fact(ce, "cancelled", e.cancelled_at, e.order_id) for e, ce in batch])


async def project_accepted(conn: AsyncConnection, batch: Batch) -> None:
    rows = []
    for e, ce in batch:
        rows.append(_fact(ce, "accepted", e.accepted_at, e.order_id, units=e.accepted_units,
                          amount=e.amount, distributor_id=e.distributor_id))
        if e.rejected_units:  # a partial acceptance: the refused units are rejected
            rows.append(_fact(ce, "rejected", e.accepted_at, e.order_id,
                              units=e.rejected_units, distributor_id=e.distributor_id,
                              suffix=":rejected"))
    await insert_facts(conn, rows)


async def project_rejected(conn: AsyncConnection, batch: Batch) -> None:
    await insert_facts(conn, [
        _fact(ce, "rejected", e.rejected_at, e.order_id) for e, ce in batch])


# --- supply ------------------------------------------------------------------------------------


async def project_delivered(conn: AsyncConnection, batch: Batch) -> None:
    """R-SUP-3: an order counts as filled when fully delivered; its delivery time is placed →
    delivered."""
    await insert_facts(conn, [
        _fact(ce, "delivered", e.delivered_at, e.order_id, units=e.units,
              seconds=e.delivery_seconds, distributor_id=e.distributor_id)
        for e, ce in batch if e.complete])


async def project_risk_opened(conn: AsyncConnection, batch: Batch) -> None:
    await insert_new(conn, store.supply_risks, [{
        "event_id": ce.id, "order_id": e.order_id, "enterprise_id": e.enterprise_id,
        "institution_id": e.institution_id, "registration_no": e.registration_no,
        "opened_at": e.opened_at} for e, ce in batch])


async def project_routed(conn: AsyncConnection, batch: Batch) -> None:
    """A routed order closes its open supply risk (R-SUP-4)."""
    risks_table = store.supply_risks
    for e, _ in batch:
        await conn.execute(update(risks_table).where(and_(risks_table.c.order_id == e.order_id,
                                                risks_table.c.closed_at.is_(None),
                                                risks_table.c.opened_at <= e.routed_at))
                           .values(closed_at=e.routed_at))


# --- payments (R-PAY-1, R-PAY-7) ----------------------------------------------------------------


def _outcome(outcome: Outcome | None, program_id: str, institution_id: str,
             enterprise_id: str | None = None, payer: str | None = None
             ) -> list[dict[str, Any]]:
    """The outcome's row (none for a payment that completes nothing): the same whichever of
    an outcome's events writes it, so the table does not depend on their order."""
    if outcome is None:
        return []
    return [{"outcome_key": outcome.key, "kind": outcome.kind, "at": outcome.at,
             "program_id": program_id, "institution_id": institution_id,
             "enterprise_id": enterprise_id, "payer": payer}]


async def project_paid(conn: AsyncConnection, batch: Batch) -> None:
    await insert_new(conn, store.payment_facts, [row for e, _ in batch for row in _outcome(
        repayment.payable_paid(e.payable_id, outstanding=e.outstanding, on_time=e.on_time,
                               paid_at=e.paid_at, due_at=e.due_at),
        e.program_id, e.institution_id, e.enterprise_id, e.payer)])


async def project_payable_overdue(conn: AsyncConnection, batch: Batch) -> None:
    """R-PAY-1: each payable of a ``PayablesOverdue`` (or of a ``PayableOverdue``, the one
    payable of the events published before them) is overdue from its deadline."""
    await insert_new(conn, store.payment_facts, [
        row for e, _ in batch for p in (e.items if isinstance(e, PayablesOverdue) else (e,))
        for row in _outcome(repayment.payable_overdue(p.payable_id, due_at=p.due_at),
                            e.program_id, p.institution_id, p.enterprise_id, p.payer)])


async def project_disbursed(conn: AsyncConnection, batch: Batch) -> None:
    await insert_new(conn, store.payment_facts, [row for e, _ in batch for row in _outcome(
        repayment.installment_disbursed(
            e.schedule_id, e.seq, disbursed_total=e.disbursed_total,
            installment_amount=e.installment_amount, on_time=e.on_time,
            disbursed_at=e.disbursed_at, due_at=e.due_at),
        e.program_id, e.institution_id)])


async def project_installment_overdue(conn: AsyncConnection, batch: Batch) -> None:
    await insert_new(conn, store.payment_facts, [row for e, _ in batch for row in _outcome(
        repayment.installment_overdue(e.schedule_id, e.seq, due_at=e.due_at),
        e.program_id, e.institution_id)])


# --- month_activity: the counted facts summed per month (R-MON-1) -------------------------------

FIGURE_SUMS = {
    "orders_placed": "count(*) FILTER (WHERE kind = 'placed')",
    "ordered_units": "sum(units) FILTER (WHERE kind = 'placed')",
    "ordered_amount": "sum(amount) FILTER (WHERE kind = 'placed')",
    "cancelled_units": "sum(coalesce(units, order_units)) FILTER (WHERE kind = 'cancelled')",
    "accepted_units": "sum(units) FILTER (WHERE kind = 'accepted')",
    "accepted_amount": "sum(amount) FILTER (WHERE kind = 'accepted')",
    "rejected_units": "sum(coalesce(units, order_units)) FILTER (WHERE kind = 'rejected')",
    "orders_delivered": "count(*) FILTER (WHERE kind = 'delivered')",
    "delivery_seconds": "sum(seconds) FILTER (WHERE kind = 'delivered')",
    "late_deliveries": "count(*) FILTER (WHERE kind = 'delivered' AND seconds > late_seconds)",
}
"""``month_activity``'s figures as sums over facts joined to their orders: the same sums as
``reports``' figures over the facts (a whole cancellation or rejection counts the order's
units; a delivery is late beyond the profile's ``late_delivery_hours``)."""
KEY = ("program_id", "month", "agreement_year", "institution_id", "enterprise_id",
       "registration_no", "distributor_id")
FACT_COLUMNS = {"event_id": "text", "kind": "text", "at": "timestamptz", "order_id": "text",
                "units": "integer", "amount": "bigint", "seconds": "integer",
                "distributor_id": "text"}
FOLD_LOCK = "SELECT pg_advisory_xact_lock(hashtext('monitoring.month_activity'))"
"""Counting one transaction at a time (held to the commit): two consumers adding to the same
rows in different orders would deadlock; a recount (``recount``) waits for them."""
Source = Literal["insert", "uncounted", "whole"]


@lru_cache(maxsize=8)
def _count_statement(schema: str | None, source: Source) -> TextClause:
    """One statement (cached, so compiled once) adding facts, summed per ``month_activity``
    row, to the rows (Shanghai month of the event time, R-PRG-4; the program's agreement year
    from the bound years), the facts whose order and program are known:

    * ``insert``: the facts bound as arrays, inserted (a replayed one is not), those countable
      inserted counted and added, the others uncounted;
    * ``uncounted``: those not counted yet, marked counted (a fact seen before its order or
      its program);
    * ``whole``: every fact, marked or not (a rebuild's fresh tables, ``fold_all``)."""
    prefix = f"{schema}." if schema else ""
    columns = """f.kind, f.at, f.units, f.amount, f.seconds,
              coalesce(f.distributor_id, '') AS distributor_id, o.program_id,
              o.institution_id, o.enterprise_id, o.registration_no, o.units AS order_units,
              known.late_seconds"""
    arrays = ", ".join(f"CAST(:{name} AS {kind}[])" for name, kind in FACT_COLUMNS.items())
    names = ", ".join(FACT_COLUMNS)
    moved = {
        "whole": f"""SELECT {columns} FROM {prefix}facts AS f
    JOIN {prefix}orders AS o ON o.order_id = f.order_id
    JOIN known ON known.program_id = o.program_id""",
        "uncounted": f"""
    UPDATE {prefix}facts AS f SET counted = true
    FROM {prefix}orders AS o JOIN known ON known.program_id = o.program_id
    WHERE NOT f.counted AND o.order_id = f.order_id
    RETURNING {columns}""",
        "insert": f"""SELECT {columns} FROM inserted AS f
    JOIN {prefix}orders AS o ON o.order_id = f.order_id
    JOIN known ON known.program_id = o.program_id
    WHERE f.counted""",
    }[source]
    inserted = f"""
new AS (SELECT * FROM unnest({arrays}) AS n({names})),
inserted AS (
    INSERT INTO {prefix}facts ({names}, counted)
    SELECT n.*, known.program_id IS NOT NULL FROM new AS n
    LEFT JOIN {prefix}orders AS o ON o.order_id = n.order_id
    LEFT JOIN known ON known.program_id = o.program_id
    ON CONFLICT (event_id) DO NOTHING
    RETURNING *),""" if source == "insert" else ""
    figures = ", ".join(FIGURE_SUMS)
    sums = ", ".join(f"coalesce({expr}, 0)" for expr in FIGURE_SUMS.values())
    adds = ", ".join(f"{name} = m.{name} + excluded.{name}" for name in FIGURE_SUMS)
    return text(f"""
WITH known AS (
    SELECT * FROM unnest(CAST(:program_ids AS text[]), CAST(:late_seconds AS bigint[]))
        AS p(program_id, late_seconds)),
years AS (
    SELECT * FROM unnest(CAST(:year_programs AS text[]), CAST(:year_numbers AS integer[]),
                         CAST(:year_starts AS timestamptz[]), CAST(:year_ends AS timestamptz[]))
        AS y(program_id, agreement_year, year_start, year_end)),{inserted}
moved AS ({moved})
INSERT INTO {prefix}month_activity AS m ({", ".join(KEY)}, {figures})
SELECT moved.program_id,
       CAST(date_trunc('month', moved.at AT TIME ZONE 'Asia/Shanghai') AS date),
       coalesce(years.agreement_year, 0), institution_id, enterprise_id, registration_no,
       distributor_id, {sums}
FROM moved LEFT JOIN years ON years.program_id = moved.program_id
    AND moved.at >= years.year_start AND moved.at < years.year_end
GROUP BY 1, 2, 3, 4, 5, 6, 7
ON CONFLICT ({", ".join(KEY)}) DO UPDATE SET {adds}
""")


def _options(conn: AsyncConnection) -> Any:
    return conn.sync_connection.get_execution_options()  # type: ignore[union-attr]


def _schema(conn: AsyncConnection) -> str | None:
    """The schema the read models are written to: a rebuild's fresh one, or None (live)."""
    translate = _options(conn).get("schema_translate_map") or {}
    return translate.get(None)


async def _known(conn: AsyncConnection) -> dict[str, Any]:
    """The programs known (a fact of another waits uncounted), bound for ``_count_statement``:
    their late-delivery limits and agreement years (R-PRG-2). Read once per transaction, under
    ``FOLD_LOCK`` (so a limit a recount changed is the one counted with)."""
    transaction = conn.sync_connection.get_transaction()  # type: ignore[union-attr]
    cached = conn.info.get("monitoring.known")
    if transaction is not None and cached is not None and cached[0] is transaction:
        return dict(cached[1])
    await conn.execute(text(FOLD_LOCK))  # begins the transaction if none had begun
    transaction = conn.sync_connection.get_transaction()  # type: ignore[union-attr]
    bound = _bound(await programs.all_programs(conn))
    conn.info["monitoring.known"] = (transaction, bound)
    return dict(bound)


def _bound(known: list[programs.Program]) -> dict[str, Any]:
    years = [(p.program_id, n, start, end) for p in known for n, start, end in p.years()]
    return {
        "program_ids": [p.program_id for p in known],
        "late_seconds": [p.profile.monitoring.late_delivery_hours * 3600 for p in known],
        "year_programs": [y[0] for y in years], "year_numbers": [y[1] for y in years],
        "year_starts": [y[2] for y in years], "year_ends": [y[3] for y in years]}


def _forget_known(conn: AsyncConnection) -> None:
    conn.info.pop("monitoring.known", None)


async def insert_facts(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """Insert facts not there yet (a replayed event inserts nothing), counted into
    ``month_activity`` in the same statement when their order and program are known (R-MON-1);
    the others wait uncounted for ``fold``. On SQLite, and into a rebuild's fresh tables
    (summed once at the end, ``fold_all``), a plain insert."""
    if not rows:
        return
    schema = _schema(conn)
    if not is_postgres(conn) or schema is not None:
        await insert_new(conn, store.facts, rows)
        return
    params = await _known(conn)
    for name in FACT_COLUMNS:
        values = [row.get(name) for row in rows]
        kind = store.facts.c[name].type
        if isinstance(kind, TypeDecorator):  # Fen, UTCDateTime: converted as the column would
            values = [kind.process_bind_param(v, conn.dialect) for v in values]
        params[name] = values
    await conn.execute(_count_statement(None, "insert"), params)


async def fold(conn: AsyncConnection) -> None:
    """Count the facts left uncounted whose order and program are now known (a fact seen
    before its order's placement, or before its program): after orders or programs arrive.
    A report adds those still uncounted itself. Live tables on PostgreSQL only."""
    if is_postgres(conn) and _schema(conn) is None:
        await conn.execute(_count_statement(None, "uncounted"), await _known(conn))


async def fold_all(conn: AsyncConnection, schema: str) -> None:
    """A rebuild's fresh facts (all inserted as counted) summed into its empty
    ``month_activity`` in one pass, no fact updated; those whose order or program is not
    known are marked uncounted (for the folds after the swap). ``conn`` writes to
    ``schema``. Without the counting lock: the live consumers count into the live tables
    meanwhile."""
    params = _bound(await programs.all_programs(conn))
    await conn.execute(_count_statement(schema, "whole"), params)
    facts, orders = store.facts, store.orders
    await conn.execute(update(facts).where(~select(orders.c.order_id).where(
        orders.c.order_id == facts.c.order_id,
        orders.c.program_id.in_(params["program_ids"])).exists()).values(counted=False))


async def recount(conn: AsyncConnection, program_id: str) -> None:
    """The program's facts counted again (its ``month_activity`` rows dropped, its facts
    uncounted, then folded with the new limit): its late-delivery limit changed."""
    if not is_postgres(conn) or _schema(conn) is not None:
        return  # a rebuild's fresh tables are summed at the end, with the newest profiles
    facts, orders, rows = store.facts, store.orders, store.month_activity
    await conn.execute(text(FOLD_LOCK))
    _forget_known(conn)
    await conn.execute(update(facts).where(
        facts.c.counted, facts.c.order_id.in_(select(orders.c.order_id).where(
            orders.c.program_id == program_id))).values(counted=False))
    await conn.execute(rows.delete().where(rows.c.program_id == program_id))
    await fold(conn)


PROJECTORS: dict[type[Event], Projector] = {
    ProgramPublished: project_programs,
    ProgramProfileChanged: project_profiles,
    ProductListed: project_listed,
    ListingPriceChanged: project_price,
    WinningProductCorrected: project_corrected,
    ListingSuspended: project_suspended,
    ListingReinstated: project_reinstated,
    AgreementRecorded: project_agreements,
    PacingWarningRaised: project_pacing,
    OrderPlaced: project_placed,
    OrderCancelled: project_cancelled,
    OrderAccepted: project_accepted,
    OrderRejected: project_rejected,
    OrderDelivered: project_delivered,
    SupplyRiskOpened: project_risk_opened,
    OrderRouted: project_routed,
    PayablePaid: project_paid,
    PayablesOverdue: project_payable_overdue,
    PayableOverdue: project_payable_overdue,
    InstallmentDisbursed: project_disbursed,
    InstallmentOverdue: project_installment_overdue,
}
"""Every event the read models are built from, and its projector (also what a rebuild
replays)."""

RANK: dict[type[Event], int] = {cls: i for i, cls in enumerate(PROJECTORS)}
"""``PROJECTORS``' order: a supply risk opens before the routing that closes it."""
COMMUTING = frozenset({AGREEMENTS_TOPIC, ORDERS_TOPIC, DELIVERIES_TOPIC, SETTLEMENTS_TOPIC,
                       PREPAYMENTS_TOPIC})
"""Topics whose projectors give the same tables in any order of types (facts and orders are
inserts keyed by event or order; a routing closes only risks opened before it; a payable's or
an installment's outcome is one row written the same by each of its events — the one case of
two outcomes, an installment disbursed on time whose amount an adjustment raised before its
due date, keeps the earlier, as ``PROJECTORS``' order of types does). Catalog's listing
changes are version-guarded updates of one row: applied in their order."""


def groups(events: Sequence[tuple[Event, CloudEvent]]
           ) -> Iterator[tuple[type[Event], list[tuple[Event, CloudEvent]]]]:
    """The events (in their topics' order) cut into groups of one type, each for its projector
    in one call: events of ``COMMUTING`` topics grouped by type whatever their order (in
    ``PROJECTORS``' order of types; each type's events keep theirs), the others in runs of
    consecutive events of one type."""
    free = [item for item in events if item[0].TOPIC in COMMUTING]
    ordered = [item for item in events if item[0].TOPIC not in COMMUTING]
    run: list[tuple[Event, CloudEvent]] = []
    for item in ordered:
        if run and type(item[0]) is not type(run[0][0]):
            yield type(run[0][0]), run
            run = []
        run.append(item)
    if run:
        yield type(run[0][0]), run
    by_type: dict[type[Event], list[tuple[Event, CloudEvent]]] = {}
    for item in free:
        by_type.setdefault(type(item[0]), []).append(item)
    for cls in sorted(by_type, key=RANK.__getitem__):
        yield cls, by_type[cls]
