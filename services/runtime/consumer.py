"""Idempotent event consumers (the inbox side of the outbox).

For every record: read the CloudEvent, look up its handler, and in the same database
transaction record ``(consumer, event id)`` in ``processed_events`` and apply the handler; a
duplicate is skipped. Records of one partition are applied in chunks (one transaction per
chunk, ``VBP_CONSUMER_BATCH_SIZE``); a chunk that fails is re-applied record by record, so one
bad event cannot hold the others back. An event type may have a *batch handler* instead
(``ConsumerSpec.batch_routes``): it gets each run of consecutive records of that type in the
chunk together, in partition order, and applies them with a few statements; a record of
another type ends the run, so every key keeps its order. Offsets are committed explicitly,
after those transactions (once per fetch), and only for partitions still assigned (aiokafka
rebalances in the background).
A record that cannot be read goes to ``<topic>.dlt`` at once; one whose handler keeps failing
goes there after retries with backoff. Either way the partition moves on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from pydantic import ValidationError
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.base import CloudEvent, Event
from contracts.registry import dead_letter_topic
from services.runtime import metrics
from services.runtime.clock import Clock
from services.runtime.db import UnitOfWork, processed_events
from services.runtime.envelope import EnvelopeError, decode
from services.runtime.tracing import child_of, traceparent_var

log = logging.getLogger("vbp.consumer")

Handler = Callable[[UnitOfWork, Any, CloudEvent], Awaitable[None]]
"""An event handler: applies one event inside the unit of work (it may record new events)."""
Routes = Mapping[type[Event], Handler]
BatchHandler = Callable[[UnitOfWork, Sequence[tuple[Any, CloudEvent]]], Awaitable[None]]
"""Applies several events of one type inside the unit of work, as if one after the other in the
order given (consecutive records of one partition, duplicates already left out). On a failure
it is called again with one event at a time. ``traced(ce)`` gives each event's trace context
to the events it records."""
BatchRoutes = Mapping[type[Event], BatchHandler]
Fault = Callable[[TopicPartition, int], Awaitable[None]]

# Records (consumer, event id) unless it is there already, and says which it recorded: the
# events to apply. One index probe per event (whatever the table's statistics say), one round
# trip per chunk; an id a concurrent transaction is recording waits for its outcome.
_CLAIM = {
    name: dialect.insert(processed_events)
    .on_conflict_do_nothing(index_elements=["consumer", "event_id"])
    .returning(processed_events.c.event_id)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


@dataclass(frozen=True)
class _Item:
    record: ConsumerRecord[bytes, bytes]
    handler: Handler | None
    batch: BatchHandler | None
    event: Event
    ce: CloudEvent


@dataclass(frozen=True)
class ConsumerSpec:
    """What a service consumes: a consumer group name, and the routing table: per event type
    one handler, either in ``routes`` (one event at a time) or in ``batch_routes``."""

    name: str
    routes: Routes
    batch_routes: BatchRoutes = field(default_factory=dict)

    def __post_init__(self) -> None:
        both = set(self.routes) & set(self.batch_routes)
        if both:
            names = ", ".join(sorted(cls.TYPE for cls in both))
            raise ValueError(f"consumer {self.name}: two handlers for {names}")

    @property
    def topics(self) -> list[str]:
        return sorted({cls.TOPIC for cls in (*self.routes, *self.batch_routes)})


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
        self._backoff = backoff
        self.group_id = group_id or f"{service}.{spec.name}"
        self._routes: dict[str, tuple[type[Event], Handler | None, BatchHandler | None]] = {
            cls.TYPE: (cls, handler, None) for cls, handler in spec.routes.items()}
        self._routes.update({cls.TYPE: (cls, None, handler)
                             for cls, handler in spec.batch_routes.items()})
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._positions: dict[TopicPartition, int] = {}
        self.before_offset_commit: Fault | None = None
        """Test hook: runs after the database commit, before the offset commit."""

    @property
    def crashed(self) -> BaseException | None:
        """The exception that ended the consume loop, if it ended by one."""
        if self._task is None or not self._task.done() or self._task.cancelled():
            return None
        return self._task.exception()

    async def start(self) -> None:
        self._stopping.clear()
        self._consumer = AIOKafkaConsumer(
            *self.spec.topics,
            bootstrap_servers=self._bootstrap,
            group_id=self.group_id,
            client_id=f"{self.group_id}-consumer",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_poll_records=500,
            session_timeout_ms=10_000,
            heartbeat_interval_ms=1_000,
        )
        delay = 0.2
        for _attempt in range(60):
            try:
                await self._consumer.start()
                break
            except KafkaError as exc:
                log.warning("consumer %s: broker not reachable yet (%s)", self.group_id, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 3.0)
        else:
            raise RuntimeError(f"consumer {self.group_id} could not reach Kafka")
        self._task = asyncio.create_task(self._run(), name=f"consumer-{self.group_id}")

    async def stop(self) -> None:
        """Finish the record in hand, commit what was processed, leave the group."""
        self._stopping.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, 30)
            except TimeoutError:
                self._task.cancel()
            except Exception:
                log.exception("consumer %s had crashed", self.group_id)
            self._task = None
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    async def _run(self) -> None:
        assert self._consumer is not None
        consumer = self._consumer
        while not self._stopping.is_set():
            try:
                batches = await consumer.getmany(timeout_ms=300, max_records=500)
            except KafkaError as exc:
                log.warning("consumer %s: fetch failed (%s), retrying", self.group_id, exc)
                await asyncio.sleep(0.5)
                continue
            applied: dict[TopicPartition, int] = {}
            for tp, records in batches.items():
                for start in range(0, len(records), self._batch_size):
                    if self._stopping.is_set():
                        break
                    chunk = records[start:start + self._batch_size]
                    await self._handle_chunk(chunk)
                    applied[tp] = chunk[-1].offset + 1
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
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            if high is None or tp not in self._positions:
                continue
            metrics.CONSUMER_LAG.labels(
                self._service, self.spec.name, tp.topic, str(tp.partition)
            ).set(max(high - self._positions[tp], 0))

    async def _handle_chunk(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        """Apply a chunk of one partition's records in one transaction (each still recorded in
        processed_events, so each takes effect once); if that fails, record by record, with
        retries and dead letters."""
        readable: list[_Item] = []
        for record in records:
            self._positions[TopicPartition(record.topic, record.partition)] = record.offset + 1
            try:
                ce = decode(record.value, record.headers)
                route = self._routes.get(ce.type)
                if route is None:
                    metrics.CONSUMER_EVENTS.labels(
                        self._service, self.spec.name, record.topic, "ignored").inc()
                    continue
                cls, handler, batch = route
                readable.append(_Item(record, handler, batch, cls.model_validate(ce.data), ce))
            except (EnvelopeError, ValidationError) as exc:
                await self._dead_letter(record, f"unreadable: {exc}", attempts=0)
        if len(readable) > 1:
            started = time.perf_counter()
            try:
                applied = await self._apply_many(readable)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("consumer %s: chunk of %d failed (%s); applying one by one",
                            self.group_id, len(readable), exc)
            else:
                topic = readable[0].record.topic
                labels = (self._service, self.spec.name, topic)
                metrics.CONSUMER_EVENTS.labels(*labels, "processed").inc(applied)
                metrics.CONSUMER_EVENTS.labels(*labels, "duplicate").inc(len(readable) - applied)
                per_event = (time.perf_counter() - started) / len(readable)
                for _ in readable:
                    metrics.CONSUMER_DURATION.labels(*labels).observe(per_event)
                return
        for item in readable:
            await self._handle(item)

    async def _handle(self, item: _Item) -> None:
        record, ce = item.record, item.ce
        labels = (self._service, self.spec.name, record.topic)
        started = time.perf_counter()
        for attempt in range(1, self._max_retries + 2):
            try:
                applied = await self._apply_many([item])
                outcome = "processed" if applied else "duplicate"
                metrics.CONSUMER_EVENTS.labels(*labels, outcome).inc()
                metrics.CONSUMER_DURATION.labels(*labels).observe(time.perf_counter() - started)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if attempt > self._max_retries:
                    log.exception("event %s failed %d times, dead-lettering", ce.id, attempt)
                    await self._dead_letter(record, repr(exc), attempts=attempt)
                    return
                metrics.CONSUMER_EVENTS.labels(*labels, "retried").inc()
                delay = min(self._backoff * 2 ** (attempt - 1), 10.0)
                log.warning("event %s failed (attempt %d): %s", ce.id, attempt, exc)
                await asyncio.sleep(delay)

    async def _apply_many(self, items: list[_Item]) -> int:
        """Apply events in one transaction, skipping those already processed; returns how
        many were applied."""
        async with UnitOfWork(
            self._engine, clock=self._clock, source=f"/vbp/{self._service}",
            on_commit=self._on_commit,
        ) as uow:
            unique: dict[str, _Item] = {}
            for item in items:
                unique.setdefault(item.ce.id, item)
            now = self._clock.now()
            claimed = set((await uow.conn.execute(_CLAIM[uow.conn.dialect.name], [
                {"consumer": self.spec.name, "event_id": event_id, "topic": item.record.topic,
                 "processed_at": now} for event_id, item in unique.items()])).scalars())
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
            applied = len(fresh)
            await uow.commit()
            return applied

    async def _dead_letter(
        self, record: ConsumerRecord[bytes, bytes], error: str, *, attempts: int
    ) -> None:
        headers = list(record.headers) + [
            ("dlt_error", error[:2000].encode()),
            ("dlt_original_topic", record.topic.encode()),
            ("dlt_original_partition", str(record.partition).encode()),
            ("dlt_original_offset", str(record.offset).encode()),
            ("dlt_consumer", self.group_id.encode()),
            ("dlt_attempts", str(attempts).encode()),
        ]
        while True:
            try:
                await self._dlt.send_and_wait(
                    dead_letter_topic(record.topic), value=record.value, key=record.key,
                    headers=headers,
                )
                break
            except KafkaError as exc:  # keep the record rather than lose it
                log.warning("dead-lettering failed (%s), retrying", exc)
                await asyncio.sleep(1.0)
        metrics.DEAD_LETTERS.labels(self._service, record.topic).inc()
        metrics.CONSUMER_EVENTS.labels(
            self._service, self.spec.name, record.topic, "dead_lettered"
        ).inc()
        log.error("dead-lettered %s[%d]@%d: %s", record.topic, record.partition, record.offset,
                  error)


def _runs(items: Sequence[_Item]) -> Iterator[list[_Item]]:
    """Consecutive items of one type with a batch handler go together; any other item alone."""
    run: list[_Item] = []
    for item in items:
        if run and (item.batch is None or item.ce.type != run[0].ce.type):
            yield run
            run = []
        run.append(item)
    if run:
        yield run
