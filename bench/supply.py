"""Supply benchmark: routing throughput through the consumer, and barring a busy distributor.

    .venv/bin/python bench/supply.py [--events 20000] [--bar-orders 10000] [--fsync]

Starts its own throwaway Kafka broker and PostgreSQL (services.devstack, as the tests do),
runs the supply service in-process (its real lifespan: migrations, outbox relay, consumers),
and prints:

1. routing: N ``OrderPlaced`` events are put on the orders topic first, then the service is
   started; measured from the first order routed to the last ``OrderRouted`` published on
   Kafka (and wall clock including start-up), split into first to last order routed (the
   consumer) and last routed to last published (the relay's tail). Then the deliveries topic
   is read back: one ``OrderRouted`` per order, no duplicates, no missing one.
2. barring: a distributor that holds ``--bar-orders`` unshipped orders is put on the violation
   list through the HTTP API; the time until the request returns (everything re-routed or
   flagged, committed) and until every resulting event is on Kafka.

PostgreSQL runs as in the tests (fsync off) unless ``--fsync``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shutil
import sys
import tempfile
import time
import uuid
import zlib
from collections import Counter
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.base import CloudEvent
from contracts.orders import ORDERS_TOPIC, OrderPlaced
from contracts.supply import DELIVERIES_TOPIC
from services.devstack.kafka import KafkaBroker, ensure_jars
from services.devstack.postgres import PostgresCluster
from services.runtime.auth import mint_token
from services.runtime.db import make_engine, outbox
from services.runtime.envelope import decode, encode
from services.runtime.kafka import ensure_topics
from services.runtime.settings import Settings
from services.supply import store
from services.supply.app import create_app

SECRET = "bench-secret-0123456789abcdef0123456789"
REGION = "重庆"
ENTERPRISES = 20
PRODUCTS = 5
DISTRIBUTORS = 10
INSTITUTIONS = 200
BARRED = "D-BAR"
BACKUP = "D-BACKUP"
BAR_ENTERPRISE = "E-BAR"  # its institutions are served by D-BAR, the region by D-BACKUP
LONE_ENTERPRISE = "E-LONE"  # only D-BAR: its orders become supply risks when D-BAR is barred


def headers(role: str, org: str, key: bool = False) -> dict[str, str]:
    h = {"Authorization": f"Bearer {mint_token(SECRET, role=role, org=org)}"}
    if key:
        h["Idempotency-Key"] = uuid.uuid4().hex
    return h


def product(e: str, p: int) -> str:
    return f"国械注准2016{zlib.crc32(f'{e}/{p}'.encode()) % 10**7:07d}"


async def setup(client: httpx.AsyncClient, bar: bool = True) -> None:
    """Distributors and assignments; ``bar``: also those of the barring measurement (D-BAR
    chosen for each of the 200 institutions: a thousand assignments)."""
    for d in [f"D-{i:02d}" for i in range(DISTRIBUTORS)] + [BARRED, BACKUP]:
        r = await client.post("/v1/distributors",
                              headers=headers("regulator", "BUREAU", key=True),
                              json={"distributor_id": d, "name": f"配送企业 {d}"})
        assert r.status_code == 201, r.text

    async def assign(e: str, p: int, d: str, **target: str) -> None:
        body = {"registration_no": product(e, p), "distributor_id": d,
                "scope": "institution" if "institution_id" in target else "region",
                "reason": "bench", **target}
        r = await client.post("/v1/assignments", json=body, headers=headers("enterprise", e,
                                                                            key=True))
        assert r.status_code == 201, r.text

    for i in range(ENTERPRISES):
        e = f"E-{i:02d}"
        for p in range(PRODUCTS):
            await assign(e, p, f"D-{(i + p) % DISTRIBUTORS:02d}", region=REGION)
            for h in range(0, 5):  # a few institution-specific choices
                await assign(e, p, f"D-{(i + p + 1) % DISTRIBUTORS:02d}",
                             institution_id=f"H-{(i * 7 + h) % INSTITUTIONS:04d}")
    for p in range(PRODUCTS if bar else 0):
        await assign(BAR_ENTERPRISE, p, BACKUP, region=REGION)
        await assign(LONE_ENTERPRISE, p, BARRED, region=REGION)
        for h in range(INSTITUTIONS):
            await assign(BAR_ENTERPRISE, p, BARRED, institution_id=f"H-{h:04d}")


def orders(n: int, bar_orders: int, prefix: str) -> list[OrderPlaced]:
    """``bar_orders`` of them go to D-BAR (90 % re-routable, 10 % not), the rest spread."""
    placed_at = datetime.now(UTC) - timedelta(hours=1)
    price = Decimal("730.00")
    out = []
    for i in range(n):
        if i < bar_orders:
            e = BAR_ENTERPRISE if i % 10 else LONE_ENTERPRISE
        else:
            e = f"E-{i % ENTERPRISES:02d}"
        p = i % PRODUCTS
        h = f"H-{(i * 31) % INSTITUTIONS:04d}"
        out.append(OrderPlaced(
            order_id=f"{prefix}{i:07d}", program_id="CQ-STENT-2023", institution_id=h,
            region=REGION, listing_id=f"L-{e}-{p}", registration_no=product(e, p),
            enterprise_id=e, units=1 + i % 5, unit_price=price, amount=price * (1 + i % 5),
            order_class="within_agreement", placed_by=f"institution:{h}/bench",
            placed_at=placed_at))
    return out


async def produce(bootstrap: str, events: list[OrderPlaced], topic: str = ORDERS_TOPIC,
                  partitions: int | None = None) -> float:
    """The events on ``topic`` (``partitions``: when it is not a registered topic, as many
    partitions as the orders topic has, for a raw baseline to read them as supply does)."""
    if partitions is None:
        await ensure_topics(bootstrap, [topic])
    else:
        await ensure_topics(bootstrap, [topic], partitions=partitions, dlt=False)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True,
                                linger_ms=20, max_batch_size=256 * 1024)
    await producer.start()
    started = time.perf_counter()
    try:
        futures = []
        for event in events:
            key, value, hdrs = encode(CloudEvent.of(event, source="/vbp/orders",
                                                    time=datetime.now(UTC)))
            futures.append(await producer.send(topic, value=value, key=key, headers=hdrs))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return time.perf_counter() - started


async def published_count(engine: Any) -> int:
    async with engine.connect() as conn:
        n = await conn.scalar(select(func.count()).select_from(outbox)
                              .where(outbox.c.published_at.is_not(None)))
    return int(n or 0)


async def wait_published(engine: Any, target: int, timeout: float, label: str) -> float:
    started = time.perf_counter()
    last, last_change = -1, started
    while True:
        n = await published_count(engine)
        if n >= target:
            return time.perf_counter() - started
        now = time.perf_counter()
        if n != last:
            last, last_change = n, now
        if now - last_change > timeout:
            raise RuntimeError(f"{label}: stuck at {n} of {target} published events")
        await asyncio.sleep(0.25)


async def read_deliveries(bootstrap: str, expect: int, timeout: float = 120) -> list[CloudEvent]:
    consumer = AIOKafkaConsumer(DELIVERIES_TOPIC, bootstrap_servers=bootstrap, group_id=None,
                                auto_offset_reset="earliest", max_partition_fetch_bytes=4 << 20)
    await consumer.start()
    found: list[CloudEvent] = []
    deadline = time.monotonic() + timeout
    try:
        idle = 0
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            got = sum(len(r) for r in batch.values())
            for records in batch.values():
                found.extend(decode(r.value, r.headers) for r in records)
            idle = 0 if got else idle + 1
            if len(found) >= expect and idle >= 4:
                break
    finally:
        await consumer.stop()
    return found


def supply_settings(bootstrap: str, database_url: str) -> Settings:
    return Settings.for_service("supply", database_url=database_url,
                                kafka_bootstrap_servers=bootstrap, jwt_secret=SECRET,
                                log_level="WARNING")


async def prepare(settings: Settings, bar: bool = True) -> float:
    """The distributors and assignments (``setup``) through the in-process service's API; its
    time in seconds."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://supply") as c:
            t = time.perf_counter()
            await setup(c, bar)
            return round(time.perf_counter() - t, 1)


async def cpu_at_first_routed(engine: AsyncEngine) -> float:
    """This process's CPU time when the first order is routed (polled every 20 ms): the start
    of the CPU-per-event figure, without the service's start-up."""
    while True:
        async with engine.connect() as conn:
            if await conn.scalar(select(func.count()).select_from(
                    select(store.orders.c.order_id).limit(1).subquery())):
                return time.process_time()
        await asyncio.sleep(0.02)


@asynccontextmanager
async def routed(app: FastAPI, engine: AsyncEngine, bootstrap: str, events: list[OrderPlaced]
                 ) -> AsyncIterator[tuple[float, dict[str, Any]]]:
    """Puts ``events`` on the orders topic, then starts ``app`` (supply) and waits until every
    one is routed and its ``OrderRouted`` published: (seconds to produce them, the routing
    figures). The service stays up inside the block."""
    baseline = await published_count(engine)
    produce_s = round(await produce(bootstrap, events), 2)
    print(f"  {len(events)} OrderPlaced on {ORDERS_TOPIC} in {produce_s} s", flush=True)
    started = time.perf_counter()
    async with app.router.lifespan_context(app):
        first_cpu = asyncio.create_task(cpu_at_first_routed(engine))
        await wait_published(engine, baseline + len(events), 60, "routing")
        wall = time.perf_counter() - started
        cpu_s = time.process_time() - await first_cpu
        async with engine.connect() as conn:
            first_routed = await conn.scalar(select(func.min(store.orders.c.routed_at)))
            last_routed = await conn.scalar(select(func.max(store.orders.c.routed_at)))
            last_published = await conn.scalar(select(func.max(outbox.c.published_at)))
            in_db = await conn.scalar(select(func.count()).select_from(store.orders)
                                      .where(store.orders.c.status == "routed"))
        span = (last_published - first_routed).total_seconds()
        n = len(events)
        routing = {
            "wall_s_incl_startup": round(wall, 2),
            "first_routed_to_last_published_s": round(span, 2),
            "events_per_s": round(n / span, 1),
            "first_to_last_routed_s": round((last_routed - first_routed).total_seconds(), 2),
            "last_routed_to_last_published_s": round(
                (last_published - last_routed).total_seconds(), 2),
            "orders_routed_in_db": in_db,
            "cpu_ms_per_event": round(cpu_s / n * 1000, 4),
        }
        print(f"  routing: {n} events in {span:.2f} s = {n / span:.0f}/s (wall incl. "
              f"start-up {wall:.2f} s); {cpu_s / n * 1000:.3f} ms CPU per event (this "
              "process: consumer, handler, relay)", flush=True)
        yield produce_s, routing


async def bench_routing(bootstrap: str, database_url: str, n: int) -> dict[str, Any]:
    """Routing alone (``vbp bench``): ``n`` orders spread over the enterprises, none barred."""
    await prepare(supply_settings(bootstrap, database_url), bar=False)
    engine = make_engine(database_url)
    try:
        app = create_app(supply_settings(bootstrap, database_url))
        async with routed(app, engine, bootstrap,
                          orders(n, 0, prefix=f"R{uuid.uuid4().hex[:6]}-")) as (_, routing):
            return routing
    finally:
        await engine.dispose()


async def run(args: argparse.Namespace, bootstrap: str, database_url: str) -> dict[str, Any]:
    settings = supply_settings(bootstrap, database_url)
    results: dict[str, Any] = {"events": args.events, "bar_orders": args.bar_orders}

    results["setup_s"] = await prepare(settings)
    engine = make_engine(database_url)
    events = orders(args.events, args.bar_orders, prefix=f"B{uuid.uuid4().hex[:6]}-")
    app = create_app(settings)
    async with routed(app, engine, bootstrap, events) as (produce_s, routing):
        results["produce_s"], results["routing"] = produce_s, routing

        # --- barring a distributor with bar_orders open orders
        async with engine.connect() as conn:
            open_on_bar = await conn.scalar(select(func.count()).select_from(store.orders).where(
                store.orders.c.distributor_id == BARRED, store.orders.c.status == "routed"))
        before = await published_count(engine)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://supply",
                                     timeout=120) as c:
            t = time.perf_counter()
            r = await c.post("/v1/violations", headers=headers("regulator", "BUREAU", key=True),
                             json={"distributor_id": BARRED, "reason": "bench: 商业贿赂",
                                   "years": 3})
            request_s = time.perf_counter() - t
        assert r.status_code == 201, r.text
        outcome = r.json()
        new_events = (1 + len(outcome["revoked_assignments"]) + outcome["rerouted"]
                      + outcome["supply_risks"])
        drained = await wait_published(engine, before + new_events, 60, "bar")
        results["bar"] = {
            "open_orders_on_distributor": open_on_bar,
            "request_s": round(request_s, 2),
            "until_all_events_on_kafka_s": round(request_s + drained, 2),
            "taken_back": outcome["taken_back"], "rerouted": outcome["rerouted"],
            "supply_risks": outcome["supply_risks"],
            "assignments_revoked": len(outcome["revoked_assignments"]),
            "contingencies": len(outcome["contingencies"]),
        }
        print(f"  bar: {outcome['taken_back']} orders taken back ({outcome['rerouted']} "
              f"re-routed, {outcome['supply_risks']} supply risks) in {request_s:.2f} s; "
              f"all {new_events} events on Kafka after {request_s + drained:.2f} s", flush=True)
    await engine.dispose()

    # --- exactly once, read back from Kafka
    seen = await read_deliveries(bootstrap, args.events + outcome["taken_back"])
    first = Counter(ce.data["order_id"] for ce in seen
                    if ce.type == "vbp.supply.order.routed.v1"
                    and ce.data.get("rerouted_from") is None)
    rerouted = Counter(ce.data["order_id"] for ce in seen
                       if ce.type == "vbp.supply.order.routed.v1"
                       and ce.data.get("rerouted_from") == BARRED)
    risks = Counter(ce.data["order_id"] for ce in seen
                    if ce.type == "vbp.supply.risk.opened.v1")
    wanted = {e.order_id for e in events}
    results["exactly_once"] = {
        "order_routed_events": sum(first.values()),
        "distinct_orders_routed": len(first),
        "missing": len(wanted - set(first)),
        "duplicates": sum(1 for v in first.values() if v > 1),
        "rerouted_events": sum(rerouted.values()),
        "rerouted_duplicates": sum(1 for v in rerouted.values() if v > 1),
        "risk_events": sum(risks.values()),
    }
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--bar-orders", type=int, default=10_000)
    parser.add_argument("--fsync", action="store_true", help="PostgreSQL with fsync on")
    args = parser.parse_args()
    if args.bar_orders > args.events:
        parser.error("--bar-orders cannot exceed --events")
    logging.basicConfig(level=logging.WARNING)
    root = Path(tempfile.mkdtemp(prefix="vbp-bench-"))
    os.chmod(root, 0o755)
    broker = KafkaBroker(ensure_jars(), root / "kafka")
    pg = PostgresCluster(root / "pg", fsync=args.fsync)
    try:
        print(f"starting Kafka and PostgreSQL (fsync {'on' if args.fsync else 'off'}) ...",
              flush=True)
        with ThreadPoolExecutor(2) as pool:
            for f in [pool.submit(broker.start), pool.submit(pg.start)]:
                f.result()
        url = pg.create_database("bench_supply")
        results = asyncio.run(run(args, broker.bootstrap_servers, url))
        results["machine"] = {"cpus": os.cpu_count(), "postgres_fsync": args.fsync}
        print(json.dumps(results, indent=2, ensure_ascii=False))
        ok = (results["exactly_once"]["missing"] == 0
              and results["exactly_once"]["duplicates"] == 0
              and results["exactly_once"]["order_routed_events"] == args.events)
        print("exactly once: " + ("OK" if ok else "FAILED"))
        return 0 if ok else 1
    finally:
        broker.stop()
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
