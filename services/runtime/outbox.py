"""The outbox relay: publishes committed outbox rows to Kafka, then marks them published.

- Rows are read by ``published_at IS NULL`` in id order, never by a high-water mark, so a row
  whose id was handed out before a concurrent transaction committed (PostgreSQL sequences) is
  picked up on a later round instead of being skipped.
- A round takes the oldest ``batch_size`` rows *of each topic* with unpublished rows (found by
  skipping through the ``(topic, id)`` index of unpublished rows), so a backlog on one topic (an
  import's 200,000 events take half a minute to send) does not hold back the events of another:
  an order placed meanwhile is on Kafka in the next round. Order is kept where it is promised,
  per key, and a key belongs to one topic.
- One relay per database publishes at a time (a PostgreSQL advisory lock), so per-key order
  is the id order; the producer is idempotent.
- Rows on Kafka whose "published" mark was lost are not sent again. That happens when the
  database fails over after a round sent its rows and before its mark reached the standby (the
  promoted standby has them unpublished), or when the relay or its process died in between.
  So before its first round, after a round that failed, after another relay held the lock
  (that relay's process may have died between its send and its mark), and when the database
  it reaches is another server (``pg_postmaster_start_time`` changed: a promoted standby), the
  relay first *reconciles*: under the relay lock it reads the unpublished rows a round would
  take, and, per partition they go to, the last records of that partition, as many as those
  rows. Rows whose event id (``ce_id`` header) is among them are marked published, not sent.
  The rows a lost mark left behind are always the tail of their partitions: one relay sends at
  a time and nothing is sent before the reconciling is done. Per-key order is unchanged.
  Consumers still skip duplicates by event id (a producer renewed after a fatal error, or a
  relay whose round timed out while another took over, may still send twice).
- It runs a round when woken (a commit of its own process calls ``wake``; with ``listen``, a
  PostgreSQL notification on ``OUTBOX_CHANNEL`` from an ``api`` process's commit does), and
  every ``interval`` seconds anyway, so a lost wake-up only delays. Woken, it starts a round
  no sooner than ``gather_s`` after the previous round started: after a quiet moment at once,
  while commits keep coming at most one round per ``gather_s`` (the commits meanwhile share it).
- A round waits at most ``send_timeout`` seconds for Kafka's acknowledgements. The idempotent
  producer never gives up on a batch (it retries until the broker takes it, without
  duplicates), so a round that times out does not send its rows again: it keeps their
  deliveries *in flight*, rolls back (nothing marked), counts the failure, and the next rounds
  wait for those same deliveries before taking new rows. When the broker is back each row is
  on Kafka once and marked published.
- The backlog and the age of the oldest unpublished row are measured from the database by
  ``BacklogSampler`` on a schedule of its own, so they keep moving while the relay waits on
  a broker that is down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka import errors as kafka_errors
from sqlalchemy import BigInteger, any_, bindparam, func, select, text, union_all, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import ColumnElement, Subquery

from services.runtime import metrics
from services.runtime.clock import Clock
from services.runtime.db import OUTBOX_CHANNEL, is_postgres, outbox
from services.runtime.envelope import to_headers
from services.runtime.kafka import partition_of

log = logging.getLogger("vbp.outbox")
RELAY_LOCK = 0x5B_0B_0C_01  # advisory lock id for "the relay of this database"
TOPICS = text("""
WITH RECURSIVE pending(topic) AS (
    SELECT min(topic) FROM outbox WHERE published_at IS NULL
    UNION ALL
    SELECT (SELECT min(o.topic) FROM outbox AS o
            WHERE o.published_at IS NULL AND o.topic > pending.topic)
    FROM pending WHERE pending.topic IS NOT NULL
)
SELECT topic FROM pending WHERE topic IS NOT NULL
""")
"""The topics with unpublished rows: one probe of ``ix_outbox_unpublished_topic`` per topic,
however many rows are waiting (PostgreSQL and SQLite alike)."""

RECONCILE_TIMEOUT_S = 30.0
"""How long reading the partitions' tails may take (a fresh reader connects to each leader)."""

Fault = Callable[[list[int]], Awaitable[None]]


FATAL_PRODUCER_ERRORS: tuple[type[Exception], ...] = (
    kafka_errors.OutOfOrderSequenceNumber, kafka_errors.UnknownProducerId,
    kafka_errors.InvalidProducerEpoch, kafka_errors.ProducerFenced)
"""Errors after which an idempotent producer cannot go on: its sequence numbers no longer
match the broker's (seen after a broker restart mid-send, in a chaos run). Only a new
producer, with a new producer id, sends again."""

Renew = Callable[[AIOKafkaProducer], Awaitable[AIOKafkaProducer]]


class SendTimeout(Exception):
    """Kafka did not acknowledge a round's rows within the relay's ``send_timeout``."""


@dataclass
class _InFlight:
    """Rows handed to the producer by a round that timed out, with their deliveries."""

    ids: list[int]
    topics: list[str]
    deliveries: list[asyncio.Future[object]]


class OutboxRelay:
    def __init__(
        self,
        engine: AsyncEngine,
        producer: AIOKafkaProducer,
        *,
        service: str,
        clock: Clock,
        batch_size: int = 500,
        interval: float = 0.2,
        gather_s: float = 0.005,
        listen: bool = False,
        send_timeout: float = 10.0,
        renew: Renew | None = None,
        bootstrap_servers: str | None = None,
    ) -> None:
        self._engine = engine
        self._producer = producer
        self._renew = renew
        self._service = service
        self._clock = clock
        self._batch_size = batch_size
        self._interval = interval
        self._gather_s = gather_s
        self._send_timeout = send_timeout
        self._in_flight: _InFlight | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        self._stopped = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._listen = listen
        self._listener: AsyncConnection | None = None
        self._bootstrap = bootstrap_servers
        self._reconcile = bootstrap_servers is not None
        """Whether the next round must first look on Kafka for rows whose mark was lost
        (reading Kafka needs ``bootstrap_servers``; without them the relay never looks)."""
        self._server: object = None
        self._refused = False
        """Whether a round found the lock held by another relay since this one last held it."""
        self._reader: AIOKafkaConsumer | None = None
        """Reads partitions' tails when reconciling; kept between reconciles."""
        """The database server's start time seen last: another one means a failover."""
        self.reconciled = 0
        """Rows found on Kafka and marked published without being sent again."""
        self.more = False
        """Whether the last round left rows of some topic waiting (it took a full batch)."""
        self.after_send: Fault | None = None
        """Test hook: runs after the batch reached Kafka and before it is marked published."""

    def wake(self) -> None:
        self._wake.set()

    def _notified(self, *_: object) -> None:
        self.wake()

    async def start(self) -> None:
        if self._listen:  # a connection of its own, held while the relay runs
            self._listener = await self._engine.connect()
            raw = await self._listener.get_raw_connection()
            await raw.driver_connection.add_listener(  # type: ignore[union-attr]
                OUTBOX_CHANNEL, self._notified)
        self._task = asyncio.create_task(self._run(), name=f"{self._service}-outbox-relay")

    async def stop(self, drain_timeout: float = 5.0) -> None:
        """Stop after one last attempt to publish what is committed."""
        if self._listener is not None:  # UNLISTEN: the connection goes back to the pool
            raw = await self._listener.get_raw_connection()
            await raw.driver_connection.remove_listener(  # type: ignore[union-attr]
                OUTBOX_CHANNEL, self._notified)
            await self._listener.close()
            self._listener = None
        self._stopping = True
        self._stopped.set()
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, drain_timeout)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
            self._task = None
        await self._close_reader()

    async def _run(self) -> None:
        backoff = self._interval
        loop = asyncio.get_running_loop()
        while True:
            began = loop.time()
            try:
                published = await self.publish_batch()
                backoff = self._interval
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                metrics.OUTBOX_FAILURES.labels(self._service).inc()
                if isinstance(exc, SendTimeout):
                    metrics.OUTBOX_SEND_TIMEOUTS.labels(self._service).inc()
                log.warning("outbox relay round failed, will retry: %s: %s",
                            exc.__class__.__name__, exc)
                published = 0
                if isinstance(exc, FATAL_PRODUCER_ERRORS) and self._renew is not None:
                    await self._renew_producer()
                backoff = min(backoff * 2, 5.0)
                if self._stopping:
                    return
            if self._stopping and published == 0:
                return
            if published and self.more:  # a topic has more waiting: go on at once
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), backoff)
                # woken by a commit: rounds start at most every gather_s, so the commits of a
                # busy moment share a round; after a quiet moment the round starts at once
                if (gather := began + self._gather_s - loop.time()) > 0 and not self._stopping:
                    await asyncio.wait_for(self._stopped.wait(), gather)
            except TimeoutError:
                pass
            self._wake.clear()

    @property
    def in_flight(self) -> int:
        """Rows handed to Kafka by a round that timed out and not acknowledged yet."""
        return len(self._in_flight.ids) if self._in_flight is not None else 0

    async def publish_batch(self) -> int:
        """Publish one batch of committed, unpublished rows; returns how many (with those
        found already on Kafka). Raises ``SendTimeout`` when Kafka does not acknowledge them
        within ``send_timeout``."""
        try:
            return await self._round()
        except BaseException:  # a mark may be lost: look on Kafka before sending again
            self._reconcile = self._bootstrap is not None
            raise

    async def _round(self) -> int:
        if self._in_flight is not None:
            return await self._settle()
        async with self._engine.begin() as conn:
            if is_postgres(conn):
                got, server = (await conn.execute(select(
                    func.pg_try_advisory_xact_lock(RELAY_LOCK),
                    func.pg_postmaster_start_time()))).one()
                if not got:
                    self._refused = True
                    return 0
                if self._refused:  # another relay ran rounds meanwhile: it may have died
                    self._refused = False
                    self._reconcile = self._bootstrap is not None
                if server != self._server:  # first round, or another server: a failover
                    self._reconcile = self._reconcile or (
                        self._server is not None and self._bootstrap is not None)
                    self._server = server
            rows = await self._oldest(conn)
            reconciled = 0
            if self._reconcile and rows:
                reconciled = await self._mark_found_on_kafka(conn, rows)
                if reconciled:
                    rows = await self._oldest(conn)
            self.more = any(n == self._batch_size
                            for n in Counter(row.topic for row in rows).values())
            if not rows:
                self._reconciled(reconciled)
                return reconciled
            await self._send(rows)
            ids = [row.id for row in rows]
            if self.after_send is not None:
                await self.after_send(ids)
            await conn.execute(
                update(outbox).where(_among(conn, ids)).values(published_at=self._clock.now())
            )
        self._reconciled(reconciled)
        self._count_published(row.topic for row in rows)
        return len(rows) + reconciled

    async def _oldest(self, conn: AsyncConnection) -> list[Row[Any]]:
        """The rows of a round: the oldest ``batch_size`` unpublished of each topic."""
        topics = (await conn.scalars(TOPICS)).all()
        return [] if not topics else sorted((await conn.execute(union_all(*(
            select(oldest_of(topic, self._batch_size)) for topic in topics)))).all(),
            key=lambda row: row.id)

    def _reconciled(self, n: int) -> None:
        """The round committed: what reconciling marked is marked, no need to look again."""
        self._reconcile = False
        if n:
            self.reconciled += n
            log.warning("outbox relay: %d events were already on Kafka (their published "
                        "mark was lost); marked published, not sent again", n)

    async def _mark_found_on_kafka(self, conn: AsyncConnection, rows: Sequence[Row[Any]]
                                   ) -> int:
        """Mark published, in the round's transaction, the rows already on Kafka; how many."""
        started = asyncio.get_running_loop().time()
        found = await asyncio.wait_for(self._on_kafka(rows), RECONCILE_TIMEOUT_S)
        log.info("outbox relay: looked on Kafka for %d unpublished events in %.2f s, found %d",
                 len(rows), asyncio.get_running_loop().time() - started, len(found))
        ids = [row.id for row in rows if row.event_id in found]
        if ids:
            await conn.execute(update(outbox).where(_among(conn, ids))
                               .values(published_at=self._clock.now()))
        return len(ids)

    async def _on_kafka(self, rows: Sequence[Row[Any]]) -> set[str]:
        """The event ids among the last records of each partition ``rows`` go to, as many
        records as ``rows`` has for that partition (a lost mark's rows are that tail)."""
        assert self._bootstrap is not None
        tail = {TopicPartition(topic, partition): len(queue)
                for (topic, partition), queue in (await self._by_partition(rows)).items()}
        if self._reader is None:
            reader = AIOKafkaConsumer(bootstrap_servers=self._bootstrap, group_id=None,
                                      enable_auto_commit=False,
                                      client_id=f"vbp-{self._service}-outbox-reconcile")
            try:
                await reader.start()
            except BaseException:  # the broker away: close what start() opened
                with contextlib.suppress(Exception):
                    await reader.stop()
                raise
            self._reader = reader
        reader = self._reader
        try:
            reader.assign(list(tail))
            ends = await reader.end_offsets(list(tail))
            firsts = await reader.beginning_offsets(list(tail))
            todo: dict[TopicPartition, int] = {}
            for tp, n in tail.items():
                if ends[tp] > firsts[tp]:
                    reader.seek(tp, max(firsts[tp], ends[tp] - n))
                    todo[tp] = ends[tp]
            found: set[str] = set()
            while todo:
                for tp, records in (await reader.getmany(*todo, timeout_ms=500)).items():
                    for record in records:
                        event_id = dict(record.headers or ()).get("ce_id")
                        if event_id is not None and record.offset < todo.get(tp, 0):
                            found.add(event_id.decode())
                for tp in list(todo):
                    if await reader.position(tp) >= todo[tp]:
                        del todo[tp]
            return found
        except BaseException:  # a fresh reader next time
            await self._close_reader()
            raise

    async def _close_reader(self) -> None:
        if self._reader is not None:
            reader, self._reader = self._reader, None
            with contextlib.suppress(Exception):
                await reader.stop()

    async def _renew_producer(self) -> None:
        """Replace a producer that cannot go on (``FATAL_PRODUCER_ERRORS``). What it still
        held is dropped unmarked, so the next rounds send those rows again: at least once, as
        after a crash between send and mark (consumers skip by event id)."""
        assert self._renew is not None
        self._in_flight = None
        try:
            self._producer = await self._renew(self._producer)
        except Exception as exc:  # the broker may still be away: the next failure retries
            log.warning("outbox relay could not renew its producer: %s: %s",
                        exc.__class__.__name__, exc)
        else:
            log.warning("outbox relay renewed its Kafka producer after a fatal error")

    def _count_published(self, topics: Iterable[str]) -> None:
        for topic, n in Counter(topics).items():  # one labels() per topic, not per row
            metrics.OUTBOX_PUBLISHED.labels(self._service, topic).inc(n)

    async def _send(self, rows: Sequence[Row[Any]]) -> None:
        """Hand the rows to the producer and wait for every acknowledgement, for at most
        ``send_timeout`` seconds in all (handing over may wait for metadata or room).

        The rows are grouped by topic partition (Kafka's default partitioner,
        ``kafka.partition_of``: a key keeps its partition) into record batches built here
        (``create_batch``), in id order, each handed over whole (``send_batch``): no
        per-record future or metadata lookup. A partition's batches are handed over one after
        another (the producer takes the next when the previous one is drained), the partitions
        side by side."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._send_timeout
        handed: list[tuple[list[Row[Any]], asyncio.Future[object]]] = []
        try:
            async with asyncio.timeout_at(deadline):
                queues = await self._by_partition(rows)
                await asyncio.gather(*(self._hand_over(topic, partition, queue, handed)
                                       for (topic, partition), queue in queues.items()))
        except TimeoutError:
            pass
        deliveries = [delivery for _, delivery in handed]
        pending: set[asyncio.Future[object]] = set()
        if deliveries:
            _, pending = await asyncio.wait(deliveries, timeout=max(deadline - loop.time(), 0))
        sent = [row for batch, _ in handed for row in batch]
        if not deliveries or pending or len(sent) < len(rows):
            if deliveries:  # the producer keeps them: wait for them, never send them twice
                self._in_flight = _InFlight([r.id for r in sent], [r.topic for r in sent],
                                            deliveries)
            raise SendTimeout(f"{len(rows)} events not acknowledged by Kafka within "
                              f"{self._send_timeout:g} s")
        for delivery in deliveries:
            delivery.result()  # the first failure, if any: the round fails, all go again

    async def _by_partition(self, rows: Sequence[Row[Any]]
                            ) -> dict[tuple[str, int], list[tuple[Row[Any], bytes]]]:
        """The rows (with their encoded keys) per topic partition, in id order."""
        partitions: dict[str, list[int]] = {}
        queues: dict[tuple[str, int], list[tuple[Row[Any], bytes]]] = {}
        for row in rows:
            if row.topic not in partitions:  # waits for the topic's metadata if need be
                partitions[row.topic] = sorted(await self._producer.partitions_for(row.topic))
            key = row.key.encode()
            known = partitions[row.topic]
            partition = known[partition_of(key, len(known))]
            queues.setdefault((row.topic, partition), []).append((row, key))
        return queues

    async def _hand_over(self, topic: str, partition: int, queue: list[tuple[Row[Any], bytes]],
                         handed: list[tuple[list[Row[Any]], asyncio.Future[object]]]) -> None:
        """Build the partition's record batches in order and hand each over when full."""
        batch = self._producer.create_batch()
        rows: list[Row[Any]] = []
        for row, key in queue:
            headers = to_headers(
                id=row.event_id, source=row.ce_source, type=row.ce_type, time=row.ce_time,
                subject=row.key, traceparent=row.traceparent)
            value = row.payload.encode()
            if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                handed.append((rows, await self._producer.send_batch(  # full: hand it over
                    batch, topic, partition=partition)))
                batch, rows = self._producer.create_batch(), []
                batch.append(key=key, value=value, timestamp=None,  # a first record fits
                             headers=headers)
            rows.append(row)
        if rows:
            handed.append((rows, await self._producer.send_batch(
                batch, topic, partition=partition)))

    async def _settle(self) -> int:
        """Wait for the deliveries of a round that timed out; mark what Kafka took."""
        flight = self._in_flight
        assert flight is not None
        _, pending = await asyncio.wait(flight.deliveries, timeout=self._send_timeout)
        if pending:
            raise SendTimeout(f"{len(pending)} events still not acknowledged by Kafka")
        self._in_flight = None
        for delivery in flight.deliveries:
            delivery.result()  # failed: the rows are unmarked, the next round sends them
        async with self._engine.begin() as conn:
            await conn.execute(update(outbox).where(
                _among(conn, flight.ids), outbox.c.published_at.is_(None),
            ).values(published_at=self._clock.now()))
        self._count_published(flight.topics)
        self.more = True  # then on with the rows that waited behind them
        return len(flight.ids)


BACKLOG = (select(func.count(), func.min(outbox.c.created_at))
           .select_from(outbox).where(outbox.c.published_at.is_(None)))
"""Unpublished rows and the oldest one's time, from the partial index of unpublished rows."""


class BacklogSampler:
    """Sets the backlog gauges (``vbp_outbox_backlog_events``,
    ``vbp_outbox_oldest_unpublished_age_seconds``) from the database every ``interval``
    seconds, independently of the relay: a relay blocked on a broker that is down does not
    freeze them."""

    def __init__(self, engine: AsyncEngine, *, service: str, clock: Clock,
                 interval: float = 2.0) -> None:
        self._engine = engine
        self._service = service
        self._clock = clock
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    async def sample(self) -> tuple[int, float]:
        """Measure and export (backlog, age of the oldest unpublished row in seconds)."""
        async with self._engine.connect() as conn:
            count, oldest = (await conn.execute(BACKLOG)).one()
        age = max((self._clock.now() - oldest).total_seconds(), 0.0) if oldest else 0.0
        metrics.OUTBOX_BACKLOG.labels(self._service).set(count or 0)
        metrics.OUTBOX_OLDEST_AGE.labels(self._service).set(age)
        return int(count or 0), age

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"{self._service}-outbox-backlog")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        failing = False
        while True:
            try:
                await self.sample()
                failing = False
            except Exception as exc:
                if not failing:  # once per outage of the database, not every interval
                    log.warning("outbox backlog not measured: %s: %s",
                                exc.__class__.__name__, exc)
                failing = True
            await asyncio.sleep(self._interval)


def _among(conn: AsyncConnection, ids: list[int]) -> ColumnElement[bool]:
    """``outbox.id`` among ``ids``: on PostgreSQL one array parameter (``= ANY``), not one
    rendered parameter per id."""
    if is_postgres(conn):
        return outbox.c.id == any_(bindparam("ids", ids, type_=ARRAY(BigInteger)))
    return outbox.c.id.in_(ids)


SENT_COLUMNS = [outbox.c[name] for name in (
    "id", "event_id", "topic", "key", "ce_type", "ce_source", "ce_time", "traceparent",
    "payload")]
"""What the relay reads of a row: what goes on the wire, and the id."""


def oldest_of(topic: str, limit: int) -> Subquery:
    """The oldest ``limit`` unpublished rows of ``topic``, in id order."""
    return (select(*SENT_COLUMNS)
            .where(outbox.c.published_at.is_(None), outbox.c.topic == topic)
            .order_by(outbox.c.id).limit(limit).subquery())


async def unpublished_count(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        n = await conn.scalar(
            select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
        )
    return int(n or 0)

