"""Monitoring benchmark: read-model throughput, a month's report for a large region, rebuild.

    .venv/bin/python bench/monitoring.py [--scale 1.0] [--events 300000] [--institutions 5000]
        [--batch 1000]

Starts its own throwaway Kafka broker and PostgreSQL (services.devstack, as the tests do) and
runs the monitoring service in-process (its real lifespan: migrations, relay, consumers).

1. ``--events × scale`` events of mixed types (one program; an agreement per institution ×
   product; orders placed, delivered, accepted, some cancelled) over ``--institutions``
   institutions of one region (not scaled: the report's target is for 5,000) are put on the
   catalog, orders and supply topics *before* the service starts; measured: from start-up
   until every event is applied (``processed_events`` rows), as events per second — the rate
   at which the read models catch up (target: keep up with 3,000 events/s), and the CPU
   seconds of this process (the service runs in it) per event.
2. The month's report for the region (every dimension), through the HTTP route: median of 5
   (target: under 2 s for 5,000 institutions).
3. ``vbp monitoring rebuild`` over the same topics: seconds, events per second, and the time
   that rate gives for 10,000,000 events (target: under 10 minutes) — an extrapolation, said so.

Every figure is printed with the load average at the time (the machine is shared).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import logging
import os
import statistics
import sys
import time
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from aiokafka import AIOKafkaProducer
from sqlalchemy import event, func, select

from bench.common import SECRET, infrastructure
from contracts.base import CloudEvent, Event
from contracts.catalog import ProgramPublished
from contracts.orders import AgreementRecorded, OrderAccepted, OrderCancelled, OrderPlaced
from contracts.supply import OrderDelivered
from services.catalog.presets import CHONGQING_STENTS_2023
from services.monitoring.app import create_app
from services.monitoring.domain.reports import Month
from services.monitoring.rebuild import rebuild
from services.monitoring.reports import month_report
from services.runtime.auth import mint_token
from services.runtime.clock import SHANGHAI, FixedClock
from services.runtime.db import make_engine, processed_events
from services.runtime.envelope import encode
from services.runtime.kafka import ensure_topics
from services.runtime.settings import Settings

REGION = "重庆市"
PROGRAM = "CQ-BENCH"
PRODUCTS = 4
ENTERPRISES = 4
DISTRIBUTORS = 20
PRICE = Decimal("730.00")
START = datetime(2025, 1, 1, tzinfo=SHANGHAI)
MONTH = "2025-03"


def events(n: int, institutions: int) -> list[Event]:
    """A program, agreements for every institution × product, then orders: each placed order
    is delivered and accepted (4 of 5) or cancelled (1 of 5); events in Feb–Apr 2025."""
    out: list[Event] = [ProgramPublished(
        program_id=PROGRAM, category="冠脉支架", region=REGION, notice_no="bench",
        organiser="national", execution_start=START, cycle_years=3,
        profile=CHONGQING_STENTS_2023, published_by="bench")]
    year_end = START.replace(year=2026)
    for h in range(institutions):
        for p in range(PRODUCTS):
            out.append(AgreementRecorded(
                agreement_id=f"A-{h:05d}-{p}", program_id=PROGRAM, agreement_year=1,
                year_start=START, year_end=year_end, institution_id=f"H-{h:05d}",
                institution_type="public", enterprise_id=f"E-{p % ENTERPRISES}",
                registration_no=f"国械注准2016000000{p}", listing_id=f"L-{p}", units=120,
                winning_price=PRICE, amount=PRICE * 120, recorded_by="bench",
                recorded_at=START, reason="import"))
    i = 0
    day0 = START + timedelta(days=31)
    while len(out) < n:
        h, p = i % institutions, i % PRODUCTS
        at = day0 + timedelta(minutes=(i * 37) % (89 * 24 * 60))
        oid = f"O-{i:08d}"
        units = 1 + i % 5
        out.append(OrderPlaced(
            order_id=oid, program_id=PROGRAM, institution_id=f"H-{h:05d}", region=REGION,
            listing_id=f"L-{p}", registration_no=f"国械注准2016000000{p}",
            enterprise_id=f"E-{p % ENTERPRISES}", units=units, unit_price=PRICE,
            amount=PRICE * units, order_class="within_agreement", placed_by="bench",
            placed_at=at))
        if i % 5 == 4:
            out.append(OrderCancelled(order_id=oid, institution_id=f"H-{h:05d}",
                                      reason="bench", cancelled_by="bench",
                                      cancelled_at=at + timedelta(hours=1)))
        else:
            hours = 10 + i % 90
            out.append(OrderDelivered(
                order_id=oid, distributor_id=f"D-{i % DISTRIBUTORS:02d}",
                enterprise_id=f"E-{p % ENTERPRISES}", units=units,
                delivered_at=at + timedelta(hours=hours), delivery_seconds=hours * 3600,
                recorded_by="bench"))
            out.append(OrderAccepted(
                order_id=oid, program_id=PROGRAM, institution_id=f"H-{h:05d}",
                enterprise_id=f"E-{p % ENTERPRISES}", listing_id=f"L-{p}",
                registration_no=f"国械注准2016000000{p}", distributor_id=f"D-{i % 20:02d}",
                accepted_units=units, unit_price=PRICE, amount=PRICE * units,
                accepted_by="bench", accepted_at=at + timedelta(hours=hours + 2)))
        i += 1
    return out[:n]


async def produce(bootstrap: str, evs: list[Event]) -> float:
    await ensure_topics(bootstrap, sorted({e.TOPIC for e in evs}))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True,
                                linger_ms=20, max_batch_size=512 * 1024)
    await producer.start()
    started = time.perf_counter()
    try:
        futures = []
        for event in evs:
            key, value, hdrs = encode(CloudEvent.of(event, source="/vbp/bench",
                                                    time=START))
            futures.append(await producer.send(event.TOPIC, value=value, key=key,
                                               headers=hdrs))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return time.perf_counter() - started


async def applied(engine: Any) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(processed_events)) or 0)


async def run(args: argparse.Namespace) -> None:
    n = int(args.events * args.scale)
    institutions = args.institutions
    evs = events(n, institutions)
    print(f"monitoring bench: {len(evs):,} events, {institutions:,} institutions × "
          f"{PRODUCTS} products, region {REGION}; {load()}")
    with infrastructure() as infra:
        url = infra.postgres.create_database("bench_monitoring")
        seconds = await produce(infra.bootstrap, evs)
        print(f"  produced to Kafka in {seconds:.1f} s")
        settings = Settings.for_service(
            "monitoring", database_url=url, kafka_bootstrap_servers=infra.bootstrap,
            jwt_secret=SECRET, log_level="WARNING", consumer_batch_size=args.batch)
        app = create_app(settings, clock=FixedClock(START.replace(month=4, day=2)))
        engine = make_engine(url)
        started = time.perf_counter()
        async with app.router.lifespan_context(app):
            up = time.perf_counter() - started
            first, cpu = time.perf_counter(), time.process_time()
            profiler = cProfile.Profile() if args.profile else None
            if profiler is not None:
                profiler.enable()
            while (done := await applied(engine)) < len(evs):
                if time.perf_counter() - first > args.timeout:
                    raise RuntimeError(f"stuck at {done:,} of {len(evs):,} events")
                await asyncio.sleep(0.2)
            took, cpu = time.perf_counter() - first, time.process_time() - cpu
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(args.profile)
            print(f"1. read models: {len(evs):,} events applied in {took:.1f} s after start-up "
                  f"({up:.1f} s): {len(evs) / took:,.0f} events/s (target: keep up with "
                  f"3,000/s); service CPU {cpu:.1f} s = {cpu / len(evs) * 1e3:.2f} ms/event; "
                  f"{load()}")
            token = mint_token(SECRET, role="operator", org="OPS")
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://m",
                                         timeout=120) as client:
                times = []
                cpu = time.process_time()
                for _ in range(5):
                    t0 = time.perf_counter()
                    r = await client.get(f"/v1/reports/monthly/{MONTH}",
                                         params={"region": REGION},
                                         headers={"Authorization": f"Bearer {token}"})
                    times.append(time.perf_counter() - t0)
                    assert r.status_code == 200, r.text
                cpu = time.process_time() - cpu
                lines = len(r.json()["lines"])
            print(f"2. report {MONTH} for {REGION} ({institutions:,} institutions, {lines:,} "
                  f"lines): median {statistics.median(times):.2f} s, max {max(times):.2f} s "
                  f"(target: under 2 s for 5,000 institutions); service CPU "
                  f"{cpu / len(times):.2f} s per report; {load()}")
            if args.explain:
                await explain(engine)
            cpu = time.process_time()
            result = await rebuild(engine, infra.bootstrap)
            cpu = time.process_time() - cpu
            rate = result.events / result.seconds
            print(f"3. rebuild: {result.events:,} events in {result.seconds:.1f} s "
                  f"({rate:,.0f} events/s; CPU {cpu / result.events * 1e3:.2f} ms/event); at "
                  f"that rate 10,000,000 events would take {10_000_000 / rate / 60:.0f} min "
                  f"(extrapolated; target under 10 min); {load()}")
        await engine.dispose()


async def explain(engine: Any) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of the report's statement (the one with GROUPING SETS)."""
    seen: list[tuple[str, Any]] = []

    def grab(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
             executemany: bool) -> None:
        if "GROUPING SETS" in statement:
            seen.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", grab)
    try:
        async with engine.connect() as conn:
            await month_report(conn, Month.parse(MONTH), START, region=REGION)
            statement, parameters = seen[-1]
            plan = await conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement,
                                              parameters)
            print("\n".join(row[0] for row in plan))
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", grab)


def load() -> str:
    return "load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--institutions", type=int, default=5_000)
    parser.add_argument("--batch", type=int, default=1000, help="consumer chunk size")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--explain", action="store_true",
                        help="print EXPLAIN ANALYZE of the report's statement")
    parser.add_argument("--profile", metavar="FILE",
                        help="cProfile the read models' catch-up (step 1) into FILE")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
