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
- A crash after sending and before marking means the rows are sent again: consumers skip the
  duplicates by event id (at-least-once on the wire, exactly-once in effect).
- It runs a round when woken (a commit of its own process calls ``wake``; with ``listen``, a
  PostgreSQL notification on ``OUTBOX_CHANNEL`` from an ``api`` process's commit does), and
  every ``interval`` seconds anyway, so a lost wake-up only delays.
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
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from sqlalchemy import func, select, text, union_all, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import Subquery

from services.runtime import metrics
from services.runtime.clock import Clock
from services.runtime.db import OUTBOX_CHANNEL, is_postgres, outbox
from services.runtime.envelope import to_headers

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

Fault = Callable[[list[int]], Awaitable[None]]


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
    ) -> None:
        self._engine = engine
        self._producer = producer
        self._service = service
        self._clock = clock
        self._batch_size = batch_size
        self._interval = interval
        self._gather_s = gather_s
        self._send_timeout = send_timeout
        self._in_flight: _InFlight | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._listen = listen
        self._listener: AsyncConnection | None = None
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
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, drain_timeout)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        backoff = self._interval
        while True:
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
                backoff = min(backoff * 2, 5.0)
                if self._stopping:
                    return
            if self._stopping and published == 0:
                return
            if published and self.more:  # a topic has more waiting: go on at once
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), backoff)
                # woken by a commit: let the commits of the next moment join this round
                await asyncio.sleep(self._gather_s)
            except TimeoutError:
                pass
            self._wake.clear()

    @property
    def in_flight(self) -> int:
        """Rows handed to Kafka by a round that timed out and not acknowledged yet."""
        return len(self._in_flight.ids) if self._in_flight is not None else 0

    async def publish_batch(self) -> int:
        """Publish one batch of committed, unpublished rows; returns how many. Raises
        ``SendTimeout`` when Kafka does not acknowledge them within ``send_timeout``."""
        if self._in_flight is not None:
            return await self._settle()
        async with self._engine.begin() as conn:
            if is_postgres(conn):
                got = await conn.scalar(select(func.pg_try_advisory_xact_lock(RELAY_LOCK)))
                if not got:
                    return 0
            topics = (await conn.scalars(TOPICS)).all()
            rows = [] if not topics else sorted((await conn.execute(union_all(*(
                select(oldest_of(topic, self._batch_size)) for topic in topics)))).all(),
                key=lambda row: row.id)
            self.more = any(n == self._batch_size
                            for n in Counter(row.topic for row in rows).values())
            if not rows:
                return 0
            await self._send(rows)
            ids = [row.id for row in rows]
            if self.after_send is not None:
                await self.after_send(ids)
            await conn.execute(
                update(outbox).where(outbox.c.id.in_(ids)).values(published_at=self._clock.now())
            )
        for row in rows:
            metrics.OUTBOX_PUBLISHED.labels(self._service, row.topic).inc()
        return len(rows)

    async def _send(self, rows: Sequence[Row[Any]]) -> None:
        """Hand the rows to the producer and wait for every acknowledgement, for at most
        ``send_timeout`` seconds in all (``send`` itself may wait for metadata or room)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._send_timeout
        deliveries: list[asyncio.Future[object]] = []
        pending: set[asyncio.Future[object]] = set()
        try:
            async with asyncio.timeout_at(deadline):
                for row in rows:
                    headers = to_headers(
                        id=row.event_id, source=row.ce_source, type=row.ce_type,
                        time=row.ce_time, subject=row.key, traceparent=row.traceparent,
                    )
                    deliveries.append(await self._producer.send(
                        row.topic, value=row.payload.encode(), key=row.key.encode(),
                        headers=headers,
                    ))
        except TimeoutError:
            pass
        if deliveries:
            _, pending = await asyncio.wait(deliveries, timeout=max(deadline - loop.time(), 0))
        if not deliveries or pending or len(deliveries) < len(rows):
            if deliveries:  # the producer keeps them: wait for them, never send them twice
                sent = rows[:len(deliveries)]
                self._in_flight = _InFlight([r.id for r in sent], [r.topic for r in sent],
                                            deliveries)
            raise SendTimeout(f"{len(rows)} events not acknowledged by Kafka within "
                              f"{self._send_timeout:g} s")
        for delivery in deliveries:
            delivery.result()  # the first failure, if any: the round fails, all go again

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
                outbox.c.id.in_(flight.ids), outbox.c.published_at.is_(None),
            ).values(published_at=self._clock.now()))
        for topic in flight.topics:
            metrics.OUTBOX_PUBLISHED.labels(self._service, topic).inc()
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


def oldest_of(topic: str, limit: int) -> Subquery:
    """The oldest ``limit`` unpublished rows of ``topic``, in id order."""
    return (select(outbox)
            .where(outbox.c.published_at.is_(None), outbox.c.topic == topic)
            .order_by(outbox.c.id).limit(limit).subquery())


async def unpublished_count(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        n = await conn.scalar(
            select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
        )
    return int(n or 0)

