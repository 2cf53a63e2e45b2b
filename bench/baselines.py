"""Raw baselines: what the same machine, PostgreSQL and broker do with the least code, for the
platform's figures to be compared with (``vbp bench``).

1. ``create_app``: a minimal FastAPI + asyncpg endpoint, ``POST /v1/orders``, that inserts an
   order row and an outbox row in one transaction and answers 201 with the order id. No
   authentication, idempotency, rules or read models: the floor under the orders service's
   ``POST /v1/orders``. Served by uvicorn on 127.0.0.1 as its own process (``serve``), as the
   orders service is (``vbp serve orders``).
2. ``consume_loop``: a minimal aiokafka + asyncpg loop: fetch a batch of ``OrderPlaced``
   records, insert one effect row per event in one transaction, produce one event per record
   to a sink topic, wait for the acknowledgements, commit the offsets. The floor under supply's
   routing consumer and outbox relay.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from fastapi import FastAPI
from pydantic import BaseModel, Field

from services import launcher

ROOT = Path(__file__).resolve().parents[1]
DSN_ENV = "VBP_RAW_DATABASE_URL"
KAFKA_ENV = "VBP_RAW_KAFKA_BOOTSTRAP_SERVERS"
TOPIC_ENV = "VBP_RAW_TOPIC"

ORDER_TABLES = """
CREATE TABLE IF NOT EXISTS raw_orders (
    order_id text PRIMARY KEY,
    institution_id text NOT NULL,
    listing_id text NOT NULL,
    units integer NOT NULL,
    unit_price numeric(14, 2) NOT NULL,
    amount numeric(16, 2) NOT NULL,
    placed_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS raw_outbox (
    id bigserial PRIMARY KEY,
    topic text NOT NULL,
    key text NOT NULL,
    payload jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    published_at timestamptz
);
CREATE INDEX IF NOT EXISTS raw_outbox_unpublished ON raw_outbox (id)
    WHERE published_at IS NULL;
"""


# --- 1. the raw order endpoint ----------------------------------------------------------------


class RawOrderIn(BaseModel):
    institution_id: str = Field(min_length=1)
    listing_id: str = Field(min_length=1)
    units: int = Field(gt=0)
    unit_price: Decimal = Field(gt=0, decimal_places=2)


def create_app() -> FastAPI:
    """The raw order endpoint on the database named by ``VBP_RAW_DATABASE_URL``."""
    dsn = os.environ[DSN_ENV]
    bootstrap, topic = os.environ.get(KAFKA_ENV), os.environ.get(TOPIC_ENV, "raw.orders")
    pools: list[asyncpg.Pool] = []

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        pool = await asyncpg.create_pool(dsn, min_size=10, max_size=20)
        async with pool.acquire() as conn:
            await conn.execute(ORDER_TABLES)
        pools.append(pool)
        producer = task = None
        if bootstrap:
            producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True,
                                        linger_ms=5)
            await producer.start()
            task = asyncio.create_task(relay(pool, producer, topic))
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task
            if producer is not None:
                await producer.stop()
            await pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/readyz")
    async def ready() -> dict[str, str]:
        return {"status": "ready"}

    @app.post("/v1/orders", status_code=201)
    async def place(body: RawOrderIn) -> dict[str, str]:
        order_id = uuid.uuid4().hex
        amount = body.unit_price * body.units
        now = datetime.now(UTC)
        payload = json.dumps({"order_id": order_id, "institution_id": body.institution_id,
                              "listing_id": body.listing_id, "units": body.units,
                              "unit_price": str(body.unit_price), "amount": str(amount),
                              "placed_at": now.isoformat()})
        async with pools[0].acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO raw_orders (order_id, institution_id, listing_id, units, "
                "unit_price, amount, placed_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                order_id, body.institution_id, body.listing_id, body.units, body.unit_price,
                amount, now)
            await conn.execute(
                "INSERT INTO raw_outbox (topic, key, payload, created_at) "
                "VALUES ('raw.orders', $1, $2::jsonb, $3)", order_id, payload, now)
        return {"order_id": order_id}

    return app


async def relay(pool: asyncpg.Pool, producer: AIOKafkaProducer, topic: str) -> None:
    """The raw outbox relay: poll the unpublished rows every 5 ms (up to 500 at a time, locked),
    produce them, wait for the acknowledgements, mark them published."""
    while True:
        async with pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "SELECT id, key, payload::text AS payload FROM raw_outbox "
                "WHERE published_at IS NULL ORDER BY id LIMIT 500 FOR UPDATE SKIP LOCKED")
            if rows:
                acks = [await producer.send(topic, key=r["key"].encode(),
                                            value=r["payload"].encode()) for r in rows]
                await asyncio.gather(*acks)
                await conn.execute("UPDATE raw_outbox SET published_at = now() "
                                   "WHERE id = any($1::bigint[])", [r["id"] for r in rows])
        if not rows:
            await asyncio.sleep(0.005)


def serve(port: int, dsn: str, logs: Path, bootstrap: str | None = None,
          topic: str = "raw.orders") -> launcher.ServiceProcess:
    """The raw endpoint under uvicorn (one worker, no access log), as its own process; with
    ``bootstrap``, its raw relay publishes the outbox to ``topic``."""
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / "raw-orders.log"
    cmd = [sys.executable, "-m", "uvicorn", "bench.baselines:create_app", "--factory",
           "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
           "--log-level", "warning"]
    with log.open("ab") as out:
        env = {**os.environ, DSN_ENV: dsn, TOPIC_ENV: topic}
        if bootstrap:
            env[KAFKA_ENV] = bootstrap
        process = subprocess.Popen(cmd, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)
    return launcher.ServiceProcess("raw-orders", port, process, log)


# --- 2. the raw consume → insert → produce loop -----------------------------------------------


ROUTED_TABLE = """
CREATE TABLE IF NOT EXISTS raw_routed (
    order_id text PRIMARY KEY,
    institution_id text NOT NULL,
    units integer NOT NULL,
    routed_at timestamptz NOT NULL
)
"""


@dataclass(frozen=True)
class LoopResult:
    events: int
    seconds: float
    """From the first batch fetched to the last produced event acknowledged."""
    rows: int
    """Effect rows in the database afterwards (one per event)."""
    cpu_s: float = 0.0
    """This process's CPU time over ``seconds``."""

    @property
    def per_s(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_ms_per_event(self) -> float:
        return self.cpu_s / self.events * 1000 if self.events else 0.0


def asyncpg_dsn(url: str) -> str:
    """A SQLAlchemy URL (``postgresql+asyncpg://``) as asyncpg's DSN."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def consume_loop(bootstrap: str, database_url: str, source: str, sink: str,
                       expect: int | None, *, from_end: bool = False, batch: int = 500,
                       timeout: float = 120, ready: asyncio.Event | None = None) -> LoopResult:
    """Consume ``expect`` events (None: until cancelled) from ``source`` (from its start, or
    its end: ``from_end``; ``ready`` is set once positioned); for each batch insert one row per
    event in one transaction, produce one event per record to ``sink`` keyed as the record
    was, wait for the acknowledgements, then commit the offsets."""
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    await conn.execute(ROUTED_TABLE)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap,
                                group_id=f"bench-raw-{uuid.uuid4().hex[:8]}",
                                enable_auto_commit=False, fetch_max_wait_ms=20,
                                max_partition_fetch_bytes=4 << 20)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True,
                                linger_ms=5)
    await consumer.start()
    await producer.start()
    await consumer.topics()  # the cluster's metadata, with the source's partitions
    parts = consumer.partitions_for_topic(source) or set()
    if not parts:
        await consumer.stop()
        await producer.stop()
        await conn.close()
        raise RuntimeError(f"raw loop: no topic {source}")
    tps = [TopicPartition(source, p) for p in parts]
    consumer.assign(tps)
    if from_end:
        await consumer.seek_to_end(*tps)
        for tp in tps:
            await consumer.position(tp)
    else:
        await consumer.seek_to_beginning(*tps)
    if ready is not None:
        ready.set()
    done, first, first_cpu = 0, 0.0, 0.0
    deadline = time.monotonic() + timeout
    try:
        while expect is None or done < expect:
            if expect is not None and time.monotonic() > deadline:
                raise RuntimeError(f"raw loop: {done} of {expect} events in {timeout:.0f} s")
            fetched = await consumer.getmany(timeout_ms=200, max_records=batch)
            records = [r for rs in fetched.values() for r in rs]
            if not records:
                continue
            if not first:
                first, first_cpu = time.perf_counter(), time.process_time()
            now = datetime.now(UTC)
            rows = []
            for r in records:
                data = json.loads(r.value or b"{}")  # binary mode: the value is the data
                rows.append((data["order_id"], data["institution_id"], int(data["units"]),
                             now))
            async with conn.transaction():
                await conn.executemany(
                    "INSERT INTO raw_routed (order_id, institution_id, units, routed_at) "
                    "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING", rows)
            acks = [await producer.send(sink, key=r.key, value=json.dumps(
                {"order_id": row[0], "routed_at": now.isoformat()}).encode())
                for r, row in zip(records, rows, strict=True)]
            await asyncio.gather(*acks)
            await consumer.commit()
            done += len(records)
        seconds, cpu_s = time.perf_counter() - first, time.process_time() - first_cpu
        count = await conn.fetchval("SELECT count(*) FROM raw_routed")
    finally:
        await consumer.stop()
        await producer.stop()
        await conn.close()
    return LoopResult(done, seconds, int(count), cpu_s)
