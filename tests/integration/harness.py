"""Building blocks for runtime tests on the real PostgreSQL and Kafka: a throwaway event type
on a fresh topic per test, and a handler whose effect shows any double application."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy import Column, Integer, String, Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.base import CloudEvent, Event
from services.runtime.clock import SystemClock
from services.runtime.consumer import ConsumerSpec, EventConsumer
from services.runtime.db import UnitOfWork, new_metadata
from services.runtime.kafka import make_producer
from services.runtime.outbox import OutboxRelay

test_metadata = new_metadata()
effects = Table(  # deliberately no unique constraint: a double application shows as 2 rows
    "effects",
    test_metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False),
    Column("ping_id", String(64), nullable=False),
    Column("n", Integer, nullable=False),
)


class Pinged(Event):
    TYPE: ClassVar[str] = "vbp.test.pinged.v1"
    TOPIC: ClassVar[str] = "vbp.test.pings.v1"
    ping_id: str
    n: int

    def key(self) -> str:
        return self.ping_id


def pinged_on(topic: str) -> type[Pinged]:
    """The Pinged event class, travelling on ``topic`` (a fresh one per test)."""
    return type("Pinged", (Pinged,), {"TOPIC": topic, "__module__": __name__})


async def apply_ping(uow: UnitOfWork, event: Pinged, ce: CloudEvent) -> None:
    await uow.conn.execute(insert(effects).values(event_id=ce.id, ping_id=event.ping_id,
                                                  n=event.n))


class Harness:
    """Outbox, relay and consumers of one test, on its own database and topic."""

    def __init__(self, engine: AsyncEngine, bootstrap: str, topic: str) -> None:
        self.engine = engine
        self.bootstrap = bootstrap
        self.topic = topic
        self.event = pinged_on(topic)
        self.clock = SystemClock()
        self.producers: list[AIOKafkaProducer] = []
        self.consumers: list[EventConsumer] = []
        self.relays: list[OutboxRelay] = []
        self.group = f"g-{uuid.uuid4().hex[:8]}"

    async def producer(self) -> AIOKafkaProducer:
        producer = make_producer(self.bootstrap, "test")
        await producer.start()
        self.producers.append(producer)
        return producer

    async def relay(self) -> OutboxRelay:
        """A relay, stopped by ``close()`` (it keeps a Kafka reader for reconciling)."""
        relay = OutboxRelay(self.engine, await self.producer(), service="test",
                            clock=self.clock, bootstrap_servers=self.bootstrap)
        self.relays.append(relay)
        return relay

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.engine, clock=self.clock, source="/vbp/test")

    async def record(self, n: int, *, keys: int = 5, start: int = 0, key_prefix: str = "k"
                     ) -> list[str]:
        """Commit ``n`` events to the outbox, in one transaction each batch of 50."""
        ids: list[str] = []
        for base in range(start, start + n, 50):
            async with self.uow() as uow:
                for i in range(base, min(base + 50, start + n)):
                    ce = uow.record(self.event(ping_id=f"{key_prefix}{i % keys}", n=i))
                    ids.append(ce.id)
                await uow.commit()
        return ids

    def consumer(self, handler: Callable[..., Awaitable[None]] = apply_ping,
                 **kwargs: Any) -> EventConsumer:
        spec = ConsumerSpec(name="pings", routes={self.event: handler})
        consumer = EventConsumer(
            spec, service="test", engine=self.engine, clock=self.clock,
            bootstrap_servers=self.bootstrap, dlt_producer=self.producers[0],
            group_id=self.group, backoff=0.05, **kwargs,
        )
        self.consumers.append(consumer)
        return consumer

    async def applied(self) -> tuple[int, int]:
        """(rows of effect, distinct events applied)."""
        async with self.engine.connect() as conn:
            rows = await conn.scalar(select(func.count()).select_from(effects))
            distinct = await conn.scalar(select(func.count(func.distinct(effects.c.event_id))))
        return int(rows or 0), int(distinct or 0)

    async def wait_applied(self, n: int, timeout: float = 60) -> tuple[int, int]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            got = await self.applied()
            if got[1] >= n or loop.time() > deadline:
                await asyncio.sleep(0.5)  # let any straggling duplicate land before judging
                return await self.applied()
            await asyncio.sleep(0.1)

    async def read_topic(self, topic: str | None = None, *, expect: int,
                         timeout: float = 20) -> list[Any]:
        consumer = AIOKafkaConsumer(topic or self.topic, bootstrap_servers=self.bootstrap,
                                    auto_offset_reset="earliest", group_id=None)
        await consumer.start()
        records: list[Any] = []
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while len(records) < expect and loop.time() < deadline:
                batch = await consumer.getmany(timeout_ms=500)
                for recs in batch.values():
                    records.extend(recs)
        finally:
            await consumer.stop()
        return records

    async def close(self) -> None:
        for relay in self.relays:
            await relay.stop()
        for consumer in self.consumers:
            await consumer.stop()
        for producer in self.producers:
            await producer.stop()


