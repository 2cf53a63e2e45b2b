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
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from fastapi import FastAPI
from pydantic import BaseModel, Field

from services import launcher

ROOT = Path(__file__).resolve().parents[1]
DSN_ENV = "VBP_RAW_DATABASE_URL"

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
    pools: list[asyncpg.Pool] = []

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        pool = await asyncpg.create_pool(dsn, min_size=10, max_size=20)
        async with pool.acquire() as conn:
            await conn.execute(ORDER_TABLES)
        pools.append(pool)
        try:
            yield
        finally:
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


def serve(port: int, dsn: str, logs: Path) -> launcher.ServiceProcess:
    """The raw endpoint under uvicorn (one worker, no access log), as its own process."""
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / "raw-orders.log"
    cmd = [sys.executable, "-m", "uvicorn", "bench.baselines:create_app", "--factory",
           "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
           "--log-level", "warning"]
    with log.open("ab") as out:
        process = subprocess.Popen(cmd, env={**os.environ, DSN_ENV: dsn}, stdout=out,
                                   stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)
    return launcher.ServiceProcess("raw-orders", port, process, log)


# --- 2. the raw consume → insert → produce loop -----------------------------------------------


ROUTED_TABLE = """
CREATE TABLE IF NOT EXISTS raw_routed (
    order_id text PRIMARY KEY,
    institution_id text NOT NULL,
    enterprise_id text NOT NULL,
    registration_no text NOT NULL,
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

    @property
    def per_s(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


def asyncpg_dsn(url: str) -> str:
    """A SQLAlchemy URL (``postgresql+asyncpg://``) as asyncpg's DSN."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def consume_loop(bootstrap: str, database_url: str, source: str, sink: str,
                       expect: int, *, batch: int = 500, timeout: float = 120) -> LoopResult:
    """Consume ``expect`` events from ``source`` (from its start), for each batch insert one row
    per event in one transaction, produce one event per record to ``sink`` keyed as the record
    was, wait for the acknowledgements, then commit the offsets."""
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    await conn.execute(ROUTED_TABLE)
    consumer = AIOKafkaConsumer(source, bootstrap_servers=bootstrap,
                                group_id=f"bench-raw-{uuid.uuid4().hex[:8]}",
                                auto_offset_reset="earliest", enable_auto_commit=False,
                                max_partition_fetch_bytes=4 << 20)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True,
                                linger_ms=5)
    await consumer.start()
    await producer.start()
    done, first = 0, 0.0
    deadline = time.monotonic() + timeout
    try:
        while done < expect:
            if time.monotonic() > deadline:
                raise RuntimeError(f"raw loop: {done} of {expect} events in {timeout:.0f} s")
            fetched = await consumer.getmany(timeout_ms=200, max_records=batch)
            records = [r for rs in fetched.values() for r in rs]
            if not records:
                continue
            if not first:
                first = time.perf_counter()
            now = datetime.now(UTC)
            rows = []
            for r in records:
                data = json.loads(r.value or b"{}")  # binary mode: the value is the data
                rows.append((data["order_id"], data["institution_id"], data["enterprise_id"],
                             data["registration_no"], int(data["units"]), now))
            async with conn.transaction():
                await conn.executemany(
                    "INSERT INTO raw_routed (order_id, institution_id, enterprise_id, "
                    "registration_no, units, routed_at) VALUES ($1, $2, $3, $4, $5, $6) "
                    "ON CONFLICT DO NOTHING", rows)
            acks = [await producer.send(sink, key=r.key, value=json.dumps(
                {"order_id": row[0], "routed_at": now.isoformat()}).encode())
                for r, row in zip(records, rows, strict=True)]
            await asyncio.gather(*acks)
            await consumer.commit()
            done += len(records)
        seconds = time.perf_counter() - first
        count = await conn.fetchval("SELECT count(*) FROM raw_routed")
    finally:
        await consumer.stop()
        await producer.stop()
        await conn.close()
    return LoopResult(done, seconds, int(count))
