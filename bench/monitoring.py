"""Monitoring benchmark: read-model throughput, a month's report for a large region, rebuild.

    .venv/bin/python bench/monitoring.py [--scale 1.0] [--events 300000] [--institutions 5000]
        [--batch 1000]

Starts its own throwaway Kafka broker and PostgreSQL (services.devstack, as the tests do) and
runs the monitoring service in-process (its real lifespan: migrations, relay, consumers).

1. ``--events × scale`` events of mixed types (one program; an agreement per institution ×
   product; orders placed, delivered, accepted, some cancelled) over ``--institutions``
   institutions of one region (not scaled: the report's target is for 5,000) are put on the
   catalog, orders and supply topics *before* the service starts (generated as they are
   produced, with librdkafka: millions are not held in memory); measured: from start-up
   until every event is applied (``processed_events`` rows), as events per second — the rate
   at which the read models catch up (target: keep up with 3,000 events/s), and the CPU
   seconds of this process (the service runs in it) per event.
2. The month's report for the region (every dimension), through the HTTP route: median of 5
   (target: under 2 s for 5,000 institutions).
3. ``vbp monitoring rebuild`` over the same topics (``--workers`` processes): seconds, events
   per second, and the time that rate gives for 10,000,000 events (target: under 10 minutes)
   — an extrapolation, said so.

Every figure is printed with the load average at the time (the machine is shared), and with
the CPU seconds it cost: this process's (the service runs in it; the rebuild's worker
processes are its children) and PostgreSQL's (every server process of the throwaway
cluster), per event — steadier than wall time on a loaded machine. On an idle machine of
``os.cpu_count()`` cores the rate cannot exceed cores / (CPU per event, all processes).
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
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import islice
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from confluent_kafka import Producer
from sqlalchemy import event, func, select

from bench.common import SECRET, infrastructure
from contracts.base import CloudEvent, Event
from contracts.catalog import ProgramPublished
from contracts.orders import AgreementRecorded, OrderAccepted, OrderCancelled, OrderPlaced
from contracts.supply import OrderDelivered
from services.catalog.presets import CHONGQING_STENTS_2023
from services.monitoring.app import create_app
from services.monitoring.domain.reports import Month
from services.monitoring.rebuild import TOPICS, WORKERS, rebuild
from services.monitoring.reports import month_report
from services.runtime.auth import mint_token
from services.runtime.clock import SHANGHAI, FixedClock
from services.runtime.db import make_engine, processed_events
from services.runtime.envelope import encode
from services.runtime.kafka import ensure_topics
from services.runtime.migrate import upgrade
from services.runtime.settings import Settings

MIGRATIONS = Path(__file__).resolve().parents[1] / "services" / "monitoring" / "migrations"
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
    return list(generate(n, institutions))


def generate(n: int, institutions: int) -> Iterator[Event]:
    """``events``' ``n`` events one at a time (millions are not held in memory)."""
    return islice(_generate(institutions), n)


def _generate(institutions: int) -> Iterator[Event]:
    yield ProgramPublished(
        program_id=PROGRAM, category="冠脉支架", region=REGION, notice_no="bench",
        organiser="national", execution_start=START, cycle_years=3,
        profile=CHONGQING_STENTS_2023, published_by="bench")
    year_end = START.replace(year=2026)
    for h in range(institutions):
        for p in range(PRODUCTS):
            yield AgreementRecorded(
                agreement_id=f"A-{h:05d}-{p}", program_id=PROGRAM, agreement_year=1,
                year_start=START, year_end=year_end, institution_id=f"H-{h:05d}",
                institution_type="public", enterprise_id=f"E-{p % ENTERPRISES}",
                registration_no=f"国械注准2016000000{p}", listing_id=f"L-{p}", units=120,
                winning_price=PRICE, amount=PRICE * 120, recorded_by="bench",
                recorded_at=START, reason="import")
    i = 0
    day0 = START + timedelta(days=31)
    while True:
        h, p = i % institutions, i % PRODUCTS
        at = day0 + timedelta(minutes=(i * 37) % (89 * 24 * 60))
        oid = f"O-{i:08d}"
        units = 1 + i % 5
        yield OrderPlaced(
            order_id=oid, program_id=PROGRAM, institution_id=f"H-{h:05d}", region=REGION,
            listing_id=f"L-{p}", registration_no=f"国械注准2016000000{p}",
            enterprise_id=f"E-{p % ENTERPRISES}", units=units, unit_price=PRICE,
            amount=PRICE * units, order_class="within_agreement", placed_by="bench",
            placed_at=at)
        if i % 5 == 4:
            yield OrderCancelled(order_id=oid, institution_id=f"H-{h:05d}",
                                 reason="bench", cancelled_by="bench",
                                 cancelled_at=at + timedelta(hours=1))
        else:
            hours = 10 + i % 90
            yield OrderDelivered(
                order_id=oid, distributor_id=f"D-{i % DISTRIBUTORS:02d}",
                enterprise_id=f"E-{p % ENTERPRISES}", units=units,
                delivered_at=at + timedelta(hours=hours), delivery_seconds=hours * 3600,
                recorded_by="bench")
            yield OrderAccepted(
                order_id=oid, program_id=PROGRAM, institution_id=f"H-{h:05d}",
                enterprise_id=f"E-{p % ENTERPRISES}", listing_id=f"L-{p}",
                registration_no=f"国械注准2016000000{p}", distributor_id=f"D-{i % 20:02d}",
                accepted_units=units, unit_price=PRICE, amount=PRICE * units,
                accepted_by="bench", accepted_at=at + timedelta(hours=hours + 2))
        i += 1


async def produce(bootstrap: str, evs: Iterable[Event]) -> tuple[int, float]:
    """The events on their topics (librdkafka's producer, idempotent, in large batches; the
    events generated as they are sent): how many, and the seconds it took."""
    await ensure_topics(bootstrap, TOPICS)
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                         "linger.ms": 50, "batch.size": 1024 * 1024,
                         "compression.type": "none", "partitioner": "murmur2_random",
                         "queue.buffering.max.messages": 1_000_000})
    started = time.perf_counter()
    failed: list[str] = []

    def delivered(error: Any, _message: Any) -> None:
        if error is not None:
            failed.append(str(error))

    count = 0
    for ev in evs:
        key, value, hdrs = encode(CloudEvent.of(ev, source="/vbp/bench", time=START))
        while True:
            try:
                producer.produce(ev.TOPIC, value=value, key=key, headers=list[Any](hdrs),
                                 on_delivery=delivered)
                break
            except BufferError:  # the local queue is full: let it drain
                producer.poll(0.1)
        count += 1
        if count % 10_000 == 0:
            producer.poll(0)
    if producer.flush(600) or failed:
        raise RuntimeError(f"producing failed: {failed[:3]}")
    return count, time.perf_counter() - started


def _cpu(pid: int, children: bool = False) -> float:
    """CPU seconds of a process (and of its children waited for)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def postgres_cpu(infra: Any) -> float:
    """CPU seconds of the throwaway PostgreSQL: its postmaster, the server processes running
    and those ended (waited for by the postmaster)."""
    master = int((infra.postgres.pgdata / "postmaster.pid").read_text().split()[0])
    total = _cpu(master, children=True)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
            if parent == master:
                total += _cpu(int(entry))
        except (OSError, ValueError, IndexError):
            continue  # ended meanwhile
    return total


def kafka_cpu(infra: Any) -> float:
    """CPU seconds of the throwaway Kafka broker (the JVM whose command line names the
    infrastructure's directory)."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                command = f.read()
            if b"java" in command and str(infra.root).encode() in command:
                total += _cpu(int(entry))
        except (OSError, ValueError, IndexError):
            continue
    return total


def own_cpu() -> float:
    """CPU seconds of this process and of its children waited for (rebuild workers)."""
    return _cpu(os.getpid(), children=True)


async def applied(engine: Any) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(processed_events)) or 0)


async def run(args: argparse.Namespace) -> None:
    n = int(args.events * args.scale)
    institutions = args.institutions
    print(f"monitoring bench: {n:,} events, {institutions:,} institutions × "
          f"{PRODUCTS} products, region {REGION}; {load()}")
    with infrastructure() as infra:
        url = infra.postgres.create_database("bench_monitoring")
        count, seconds = await produce(infra.bootstrap, generate(n, institutions))
        print(f"  produced to Kafka in {seconds:.1f} s ({count / seconds:,.0f} events/s)")
        settings = Settings.for_service(
            "monitoring", database_url=url, kafka_bootstrap_servers=infra.bootstrap,
            jwt_secret=SECRET, log_level="WARNING", consumer_batch_size=args.batch)
        app = create_app(settings, clock=FixedClock(START.replace(month=4, day=2)))
        engine = make_engine(url)
        if args.rebuild_only:  # the read models' tables, no consumers: the rebuild alone
            await upgrade(engine, MIGRATIONS)
            await measure_rebuild(args, infra, engine)
            await engine.dispose()
            return
        started = time.perf_counter()
        async with app.router.lifespan_context(app):
            up = time.perf_counter() - started
            first, cpu, pg = time.perf_counter(), time.process_time(), postgres_cpu(infra)
            profiler = cProfile.Profile() if args.profile else None
            if profiler is not None:
                profiler.enable()
            while (done := await applied(engine)) < count:
                if time.perf_counter() - first > args.timeout:
                    raise RuntimeError(f"stuck at {done:,} of {count:,} events")
                await asyncio.sleep(0.2)
            took, cpu = time.perf_counter() - first, time.process_time() - cpu
            pg = postgres_cpu(infra) - pg
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(args.profile)
            print(f"1. read models: {count:,} events applied in {took:.1f} s after start-up "
                  f"({up:.1f} s): {count / took:,.0f} events/s (target: keep up with "
                  f"3,000/s); service CPU {cpu:.1f} s = {cpu / count * 1e3:.3f} ms/event, "
                  f"PostgreSQL CPU {pg:.1f} s = {pg / count * 1e3:.3f} ms/event; {load()}")
            token = mint_token(SECRET, role="operator", org="OPS")
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://m",
                                         timeout=120) as client:
                times = []
                cpu, pg = time.process_time(), postgres_cpu(infra)
                for _ in range(5):
                    t0 = time.perf_counter()
                    r = await client.get(f"/v1/reports/monthly/{MONTH}",
                                         params={"region": REGION},
                                         headers={"Authorization": f"Bearer {token}"})
                    times.append(time.perf_counter() - t0)
                    assert r.status_code == 200, r.text
                cpu, pg = time.process_time() - cpu, postgres_cpu(infra) - pg
                lines = len(r.json()["lines"])
            print(f"2. report {MONTH} for {REGION} ({institutions:,} institutions, {lines:,} "
                  f"lines): median {statistics.median(times):.2f} s, max {max(times):.2f} s "
                  f"(target: under 2 s for 5,000 institutions); service CPU "
                  f"{cpu / len(times):.2f} s, PostgreSQL CPU {pg / len(times):.2f} s per report; "
                  f"{load()}")
            if args.explain:
                await explain(engine)
            await measure_rebuild(args, infra, engine)
        await engine.dispose()


async def measure_rebuild(args: argparse.Namespace, infra: Any, engine: Any) -> None:
    """Step 3: the rebuild, its rate overall and in its steady part (from the first fetch
    applied to the last: without the workers' start-up and the indexes, fold and swap)."""
    seen: list[tuple[int, float]] = []
    cpu, pg, kafka = own_cpu(), postgres_cpu(infra), kafka_cpu(infra)
    result = await rebuild(engine, infra.bootstrap, workers=args.workers,
                           progress=lambda done, total, s: seen.append((done, s)))
    cpu, pg = own_cpu() - cpu, postgres_cpu(infra) - pg
    kafka = kafka_cpu(infra) - kafka
    rate = result.events / result.seconds
    steady = ((seen[-1][0] - seen[0][0]) / (seen[-1][1] - seen[0][1])
              if len(seen) > 1 and seen[-1][1] > seen[0][1] else rate)
    per_event = (cpu + pg) / result.events
    cores = os.cpu_count() or 1
    print(f"3. rebuild ({args.workers} worker processes): {result.events:,} events in "
          f"{result.seconds:.1f} s ({rate:,.0f} events/s overall, {steady:,.0f} events/s "
          f"replaying); CPU per event: bench and workers {cpu / result.events * 1e3:.3f} ms, "
          f"PostgreSQL {pg / result.events * 1e3:.3f} ms, Kafka broker "
          f"{kafka / result.events * 1e3:.3f} ms; at the replaying rate 10,000,000 "
          f"events would take {10_000_000 / steady / 60:.0f} min (extrapolated; target under "
          f"10 min); CPU-bound on an idle {cores}-core machine at best "
          f"{cores / per_event:,.0f} events/s = {10_000_000 * per_event / cores / 60:.0f} min "
          f"for 10 M (Kafka's CPU not counted; with it "
          f"{10_000_000 * (per_event + kafka / result.events) / cores / 60:.0f} min); "
          f"{load()}")


async def explain(engine: Any) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of the report's statements (those with GROUPING SETS: orders'
    activity, payments' outcomes, agreements)."""
    seen: list[tuple[str, Any]] = []

    def grab(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
             executemany: bool) -> None:
        if "GROUPING SETS" in statement:
            seen.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", grab)
    try:
        async with engine.connect() as conn:
            await month_report(conn, Month.parse(MONTH), START, region=REGION)
            for statement, parameters in list(seen):
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
    parser.add_argument("--rebuild-only", action="store_true",
                        help="step 3 alone (no live consumers: at 1,000,000 events and more)")
    parser.add_argument("--workers", type=int, default=WORKERS,
                        help="rebuild worker processes (default: %(default)s)")
    parser.add_argument("--explain", action="store_true",
                        help="print EXPLAIN ANALYZE of the report's statement")
    parser.add_argument("--profile", metavar="FILE",
                        help="cProfile the read models' catch-up (step 1) into FILE")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
