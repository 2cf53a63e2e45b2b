"""Database: engines, column types (money as integer fen, aware UTC timestamps), the tables
every service has (outbox, processed events, idempotency keys), and the unit of work."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from types import TracebackType
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    event,
    insert,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from contracts.base import CloudEvent, Event
from contracts.money import from_fen, to_fen
from services.runtime.clock import Clock
from services.runtime.tracing import child_of, traceparent_var

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING)


class Fen(TypeDecorator[Decimal]):
    """Money: ``Decimal`` yuan in code, integer fen (BIGINT) in the database."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> int | None:
        return None if value is None else to_fen(value)

    def process_result_value(self, value: int | None, dialect: Dialect) -> Decimal | None:
        return None if value is None else from_fen(value)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware instants, stored in UTC; naive datetimes are refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: instants must be timezone-aware")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:  # SQLite keeps no offset: what we stored was UTC
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


BigId = BigInteger().with_variant(Integer, "sqlite")

# The tables every service database has (created by each service's first migration through
# services.runtime.migrations_v1).
runtime_metadata = new_metadata()

outbox = Table(
    "outbox",
    runtime_metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False, unique=True),
    Column("topic", String(200), nullable=False),
    Column("key", String(200), nullable=False),
    Column("ce_type", String(200), nullable=False),
    Column("ce_source", String(200), nullable=False),
    Column("ce_time", UTCDateTime(), nullable=False),
    Column("traceparent", String(64)),
    Column("payload", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("published_at", UTCDateTime()),
)
Index(
    "ix_outbox_unpublished",
    outbox.c.id,
    postgresql_where=outbox.c.published_at.is_(None),
    sqlite_where=outbox.c.published_at.is_(None),
)
Index(
    "ix_outbox_unpublished_topic",
    outbox.c.topic,
    outbox.c.id,
    postgresql_where=outbox.c.published_at.is_(None),
    sqlite_where=outbox.c.published_at.is_(None),
)
OUTBOX_CHANNEL = "vbp_outbox"
"""PostgreSQL notification channel: a commit with outbox rows, for a relay in another process
(``Settings.role``)."""
BOOKKEEPING = text(f"""
WITH events AS (
    INSERT INTO outbox (event_id, topic, key, ce_type, ce_source, ce_time, traceparent, payload,
                        created_at)
    SELECT * FROM json_to_recordset(CAST(:events AS json)) AS e(
        event_id text, topic text, key text, ce_type text, ce_source text,
        ce_time timestamptz, traceparent text, payload text, created_at timestamptz)
    RETURNING 1
), remembered AS (
    INSERT INTO idempotency_keys (principal, key, route, request_hash, status_code, response,
                                  created_at)
    SELECT * FROM json_to_recordset(CAST(:remembered AS json)) AS r(
        principal text, key text, route text, request_hash text, status_code integer,
        response text, created_at timestamptz)
    RETURNING 1
)
SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM remembered),
       CASE WHEN :notify THEN pg_notify('{OUTBOX_CHANNEL}', '') END
""")
"""A transaction's outbox rows and idempotency keys (JSON arrays), and optionally the
notification that wakes a relay listening in another process: one statement."""


COPY_OVER = 1_000
"""More outbox rows than this in one transaction (an import's events) go in with COPY."""


async def copy_rows(conn: AsyncConnection, table: Table, rows: Sequence[dict[str, Any]],
                    *, schema: str | None = None) -> None:
    """Insert many rows in the connection's transaction with PostgreSQL's COPY (an order of
    magnitude faster than INSERTs for hundreds of thousands of rows); money and instants are
    converted as their column types would. Into ``schema``'s table of that name if given."""
    if not rows:
        return
    names = [c.name for c in table.c if c.name in rows[0]]
    money = [i for i, n in enumerate(names) if isinstance(table.c[n].type, Fen)]
    records = []
    for row in rows:
        record = [row[n] for n in names]
        for i in money:
            if record[i] is not None:
                record[i] = to_fen(record[i])
        records.append(record)
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection  # asyncpg: aware datetimes go in as timestamptz
    await driver.copy_records_to_table(table.name, records=records, columns=names,
                                       schema_name=schema)


async def bulk_insert(conn: AsyncConnection, table: Table, rows: Sequence[dict[str, Any]],
                      *, chunk: int = 5_000) -> None:
    """Insert many rows in the connection's transaction: COPY on PostgreSQL, INSERTs of
    ``chunk`` rows elsewhere."""
    if conn.dialect.name == "postgresql":
        await copy_rows(conn, table, rows)
        return
    for i in range(0, len(rows), chunk):
        await conn.execute(insert(table), list(rows[i:i + chunk]))


def insert_for(conn: AsyncConnection, table: Table) -> Any:
    """The dialect's INSERT (PostgreSQL or SQLite), which has ``on_conflict_do_nothing``."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def insert_ignoring_duplicates(conn: AsyncConnection, table: Table) -> Any:
    """INSERT … ON CONFLICT DO NOTHING for PostgreSQL and SQLite."""
    return insert_for(conn, table).on_conflict_do_nothing()


def _isoformat(value: object) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")

processed_events = Table(
    "processed_events",
    runtime_metadata,
    Column("consumer", String(100), primary_key=True),
    Column("event_id", String(64), primary_key=True),
    Column("topic", String(200), nullable=False),
    Column("processed_at", UTCDateTime(), nullable=False),
)

# Per-key order through dead letters (runtime/consumer.py, migrations_v3): a key one of the
# consumer's events was dead-lettered for, and the later events of that key it holds until the
# dead letter is replayed and applied.
held_keys = Table(
    "held_keys",
    runtime_metadata,
    Column("consumer", String(100), primary_key=True),
    Column("topic", String(200), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("event_id", String(64), nullable=False),
    Column("held_at", UTCDateTime(), nullable=False),
)
held_events = Table(
    "held_events",
    runtime_metadata,
    Column("seq", BigId, primary_key=True, autoincrement=True),
    Column("consumer", String(100), nullable=False),
    Column("topic", String(200), nullable=False),
    Column("key", String(200), nullable=False),
    Column("event_id", String(64), nullable=False),
    Column("value", LargeBinary, nullable=False),
    Column("headers", Text, nullable=False),
    Column("held_at", UTCDateTime(), nullable=False),
    Index("ix_held_events_consumer_topic_key_seq", "consumer", "topic", "key", "seq"),
)

idempotency_keys = Table(
    "idempotency_keys",
    runtime_metadata,
    Column("principal", String(200), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("route", String(300), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine. SQLite gets WAL and a busy timeout so the relay and requests coexist."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    # enough kept-open connections for a busy process: an overflow connection is closed when
    # it is returned, and opening one costs PostgreSQL a fork
    kwargs.setdefault("pool_size", 20)
    kwargs.setdefault("max_overflow", 20)
    # the most recently returned connection first: a busy process keeps reusing a few, whose
    # prepared statements (asyncpg prepares each statement once per connection, with a type
    # introspection query for new array types) are already there
    kwargs.setdefault("pool_use_lifo", True)
    kwargs.setdefault("pool_recycle", 1800)
    return create_async_engine(url, **kwargs)


def is_postgres(conn_or_engine: AsyncConnection | AsyncEngine) -> bool:
    return conn_or_engine.dialect.name == "postgresql"


async def analyze(engine: AsyncEngine, *tables: Table) -> None:
    """Refresh PostgreSQL's planner statistics after a bulk load. Autovacuum gets there within
    a minute or so; until then queries are planned for the empty table (a sort of every row
    where an index scan would stop after a page)."""
    if not is_postgres(engine):
        return
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        for table in tables:
            await conn.execute(text(f'ANALYZE "{table.name}"'))


class UnitOfWork:
    """One database transaction, and the events it records, written to the outbox in it.

    ``record`` collects events; ``commit`` writes them to the outbox after the state changes
    (so they follow the row locks of the aggregates they touch, and ids of one aggregate's
    events are handed out in commit order), commits, and wakes the relay.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        clock: Clock,
        source: str,
        on_commit: Callable[[], None] | None = None,
        notify: bool = False,
    ) -> None:
        self._engine = engine
        self.clock = clock
        self.source = source
        self._on_commit = on_commit
        self._notify = notify
        self._events: list[tuple[str, CloudEvent]] = []
        self._remembered: list[dict[str, Any]] = []
        self._conn: AsyncConnection | None = None
        self.committed = False

    @property
    def conn(self) -> AsyncConnection:
        if self._conn is None:
            raise RuntimeError("unit of work not entered")
        return self._conn

    async def __aenter__(self) -> UnitOfWork:
        self._conn = await self._engine.connect()
        await self._conn.begin()
        self._events = []
        self._remembered = []
        self.committed = False
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            if not self.committed and conn.in_transaction():
                await conn.rollback()
        finally:
            await asyncio.shield(conn.close())

    def record(self, event: Event, *, time: datetime | None = None) -> CloudEvent:
        envelope = CloudEvent.of(
            event,
            source=self.source,
            time=time or self.clock.now(),
            traceparent=child_of(traceparent_var.get()),
        )
        self._events.append((event.TOPIC, envelope))
        return envelope

    @property
    def pending(self) -> list[CloudEvent]:
        return [ce for _, ce in self._events]

    def remember(self, rows: list[dict[str, Any]]) -> None:
        """``idempotency_keys`` rows to insert at commit, with the outbox rows."""
        self._remembered.extend(rows)

    def _outbox_rows(self) -> list[dict[str, Any]]:
        now = self.clock.now()
        return [
            {
                "event_id": ce.id,
                "topic": topic,
                "key": ce.subject,
                "ce_type": ce.type,
                "ce_source": ce.source,
                "ce_time": ce.time,
                "traceparent": ce.traceparent,
                "payload": json.dumps(ce.data, ensure_ascii=False, separators=(",", ":")),
                "created_at": now,
            }
            for topic, ce in self._events
        ]

    async def flush_events(self) -> None:
        if not self._events:
            return
        await self.conn.execute(insert(outbox), self._outbox_rows())
        self._events = []

    async def commit(self) -> None:
        """Write the recorded events and the remembered responses, then commit. On PostgreSQL
        that is one statement (with the wake-up of another process's relay when ``notify``),
        however many there are: the bookkeeping of a transaction costs one round trip."""
        had_events = bool(self._events)
        if is_postgres(self.conn) and (self._events or self._remembered):
            events = self._outbox_rows()
            if len(events) > COPY_OVER:
                await copy_rows(self.conn, outbox, events)
                events = []
            await self.conn.execute(BOOKKEEPING, {
                "events": json.dumps(events, default=_isoformat),
                "remembered": json.dumps(self._remembered, default=_isoformat),
                "notify": had_events and self._notify})
            self._events = []
        else:
            await self.flush_events()
            if self._remembered:
                await self.conn.execute(insert(idempotency_keys), self._remembered)
        self._remembered = []
        await self.conn.commit()
        self.committed = True
        if had_events and self._on_commit is not None:
            self._on_commit()

    async def rollback(self) -> None:
        self._events = []
        self._remembered = []
        await self.conn.rollback()

