"""``vbp monitoring rebuild``: drop and rebuild the read models from the topics, while the old
ones keep serving.

1. Fresh copies of the read-model tables (``store.READ_MODELS``) are created in a schema of
   their own (``monitoring_rebuild``), the large ones without their secondary indexes
   (``DEFERRED``: built once after step 2).
2. Every topic the read models are built from is replayed from its start up to the end
   offsets seen when the rebuild began, through the same projectors as the live consumers
   (``readmodels.PROJECTORS``), into the fresh tables — with a progress line.
3. In one transaction the live tables are locked, moved aside and the fresh ones moved into
   their place; the old ones are dropped.
4. The tail (events that arrived after step 2's end offsets, which the live consumers may have
   applied to the old tables meanwhile) is replayed into the new tables; every projector
   write is idempotent, so what the live consumers applied again changes nothing.

Credit data (records, measures, ratings) is monitoring's own, not a read model: untouched.
PostgreSQL only (schemas); on SQLite drop the database file and let the consumers replay.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import Index, Table, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts.base import CloudEvent, Event
from services.monitoring import store
from services.monitoring.readmodels import PROJECTORS, groups
from services.runtime.db import is_postgres

FRESH = "monitoring_rebuild"
OLD = "monitoring_old"
CHUNK = 20_000
Progress = Callable[[int, int, float], None]
BY_TYPE: dict[str, type[Event]] = {cls.TYPE: cls for cls in PROJECTORS}
TOPICS: list[str] = sorted({cls.TOPIC for cls in PROJECTORS})


@dataclass(frozen=True)
class RebuildResult:
    events: int
    tail_events: int
    seconds: float


def bar(out: Any = sys.stderr) -> Progress:
    """A progress line on a terminal: events replayed of the total, and the rate."""
    def show(done: int, total: int, seconds: float) -> None:
        share = done / total if total else 1.0
        filled = int(30 * share)
        rate = done / seconds if seconds > 0 else 0.0
        out.write(f"\rrebuild [{'#' * filled}{'.' * (30 - filled)}] {done:,}/{total:,} "
                  f"events ({share:.0%}) {rate:,.0f}/s")
        if done >= total:
            out.write("\n")
        out.flush()
    return show


async def _replay(engine: AsyncEngine, bootstrap: str, start: dict[TopicPartition, int] | None,
                  end: dict[TopicPartition, int] | None, schema: str | None,
                  progress: Progress | None) -> tuple[int, dict[TopicPartition, int]]:
    """Apply every event of the topics from ``start`` (default: the beginning) to ``end``
    (default: the end offsets now) into the read models of ``schema`` (None: the live ones);
    returns how many events and the end offsets."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                enable_auto_commit=False, isolation_level="read_committed",
                                max_poll_records=CHUNK, fetch_max_bytes=64 * 1024 * 1024)
    await consumer.start()
    try:
        partitions = [TopicPartition(t, p) for t in TOPICS
                      for p in sorted(consumer.partitions_for_topic(t) or ())]
        consumer.assign(partitions)
        if end is None:
            end = dict(await consumer.end_offsets(partitions))
        begin = dict(await consumer.beginning_offsets(partitions))
        first = {tp: max(begin[tp], (start or {}).get(tp, 0)) for tp in partitions}
        for tp in partitions:
            consumer.seek(tp, first[tp])
        total = sum(max(end.get(tp, 0) - first[tp], 0) for tp in partitions)
        remaining = {tp for tp in partitions if first[tp] < end.get(tp, 0)}
        done, started = 0, time.monotonic()
        options: dict[str, Any] = {"schema_translate_map": {None: schema}} if schema else {}
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=500, max_records=CHUNK)
            async with engine.connect() as conn:
                conn = await conn.execution_options(**options)
                async with conn.begin():
                    fetched: list[Any] = []
                    for tp, records in batches.items():
                        wanted = [r for r in records if r.offset < end[tp]]
                        fetched.extend(wanted)
                        done += len(wanted)
                        if not wanted or wanted[-1].offset + 1 >= end[tp]:
                            remaining.discard(tp)
                    await _apply(conn, fetched)
            if progress is not None:
                progress(done, total, time.monotonic() - started)
        if progress is not None and total == 0:
            progress(0, 0, 0.0)
        return done, end
    finally:
        await consumer.stop()


async def _apply(conn: AsyncConnection, records: Sequence[Any]) -> None:
    """A fetch's events, through the projectors in groups of one type
    (``readmodels.groups``: on the topics whose projectors commute, each type's events of the
    whole fetch with a few statements; the others in their order)."""
    events = [event for event in map(_read, records) if event is not None]
    for event_type, group in groups(events):
        await PROJECTORS[event_type](conn, group)


def _read(record: Any) -> tuple[Event, CloudEvent] | None:
    """A record's event and envelope, or None for one the projectors do not take or the live
    consumer dead-lettered as unreadable. The data is validated straight from its JSON and the
    envelope holds the attributes alone (the projectors read its id; what ``decode`` checks of
    the headers is checked here too): a third of ``decode`` + ``model_validate``'s CPU."""
    try:
        headers = {name: bytes(value).decode() for name, value in record.headers}
        cls = BY_TYPE.get(headers.get("ce_type", ""))
        if (cls is None or headers.get("ce_specversion") != "1.0" or record.value is None
                or not all(headers.get(h) for h in ("ce_id", "ce_source", "ce_time"))):
            return None
        ce = CloudEvent.model_construct(
            id=headers["ce_id"], source=headers["ce_source"], type=headers["ce_type"],
            time=datetime.fromisoformat(headers["ce_time"]),
            subject=headers.get("ce_subject", ""), traceparent=headers.get("traceparent"),
            data={})
        return cls.model_validate_json(record.value), ce
    except (KeyError, ValueError):  # ValidationError and UnicodeDecodeError among them
        return None


DEFERRED: tuple[Table, ...] = (store.facts, store.orders, store.agreements,
                               store.payment_facts)
"""Tables only inserted into during the replay (keyed by their primary key): their other
indexes are built once after it, not kept up row by row (the live tables keep theirs)."""


def _deferred_indexes() -> list[Index]:
    return [index for table in DEFERRED for index in sorted(table.indexes,
                                                            key=lambda i: str(i.name))]


async def _fresh_tables(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text(f"DROP SCHEMA IF EXISTS {FRESH} CASCADE"))
        await conn.execute(text(f"CREATE SCHEMA {FRESH}"))
        fresh = await conn.execution_options(schema_translate_map={None: FRESH})
        await fresh.run_sync(lambda c: store.metadata.create_all(
            c, tables=list(store.READ_MODELS)))
        for index in _deferred_indexes():
            await conn.execute(text(f"DROP INDEX {FRESH}.{index.name}"))


async def _build_indexes(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        fresh = await conn.execution_options(schema_translate_map={None: FRESH})
        for index in _deferred_indexes():
            await fresh.run_sync(index.create)
        for table in store.READ_MODELS:
            await conn.execute(text(f"ANALYZE {FRESH}.{table.name}"))


async def _swap(engine: AsyncEngine) -> None:
    names = [t.name for t in store.READ_MODELS]
    async with engine.begin() as conn:
        await conn.execute(text("LOCK TABLE " + ", ".join(f"public.{n}" for n in names)
                                + " IN ACCESS EXCLUSIVE MODE"))
        await conn.execute(text(f"DROP SCHEMA IF EXISTS {OLD} CASCADE"))
        await conn.execute(text(f"CREATE SCHEMA {OLD}"))
        for name in names:
            await conn.execute(text(f"ALTER TABLE public.{name} SET SCHEMA {OLD}"))
            await conn.execute(text(f"ALTER TABLE {FRESH}.{name} SET SCHEMA public"))
        await conn.execute(text(f"DROP SCHEMA {OLD} CASCADE"))
        await conn.execute(text(f"DROP SCHEMA {FRESH} CASCADE"))


async def rebuild(engine: AsyncEngine, bootstrap: str, *,
                  progress: Progress | None = None) -> RebuildResult:
    """Replay the topics into fresh read models and swap them in (see the module's text)."""
    if not is_postgres(engine):
        raise RuntimeError("vbp monitoring rebuild needs PostgreSQL (VBP_MONITORING_"
                           "DATABASE_URL); on SQLite remove the database file instead")
    started = time.monotonic()
    await _fresh_tables(engine)
    events, end = await _replay(engine, bootstrap, None, None, FRESH, progress)
    await _build_indexes(engine)
    await _swap(engine)
    tail, _ = await _replay(engine, bootstrap, end, None, None, None)
    return RebuildResult(events=events, tail_events=tail, seconds=time.monotonic() - started)
