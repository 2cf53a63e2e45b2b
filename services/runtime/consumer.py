"""Idempotent event consumers (the inbox side of the outbox).

For every record: read the CloudEvent, look up its handler, and in the same database
transaction record ``(consumer, event id)`` in ``processed_events`` and apply the handler; a
duplicate is skipped. What one fetch brings, of all partitions, is applied in chunks (one
transaction per chunk of up to ``VBP_CONSUMER_BATCH_SIZE`` records, each partition's records
in their order); a chunk that fails is re-applied record by record, so one bad event cannot
hold the others back. An event type may have a *batch handler* instead
(``ConsumerSpec.batch_routes``): it gets each run of consecutive records of that type in the
chunk together, in partition order, and applies them with a few statements; a record of
another type ends the run, so every key keeps its order. A handler of several types
(``ConsumerSpec.chunk_routes``) gets each run of consecutive records whose types it handles,
whatever their mix (on a topic where types interleave, a whole chunk in one call). Offsets are
committed explicitly, after those transactions (once per fetch), and only for partitions still
assigned (aiokafka rebalances in the background).
A record that cannot be read goes to ``<topic>.dlt`` at once; one whose handler keeps failing
goes there after retries with backoff. Either way the partition moves on.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import asyncpg
from aiokafka import (
    AIOKafkaConsumer,
    AIOKafkaProducer,
    ConsumerRebalanceListener,
    ConsumerRecord,
    TopicPartition,
)
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from pydantic import ValidationError
from sqlalchemy import delete, insert, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.base import CloudEvent, Event
from contracts.registry import dead_letter_topic
from services.runtime import metrics
from services.runtime.clock import Clock
from services.runtime.db import UnitOfWork, held_events, held_keys, processed_events
from services.runtime.deadletters import REPLAY_FOR_HEADER
from services.runtime.envelope import EnvelopeError, decode_as
from services.runtime.tracing import child_of, traceparent_var

log = logging.getLogger("vbp.consumer")

Handler = Callable[[UnitOfWork, Any, CloudEvent], Awaitable[None]]
"""An event handler: applies one event inside the unit of work (it may record new events)."""
Routes = Mapping[type[Event], Handler]
BatchHandler = Callable[[UnitOfWork, Sequence[tuple[Any, CloudEvent]]], Awaitable[None]]
"""Applies several events of one type inside the unit of work, as if one after the other in the
order given (consecutive records of a chunk, each partition's in their order, duplicates left
out). On a failure it is called again with one event at a time. ``traced(ce)`` gives each
event's trace context to the events it records."""
BatchRoutes = Mapping[type[Event], BatchHandler]
ChunkRoutes = Mapping[type[Event], BatchHandler]
"""Event types to handlers that take events of several types in one call: consecutive records
whose types map to the same handler go to it together, in partition order (mixed types; the
handler dispatches each by its type). Failures and duplicates as for ``BatchRoutes``."""
Fault = Callable[[TopicPartition, int], Awaitable[None]]
_T = TypeVar("_T")

# Records (consumer, event id) unless it is there already, and says which it recorded: the
# events to apply. One index probe per event (whatever the table's statistics say), one round
# trip per chunk; an id a concurrent transaction is recording waits for its outcome.
_CLAIM = {
    name: dialect.insert(processed_events)
    .on_conflict_do_nothing(index_elements=["consumer", "event_id"])
    .returning(processed_events.c.event_id)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}
_CLAIM_PG = text("""
INSERT INTO processed_events (consumer, event_id, topic, processed_at)
SELECT CAST(:consumer AS text), event_id, topic, CAST(:now AS timestamptz)
FROM json_to_recordset(CAST(:events AS json)) AS e(event_id text, topic text)
ON CONFLICT (consumer, event_id) DO NOTHING
RETURNING event_id
""")
"""The same on PostgreSQL with the chunk's ids bound as one JSON text: no statement built and
no bind processing per event (issue #14), nor asyncpg's per-element type checks of arrays."""


@dataclass(frozen=True)
class _Item:
    record: ConsumerRecord[bytes, bytes]
    handler: Handler | None
    batch: BatchHandler | None
    event: Event
    ce: CloudEvent
    key: str | None = None
    replayed: bool = False
    """A dead letter replayed for this consumer's group."""
    mixed: bool = False
    """``batch`` takes events of several types together (a chunk route)."""


@dataclass(frozen=True)
class ConsumerSpec:
    """What a service consumes: a consumer group name, and the routing table: per event type
    one handler, in ``routes`` (one event at a time), ``batch_routes`` (runs of one type) or
    ``chunk_routes`` (runs of any of the types mapped to one handler)."""

    name: str
    routes: Routes
    batch_routes: BatchRoutes = field(default_factory=dict)
    chunk_routes: ChunkRoutes = field(default_factory=dict)

    def __post_init__(self) -> None:
        tables = (set(self.routes), set(self.batch_routes), set(self.chunk_routes))
        twice = {cls for i, a in enumerate(tables) for b in tables[i + 1:] for cls in a & b}
        if twice:
            names = ", ".join(sorted(cls.TYPE for cls in twice))
            raise ValueError(f"consumer {self.name}: two handlers for {names}")

    @property
    def topics(self) -> list[str]:
        return sorted({cls.TOPIC for cls in (*self.routes, *self.batch_routes,
                                             *self.chunk_routes)})


@contextmanager
def traced(ce: CloudEvent) -> Iterator[None]:
    """Within: events recorded are children of ``ce``'s trace (a batch handler wraps each
    event's recording in it; a single handler runs within it already)."""
    token = traceparent_var.set(child_of(ce.traceparent))
    try:
        yield
    finally:
        traceparent_var.reset(token)


class EventConsumer:
    def __init__(
        self,
        spec: ConsumerSpec,
        *,
        service: str,
        engine: AsyncEngine,
        clock: Clock,
        bootstrap_servers: str,
        dlt_producer: AIOKafkaProducer,
        on_commit: Callable[[], None] | None = None,
        max_retries: int = 4,
        backoff: float = 0.2,
        group_id: str | None = None,
        batch_size: int = 100,
        max_backoff: float = 5.0,
        instance_id: str | None = None,
    ) -> None:
        self.spec = spec
        self._service = service
        self._engine = engine
        self._clock = clock
        self._bootstrap = bootstrap_servers
        self._dlt = dlt_producer
        self._on_commit = on_commit
        self._max_retries = max_retries
        self._batch_size = max(1, batch_size)
        self._fetch_max = max(500, self._batch_size)
        """Records per fetch: at least a chunk's worth."""
        self._backoff = backoff
        self._max_backoff = max_backoff
        self.group_id = group_id or f"{service}.{spec.name}"
        self._instance_id = instance_id or None
        """Static membership (``Settings.consumer_instance_id``); None: dynamic."""
        self._routes: dict[str, tuple[type[Event], Handler | None, BatchHandler | None,
                                      bool]] = {
            cls.TYPE: (cls, handler, None, False) for cls, handler in spec.routes.items()}
        self._routes.update({cls.TYPE: (cls, None, handler, False)
                             for cls, handler in spec.batch_routes.items()})
        self._routes.update({cls.TYPE: (cls, None, handler, True)
                             for cls, handler in spec.chunk_routes.items()})
        self._types = {name: route[0] for name, route in self._routes.items()}
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._positions: dict[TopicPartition, int] = {}
        self._connected = False
        self._held: dict[tuple[str, str], str] = {}
        """(topic, key) -> the dead-lettered event id the key waits for."""
        self._reload_held = True
        self.before_offset_commit: Fault | None = None
        """Test hook: runs after the database commit, before the offset commit."""

    @property
    def crashed(self) -> BaseException | None:
        """The exception that ended the consume loop, if it ended by one."""
        if self._task is None or not self._task.done() or self._task.cancelled():
            return None
        return self._task.exception()

    async def start(self) -> None:
        """Returns at once: the consume task connects to the broker, retrying with capped
        backoff for as long as it takes (the broker may come up after the service), until
        ``stop()``."""
        self._stopping.clear()
        self._connected = False
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=self.group_id,
            group_instance_id=self._instance_id,
            client_id=f"{self.group_id}-consumer",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_poll_records=self._fetch_max,
            session_timeout_ms=10_000,
            heartbeat_interval_ms=1_000,
            retry_backoff_ms=500,  # metadata and coordinator retries while the broker is away
        )
        self._consumer.subscribe(self.spec.topics, listener=_Assignment(self))
        self._task = asyncio.create_task(self._run(), name=f"consumer-{self.group_id}")

    @property
    def connected(self) -> bool:
        """Joined the group (``start()`` does not wait for it)."""
        return self._connected

    async def stop(self) -> None:
        """Finish the record in hand, commit what was processed, leave the group. While still
        connecting, give up connecting."""
        self._stopping.set()
        task, self._task = self._task, None
        if task is not None:
            if not self._connected:
                task.cancel()
            done, _ = await asyncio.wait({task}, timeout=30)
            if not done:
                task.cancel()
                await asyncio.wait({task})
            if not task.cancelled() and task.exception() is not None:
                log.error("consumer %s had crashed", self.group_id, exc_info=task.exception())
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            try:  # with the broker away, leaving the group can fail or hang: shut down anyway
                await asyncio.wait_for(consumer.stop(), 15)
            except (TimeoutError, KafkaError, OSError) as exc:
                log.warning("consumer %s: stopped without leaving the group cleanly (%r)",
                            self.group_id, exc)

    async def _pause(self, seconds: float) -> None:
        """Sleep, waking early on ``stop()``."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _connect(self, consumer: AIOKafkaConsumer) -> None:
        """Start the client until it works or ``stop()`` (never gives up on its own)."""
        delay, attempt = 0.2, 0
        while not self._stopping.is_set():
            attempt += 1
            try:
                await consumer.start()
                self._connected = True
                if attempt > 1:
                    log.info("consumer %s: connected after %d attempts", self.group_id, attempt)
                return
            except (KafkaError, OSError) as exc:
                # the first few are start-up races (broker, topics or coordinator not ready)
                level = logging.INFO if attempt < 5 else logging.WARNING
                log.log(level, "consumer %s: broker not ready yet (%s), retrying in %.1fs",
                        self.group_id, exc, delay)
            await self._pause(delay)
            delay = min(delay * 2, self._max_backoff)

    async def _run(self) -> None:
        assert self._consumer is not None
        consumer = self._consumer
        await self._connect(consumer)
        fetch_delay = 0.5
        while not self._stopping.is_set():
            try:
                batches = await consumer.getmany(timeout_ms=300,
                                                 max_records=self._fetch_max)
            except KafkaError as exc:
                log.warning("consumer %s: fetch failed (%s), retrying in %.1fs", self.group_id,
                            exc, fetch_delay)
                await self._pause(fetch_delay)
                fetch_delay = min(fetch_delay * 2, self._max_backoff)
                continue
            fetch_delay = 0.5
            metrics.CONSUMER_LAST_POLL.labels(self._service, self.spec.name).set_to_current_time()
            applied = await self._handle_poll(batches)
            await self._commit(consumer, applied)
            self._observe_lag(consumer)

    async def _commit(self, consumer: AIOKafkaConsumer, applied: dict[TopicPartition, int]
                      ) -> None:
        """Commit the offsets of what the fetch brought and the database has committed, in one
        request for all partitions (a broker round trip per chunk cost a fifth of the time)."""
        for tp, offset in applied.items():
            if self.before_offset_commit is not None:
                await self.before_offset_commit(tp, offset)
        assigned = consumer.assignment()
        # a partition revoked meanwhile: its new owner re-reads it and skips what we applied
        offsets = {tp: offset for tp, offset in applied.items() if tp in assigned}
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError, KafkaError) as exc:
            log.warning("consumer %s: offset commit for %s failed (%s)", self.group_id,
                        sorted(offsets), exc)

    def _observe_lag(self, consumer: AIOKafkaConsumer) -> None:
        """Lag of every assigned partition: from the high watermark and the position, once the
        fetcher knows them (``_Assignment`` sets 0 at assignment until then)."""
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            position = self._positions.get(tp, _position(consumer, tp))
            if high is None or position is None:
                continue
            metrics.CONSUMER_LAG.labels(
                self._service, self.spec.name, tp.topic, str(tp.partition)
            ).set(max(high - position, 0))

    async def _handle_poll(self, batches: Mapping[TopicPartition,
                                                  list[ConsumerRecord[bytes, bytes]]]
                           ) -> dict[TopicPartition, int]:
        """Apply what one fetch brought, of every partition, set-wise: the plain records of
        all partitions (keys not held, no replayed dead letters) in transactions of up to
        ``batch_size`` records, each partition's records in their order (a key belongs to one
        partition, so every key keeps its order), then each partition's held keys and replays
        one at a time. A transaction that fails is applied record by record (retries, dead
        letters). Returns the offsets to commit: every partition fully applied (none when
        ``stop()`` or a revoked partition left the fetch unfinished; what was applied is
        skipped by event id when read again)."""
        try:
            read = {tp: await self._read(tp, records) for tp, records in batches.items()}
            plain = [item for items, _, _ in read.values() for item in items]
            tps = list(read)
            for start in range(0, len(plain), self._batch_size):
                if self._stopping.is_set():
                    return {}
                chunk = plain[start:start + self._batch_size]
                if len(chunk) == 1 or not await self._apply_chunk(chunk, tps):
                    for item in chunk:
                        await self._handle_item(item, _tp_of(item))
            for tp, (_, one_by_one, _) in read.items():
                for item in one_by_one:
                    await self._handle_item(item, tp)
        except _Abandoned:
            return {}
        return {tp: records[-1].offset + 1 for tp, records in batches.items() if records}

    async def _read(self, tp: TopicPartition, records: list[ConsumerRecord[bytes, bytes]]
                    ) -> tuple[list[_Item], list[_Item], int]:
        """A partition's records read into events: (plain ones, those of a held key or
        replayed for this consumer — applied one at a time, after —, how many records).
        Unreadable records are dead-lettered here."""
        if self._reload_held:
            await self._infra_retry(self._load_held, tp)
            self._reload_held = False
        readable: list[_Item] = []
        types, routes, ignored = self._types, self._routes, None
        for record in records:
            target = _header(record, REPLAY_FOR_HEADER)
            if target is not None and target != self.group_id:
                # a dead letter another group failed, replayed for it alone (issue #12.4)
                ignored = (ignored or 0) + 1
                continue
            try:
                got = decode_as(record.value, record.headers, types)
                if got is None:
                    ignored = (ignored or 0) + 1
                    continue
                event, ce = got
                _, handler, batch, mixed = routes[ce.type]
                readable.append(_Item(record, handler, batch, event, ce, _key(record),
                                      target is not None, mixed))
            except (EnvelopeError, ValidationError) as exc:
                await self._dead_letter(record, f"unreadable: {exc}", attempts=0)
        if records:
            self._positions[tp] = records[-1].offset + 1
        if ignored:
            metrics.CONSUMER_EVENTS.labels(
                self._service, self.spec.name, tp.topic, "ignored").inc(ignored)
        held = self._held
        special = {item.key for item in readable
                   if item.replayed or (held and (item.record.topic, item.key) in held)}
        if not special:
            return readable, [], len(records)
        return ([item for item in readable if item.key not in special],
                [item for item in readable if item.key in special], len(records))

    async def _apply_chunk(self, items: list[_Item], tps: Sequence[TopicPartition]) -> bool:
        """All of ``items`` (of the partitions ``tps``) in one transaction; False if a handler
        failed (rolled back)."""
        started = time.perf_counter()
        try:
            fresh = await self._infra_retry(lambda: self._apply_many(items), *tps)
        except (_Abandoned, asyncio.CancelledError):
            raise
        except Exception as exc:
            log.warning("consumer %s: chunk of %d failed (%s); applying one by one",
                        self.group_id, len(items), exc)
            return False
        per_event = (time.perf_counter() - started) / len(items)
        for topic, n in Counter(item.record.topic for item in items).items():
            labels = (self._service, self.spec.name, topic)
            processed = sum(1 for item in fresh if item.record.topic == topic)
            metrics.CONSUMER_EVENTS.labels(*labels, "processed").inc(processed)
            metrics.CONSUMER_EVENTS.labels(*labels, "duplicate").inc(n - processed)
            duration = metrics.CONSUMER_DURATION.labels(*labels)
            for _ in range(n):
                duration.observe(per_event)
        return True

    async def _handle_item(self, item: _Item, tp: TopicPartition) -> None:
        """One event, keeping its key's order through dead letters (issue #12.2): while a key
        is held (one of its events was dead-lettered), later events of the key are held too;
        the dead letter, replayed for this consumer, is applied and then the held events, in
        the order they came."""
        held_for = self._held.get((item.record.topic, item.key)) if item.key else None
        if held_for is None:
            await self._handle(item, tp)
        elif item.replayed and item.ce.id == held_for:
            assert item.key is not None
            if await self._handle(item, tp) != "dead_lettered":
                await self._release(item.record.topic, item.key, tp)
        else:
            await self._hold(item, tp)

    async def _handle(self, item: _Item, tp: TopicPartition) -> str:
        """Apply one event with retries; dead-letter it when its handler keeps failing.
        Infrastructure failures (database or broker away) are retried without limit and never
        count as attempts (issue #12.1). Returns the outcome."""
        record, ce = item.record, item.ce
        labels = (self._service, self.spec.name, record.topic)
        started = time.perf_counter()
        for attempt in range(1, self._max_retries + 2):
            try:
                fresh = await self._infra_retry(lambda: self._apply_many([item]), tp)
                outcome = "processed" if fresh else "duplicate"
                metrics.CONSUMER_EVENTS.labels(*labels, outcome).inc()
                metrics.CONSUMER_DURATION.labels(*labels).observe(time.perf_counter() - started)
                return outcome
            except (_Abandoned, asyncio.CancelledError):
                raise
            except Exception as exc:
                if attempt > self._max_retries:
                    log.exception("event %s failed %d times, dead-lettering", ce.id, attempt)
                    await self._dead_letter(record, repr(exc), attempts=attempt, item=item)
                    return "dead_lettered"
                metrics.CONSUMER_EVENTS.labels(*labels, "retried").inc()
                delay = min(self._backoff * 2 ** (attempt - 1), 10.0)
                log.warning("event %s failed (attempt %d): %s", ce.id, attempt, exc)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def _infra_retry(self, op: Callable[[], Awaitable[_T]], *tps: TopicPartition) -> _T:
        """``op()``, retried with capped backoff for as long as it fails for an infrastructure
        reason; raises ``_Abandoned`` on ``stop()`` or when one of ``tps`` is no longer
        assigned."""
        delay, failures = self._backoff, 0
        while True:
            try:
                result = await op()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not is_infrastructure_error(exc):
                    raise
                failures += 1
                metrics.CONSUMER_INFRA_FAILURES.labels(self._service, self.spec.name).inc()
                if failures == 1 or failures % 20 == 0:
                    log.warning("consumer %s: database or broker unavailable (%s: %s); %d "
                                "failures, retrying %s until it is back", self.group_id,
                                type(exc).__name__, exc, failures, list(tps))
                consumer = self._consumer
                if self._stopping.is_set() or (consumer is not None and not set(tps).issubset(
                        consumer.assignment())):
                    raise _Abandoned from exc
                await self._pause(delay)
                delay = min(delay * 2, self._max_backoff)
                continue
            if failures:
                log.info("consumer %s: back after %d failures", self.group_id, failures)
            return result

    # --- per-key order through dead letters ---------------------------------------------------

    async def _load_held(self) -> None:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(held_keys.c.topic, held_keys.c.key, held_keys.c.event_id)
                .where(held_keys.c.consumer == self.spec.name))
            self._held = {(topic, key): event_id for topic, key, event_id in rows.all()}

    async def _hold_key(self, topic: str, key: str, event_id: str) -> None:
        """Record that ``key`` waits for dead letter ``event_id`` (before the offset commit)."""
        async with self._engine.begin() as conn:
            await conn.execute(delete(held_keys).where(
                held_keys.c.consumer == self.spec.name, held_keys.c.topic == topic,
                held_keys.c.key == key))
            await conn.execute(insert(held_keys).values(
                consumer=self.spec.name, topic=topic, key=key, event_id=event_id,
                held_at=self._clock.now()))
        self._held[(topic, key)] = event_id

    async def _hold(self, item: _Item, tp: TopicPartition) -> None:
        record = item.record
        assert item.key is not None
        headers = json.dumps([[k, v.decode("latin-1")] for k, v in record.headers])

        async def store() -> None:
            async with self._engine.begin() as conn:
                await conn.execute(insert(held_events).values(
                    consumer=self.spec.name, topic=record.topic, key=item.key,
                    event_id=item.ce.id, value=record.value, headers=headers,
                    held_at=self._clock.now()))

        await self._infra_retry(store, tp)
        metrics.CONSUMER_EVENTS.labels(self._service, self.spec.name, record.topic, "held").inc()
        log.warning("consumer %s: held %s[%d]@%d (key %s waits for its dead letter %s)",
                    self.group_id, record.topic, record.partition, record.offset, item.key,
                    self._held.get((record.topic, item.key)))

    async def _release(self, topic: str, key: str, tp: TopicPartition) -> None:
        """The key's dead letter is applied: apply its held events in order. One that fails
        is dead-lettered in turn, and the key stays held behind it."""

        async def held() -> list[Any]:
            async with self._engine.connect() as conn:
                return list((await conn.execute(
                    select(held_events.c.seq, held_events.c.value, held_events.c.headers)
                    .where(held_events.c.consumer == self.spec.name,
                           held_events.c.topic == topic, held_events.c.key == key)
                    .order_by(held_events.c.seq))).all())

        async def forget(seq: int | None) -> None:
            async with self._engine.begin() as conn:
                if seq is not None:
                    await conn.execute(delete(held_events).where(held_events.c.seq == seq))
                    return
                await conn.execute(delete(held_keys).where(
                    held_keys.c.consumer == self.spec.name, held_keys.c.topic == topic,
                    held_keys.c.key == key))

        for seq, value, headers in await self._infra_retry(held, tp):
            record = ConsumerRecord(
                topic=tp.topic, partition=tp.partition, offset=-1, timestamp=0,
                timestamp_type=0, key=key.encode(), value=bytes(value), checksum=None,
                serialized_key_size=-1, serialized_value_size=-1,
                headers=tuple((k, v.encode("latin-1")) for k, v in json.loads(headers)))
            read = decode_as(record.value, record.headers, self._types)
            assert read is not None  # held: it was routed
            event, ce = read
            _, handler, batch, mixed = self._routes[ce.type]
            item = _Item(record, handler, batch, event, ce, key, False, mixed)
            outcome = await self._handle(item, tp)
            await self._infra_retry(functools.partial(forget, seq), tp)
            if outcome == "dead_lettered":
                return  # the key stays held, now behind this event
        await self._infra_retry(lambda: forget(None), tp)
        self._held.pop((topic, key), None)
        log.info("consumer %s: key %s released", self.group_id, key)

    async def _apply_many(self, items: list[_Item]) -> list[_Item]:
        """Apply events in one transaction, skipping those already processed; returns those
        applied."""
        async with UnitOfWork(
            self._engine, clock=self._clock, source=f"/vbp/{self._service}",
            on_commit=self._on_commit,
        ) as uow:
            unique: dict[str, _Item] = {}
            for item in items:
                unique.setdefault(item.ce.id, item)
            now = self._clock.now()
            if uow.conn.dialect.name == "postgresql":
                claimed = set((await uow.conn.execute(_CLAIM_PG, {
                    "consumer": self.spec.name, "now": now, "events": json.dumps([
                        {"event_id": event_id, "topic": item.record.topic}
                        for event_id, item in unique.items()])})).scalars())
            else:
                claimed = set((await uow.conn.execute(_CLAIM[uow.conn.dialect.name], [
                    {"consumer": self.spec.name, "event_id": event_id,
                     "topic": item.record.topic, "processed_at": now}
                    for event_id, item in unique.items()])).scalars())
            fresh = [item for event_id, item in unique.items() if event_id in claimed]
            for run in _runs(fresh):
                batch = run[0].batch
                if batch is not None:
                    await batch(uow, [(item.event, item.ce) for item in run])
                    continue
                for item in run:
                    assert item.handler is not None
                    with traced(item.ce):
                        await item.handler(uow, item.event, item.ce)
            await uow.commit()
            return fresh

    async def _dead_letter(
        self, record: ConsumerRecord[bytes, bytes], error: str, *, attempts: int,
        item: _Item | None = None,
    ) -> None:
        """Send the record to ``<topic>.dlt``; for a readable event with a key, hold the key
        (its later events wait for the dead letter's replay)."""
        headers = [(k, v) for k, v in record.headers if not k.startswith("dlt_")] + [
            ("dlt_error", error[:2000].encode()),
            ("dlt_original_topic", record.topic.encode()),
            ("dlt_original_partition", str(record.partition).encode()),
            ("dlt_original_offset", str(record.offset).encode()),
            ("dlt_consumer", self.group_id.encode()),
            ("dlt_attempts", str(attempts).encode()),
        ]
        delay = 0.5
        while True:
            try:
                await self._dlt.send_and_wait(
                    dead_letter_topic(record.topic), value=record.value, key=record.key,
                    headers=headers,
                )
                break
            except KafkaError as exc:  # keep the record rather than lose it
                log.warning("dead-lettering failed (%s), retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_backoff)
        if item is not None and item.key is not None:
            tp = TopicPartition(record.topic, record.partition)
            key, event_id = item.key, item.ce.id
            await self._infra_retry(lambda: self._hold_key(record.topic, key, event_id), tp)
        metrics.DEAD_LETTERS.labels(self._service, record.topic).inc()
        metrics.CONSUMER_EVENTS.labels(
            self._service, self.spec.name, record.topic, "dead_lettered"
        ).inc()
        log.error("dead-lettered %s[%d]@%d: %s", record.topic, record.partition, record.offset,
                  error)


class _Abandoned(Exception):
    """A chunk left unfinished: ``stop()`` or its partition revoked while infrastructure was
    away."""


class _Assignment(ConsumerRebalanceListener):  # type: ignore[misc]
    """On assignment: a lag of 0 for every new partition until the fetcher knows better, and
    the held keys read again (another instance may have held keys of these partitions)."""

    def __init__(self, owner: EventConsumer) -> None:
        self._owner = owner

    def on_partitions_revoked(self, revoked: Any) -> None:
        owner = self._owner
        for tp in revoked:
            owner._positions.pop(tp, None)
            with contextlib.suppress(KeyError):
                metrics.CONSUMER_LAG.remove(
                    owner._service, owner.spec.name, tp.topic, str(tp.partition))

    def on_partitions_assigned(self, assigned: Any) -> None:
        owner = self._owner
        owner._reload_held = True
        for tp in assigned:
            metrics.CONSUMER_LAG.labels(
                owner._service, owner.spec.name, tp.topic, str(tp.partition)).set(0)
        if owner._consumer is not None:
            owner._observe_lag(owner._consumer)


def _position(consumer: AIOKafkaConsumer, tp: TopicPartition) -> int | None:
    """The fetch position of ``tp`` if the client knows it already (without waiting)."""
    try:
        state = consumer._subscription.subscription.assignment.state_value(tp)
        return int(state.position) if state is not None and state.has_valid_position else None
    except AttributeError:
        return None


def _tp_of(item: _Item) -> TopicPartition:
    return TopicPartition(item.record.topic, item.record.partition)


def _header(record: ConsumerRecord[bytes, bytes], name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return bytes(value).decode()
    return None


def _key(record: ConsumerRecord[bytes, bytes]) -> str | None:
    return record.key.decode("utf-8", "replace") if record.key else None


_INFRA_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")
"""PostgreSQL: connection exceptions, admin/crash shutdown, cannot connect now, too many
connections."""


def is_infrastructure_error(exc: BaseException) -> bool:
    """Whether ``exc`` says the database or the broker is away (the event is not at fault):
    lost or refused connections, a server shutting down or starting, timeouts. Follows the
    chain of causes (SQLAlchemy wraps the driver's exception)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, (OperationalError, InterfaceError, OSError, TimeoutError,
                                KafkaError, asyncpg.PostgresConnectionError,
                                asyncpg.InterfaceError, asyncpg.CannotConnectNowError)):
            return True
        sqlstate = getattr(current, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate.startswith(_INFRA_SQLSTATES):
            return True
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) and id(orig) not in seen else (
            current.__cause__ or current.__context__)
    return False


def _runs(items: Sequence[_Item]) -> Iterator[list[_Item]]:
    """Consecutive items of one type with a batch handler go together, and consecutive items
    of one chunk handler whatever their types; any other item alone."""
    run: list[_Item] = []
    for item in items:
        if run and not _together(run[0], item):
            yield run
            run = []
        run.append(item)
    if run:
        yield run


def _together(first: _Item, item: _Item) -> bool:
    if item.batch is None or item.batch is not first.batch:
        return False
    return (item.mixed and first.mixed) or item.ce.type == first.ce.type
