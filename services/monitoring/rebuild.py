"""``vbp monitoring rebuild``: drop and rebuild the read models from the topics, while the old
ones keep serving.

1. Fresh copies of the read-model tables (``store.READ_MODELS``) are created in a schema of
   their own (``monitoring_rebuild``), the large ones without their secondary indexes
   (``DEFERRED``: built once after step 2), and the largest also without their primary keys
   (``KEYED_AFTER``: filled by COPY, keyed after step 2, an event's rows kept once).
2. Every topic the read models are built from is replayed from its start up to the end
   offsets seen when the rebuild began, through the same projectors as the live consumers
   (``readmodels.PROJECTORS``), into the fresh tables — with a progress line; the partitions
   are shared among ``PARALLEL`` readers (``runtime.replay``: librdkafka) replaying at once,
   in ``WORKERS`` processes.
3. In one transaction the live tables are locked, moved aside and the fresh ones moved into
   their place; the old ones are dropped.
4. The tail (events that arrived after step 2's end offsets, which the live consumers may have
   applied to the old tables meanwhile) is replayed into the new tables; every projector
   write is idempotent, so what the live consumers applied again changes nothing.

Credit data (records, measures, ratings) is monitoring's own, not a read model: untouched.
PostgreSQL only (schemas); on SQLite drop the database file and let the consumers replay.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from queue import Empty
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import Index, Table, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts.base import CloudEvent, Event
from services.monitoring import store
from services.monitoring.readmodels import COPIED, PROJECTORS, fold_all, groups
from services.runtime import replay
from services.runtime.db import is_postgres, make_engine
from services.runtime.envelope import CONTENT_TYPE, _attributes

FRESH = "monitoring_rebuild"
OLD = "monitoring_old"
CHUNK = 20_000
GC_THRESHOLD = 50_000
"""Allocations between the worker processes' youngest-generation collections (700 by
default)."""
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


PARALLEL = 4
"""Consumers replaying at once, each with a share of the partitions and its own connection
(one's database round trips overlap another's decoding). Safe because a partition is replayed
by one of them, in order, and every event of an aggregate is on one partition (keyed by it):
the projectors read nothing of another aggregate."""
WORKERS = max(1, min(PARALLEL, os.cpu_count() or 1))
"""Processes the consumers are spread over (each its own interpreter, so decoding runs on
every core): the fresh tables' replay; the tail, after the swap, is replayed in this one."""


async def _replay(engine: AsyncEngine, bootstrap: str, start: dict[TopicPartition, int] | None,
                  end: dict[TopicPartition, int] | None, schema: str | None,
                  progress: Progress | None, parallel: int = PARALLEL, workers: int = 1
                  ) -> tuple[int, dict[TopicPartition, int]]:
    """Apply every event of the topics from ``start`` (default: the beginning) to ``end``
    (default: the end offsets now) into the read models of ``schema`` (None: the live ones),
    the partitions shared among ``parallel`` consumers (``PARALLEL``) spread over ``workers``
    processes; returns how many events and the end offsets."""
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                             enable_auto_commit=False)
    await probe.start()
    try:
        partitions = [TopicPartition(t, p) for t in TOPICS
                      for p in sorted(probe.partitions_for_topic(t) or ())]
        if end is None:
            end = dict(await probe.end_offsets(partitions))
        begin = dict(await probe.beginning_offsets(partitions)) if partitions else {}
    finally:
        await probe.stop()
    first = {tp: max(begin[tp], (start or {}).get(tp, 0)) for tp in partitions}
    size = {tp: end.get(tp, 0) - first[tp] for tp in partitions if first[tp] < end.get(tp, 0)}
    total = sum(size.values())
    shares: list[list[TopicPartition]] = [[] for _ in range(max(1, parallel))]
    loads = [0] * len(shares)
    for tp in sorted(size, key=lambda tp: -size[tp]):  # the largest to the least loaded
        least = loads.index(min(loads))
        shares[least].append(tp)
        loads[least] += size[tp]
    shares = [share for share in shares if share]
    done, started = 0, time.monotonic()

    def advance(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress(done, total, time.monotonic() - started)

    if workers > 1 and len(shares) > 1:
        await _in_processes(engine, bootstrap, shares, first, end, schema, advance, workers)
    else:
        await asyncio.gather(*(_replay_share(engine, bootstrap, share, first, end, schema,
                                             advance) for share in shares))
    if progress is not None and total == 0:
        progress(0, 0, 0.0)
    return done, end


async def _in_processes(engine: AsyncEngine, bootstrap: str,
                        shares: list[list[TopicPartition]], first: dict[TopicPartition, int],
                        end: dict[TopicPartition, int], schema: str | None,
                        advance: Callable[[int], None], workers: int) -> None:
    """The shares replayed by ``workers`` processes (each its own engine, its shares'
    consumers at once), reporting every fetch applied on a queue (the progress line is this
    process's); a process that fails fails the rebuild."""
    context = multiprocessing.get_context("spawn")
    queue: Any = context.Queue()
    url = engine.url.render_as_string(hide_password=False)
    groups = [shares[i::workers] for i in range(min(workers, len(shares)))]
    processes = [context.Process(target=_worker, name=f"rebuild-{i}", daemon=True,
                                 args=(url, bootstrap, group, first, end, schema, queue))
                 for i, group in enumerate(groups)]
    for process in processes:
        process.start()
    try:
        running = len(processes)
        while running:
            try:
                message = await asyncio.to_thread(queue.get, True, 1.0)
            except Empty:
                dead = [p.name for p in processes if p.exitcode not in (None, 0)]
                if dead:
                    raise RuntimeError(f"rebuild workers {dead} died") from None
                continue
            if isinstance(message, int):
                advance(message)
            elif message is None:
                running -= 1
            else:
                raise RuntimeError(f"rebuild worker failed: {message}")
    finally:
        for process in processes:
            await asyncio.to_thread(process.join, 30)
            if process.is_alive():
                process.terminate()


def _worker(url: str, bootstrap: str, shares: list[list[TopicPartition]],
            first: dict[TopicPartition, int], end: dict[TopicPartition, int],
            schema: str | None, queue: Any) -> None:
    """One process's shares (``_in_processes``): None on the queue when done, else the
    failure's text."""
    async def run() -> None:
        engine = make_engine(url)
        try:
            await asyncio.gather(*(_replay_share(engine, bootstrap, share, first, end, schema,
                                                 queue.put) for share in shares))
        finally:
            await engine.dispose()

    # A fetch's tens of thousands of events are alive at once: with the default thresholds
    # the collector scans them again and again (half of decoding's CPU); the replay makes no
    # reference cycles worth collecting sooner.
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, 20, 100)
    try:
        asyncio.run(run())
    except BaseException as exc:  # reported to the parent, which fails the rebuild
        queue.put(f"{type(exc).__name__}: {exc}")
        raise
    queue.put(None)


async def _replay_share(engine: AsyncEngine, bootstrap: str, share: list[TopicPartition],
                        first: dict[TopicPartition, int], end: dict[TopicPartition, int],
                        schema: str | None, advance: Callable[[int], None]) -> None:
    """One reader's partitions, from ``first`` to ``end`` (``runtime.replay``: librdkafka,
    batches of ``CHUNK``), a batch per transaction."""
    options: dict[str, Any] = {"schema_translate_map": {None: schema},
                               COPIED: frozenset(t.name for t in KEYED_AFTER)} if schema else {}
    async for records in replay.read(bootstrap, {(tp.topic, tp.partition): first[tp]
                                                 for tp in share},
                                     {(tp.topic, tp.partition): end.get(tp, 0)
                                      for tp in share}, CHUNK):
        async with engine.connect() as conn:
            conn = await conn.execution_options(**options)
            async with conn.begin():
                await _apply(conn, records)
        advance(len(records))


async def _apply(conn: AsyncConnection, records: Sequence[Any]) -> None:
    """A fetch's events, through the projectors in groups of one type
    (``readmodels.groups``: on the topics whose projectors commute, each type's events of the
    whole fetch with a few statements; the others in their order)."""
    events = [event for event in map(_read, records) if event is not None]
    for event_type, group in groups(events):
        await PROJECTORS[event_type](conn, group)


def _read(record: Any) -> tuple[Event, CloudEvent] | None:
    """A record's event and envelope, or None for one the projectors do not take or the live
    consumer dead-letters as unreadable. The same checks as the live consumers'
    (``envelope.decode_as``: the attributes, the event validated from the JSON value in one
    step), but the envelope, whose attributes are then known to be strings and an aware time,
    is built without validating it again (``model_construct``: a third of the decoding's CPU
    otherwise)."""
    try:
        attrs = _attributes(record.headers)
        cls = BY_TYPE.get(attrs["ce_type"])
        if cls is None or record.value is None:
            return None
        event = cls.model_validate_json(record.value)
        at = datetime.fromisoformat(attrs["ce_time"])
    except ValueError:  # EnvelopeError and ValidationError
        return None
    if at.utcoffset() is None:  # not an AwareDatetime: the envelope's validation refuses it
        return None
    return event, CloudEvent.model_construct(
        id=attrs["ce_id"], source=attrs["ce_source"], type=attrs["ce_type"], time=at,
        subject=attrs.get("ce_subject", ""), specversion=attrs["ce_specversion"],
        datacontenttype=CONTENT_TYPE, traceparent=attrs.get("traceparent"), data={})


DEFERRED: tuple[Table, ...] = (store.facts, store.orders, store.agreements,
                               store.payment_facts)
"""Tables only inserted into during the replay (keyed by their primary key): their other
indexes are built once after it, not kept up row by row (the live tables keep theirs)."""


KEYED_AFTER: tuple[Table, ...] = (store.facts, store.orders, store.agreements)
"""Of ``DEFERRED``, those filled by COPY (``readmodels.COPIED``) without their primary key,
which is added after the replay, once the rows of an event seen twice (an at-least-once
redelivery: the same row) are kept once (``_keys``). Not ``payment_facts``: of an outcome's
two events the earlier type is kept (``readmodels.COMMUTING``), which its insert decides."""


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
        for table in KEYED_AFTER:
            await conn.execute(text(f"ALTER TABLE {FRESH}.{table.name} DROP CONSTRAINT "
                                    f"{table.primary_key.name}"))
        # facts replayed count as summed: ``fold_all`` sums them once, with no update of each
        await conn.execute(text(f"ALTER TABLE {FRESH}.facts ALTER COLUMN counted "
                                "SET DEFAULT true"))


async def _keys(engine: AsyncEngine) -> None:
    """The primary keys of the tables filled by COPY (``KEYED_AFTER``), each row of an event
    replayed twice kept once first."""
    for table in KEYED_AFTER:
        key = ", ".join(c.name for c in table.primary_key.columns)
        add = (f"ALTER TABLE {FRESH}.{table.name} ADD CONSTRAINT {table.primary_key.name} "
               f"PRIMARY KEY ({key})")
        async with engine.begin() as conn:
            try:
                async with conn.begin_nested():
                    await conn.execute(text(add))
                continue
            except IntegrityError:  # duplicates: an event delivered twice
                pass
            await conn.execute(text(f"""
                DELETE FROM {FRESH}.{table.name} WHERE ctid IN (
                    SELECT ctid FROM (SELECT ctid, row_number() OVER (PARTITION BY {key})
                                      FROM {FRESH}.{table.name}) AS d
                    WHERE row_number > 1)"""))
            await conn.execute(text(add))


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


async def rebuild(engine: AsyncEngine, bootstrap: str, *, progress: Progress | None = None,
                  workers: int = WORKERS) -> RebuildResult:
    """Replay the topics into fresh read models and swap them in (see the module's text)."""
    if not is_postgres(engine):
        raise RuntimeError("vbp monitoring rebuild needs PostgreSQL (VBP_MONITORING_"
                           "DATABASE_URL); on SQLite remove the database file instead")
    started = time.monotonic()
    await _fresh_tables(engine)
    events, end = await _replay(engine, bootstrap, None, None, FRESH, progress,
                                workers=workers)
    await _keys(engine)
    async with engine.begin() as conn:  # the fresh facts summed into month_activity at once
        await fold_all(await conn.execution_options(schema_translate_map={None: FRESH}), FRESH)
        await conn.execute(text(f"ALTER TABLE {FRESH}.facts ALTER COLUMN counted "
                                "SET DEFAULT false"))
    await _build_indexes(engine)
    await _swap(engine)
    tail, _ = await _replay(engine, bootstrap, end, None, None, None)
    return RebuildResult(events=events, tail_events=tail, seconds=time.monotonic() - started)
