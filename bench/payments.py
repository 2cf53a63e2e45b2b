"""Payments benchmark: acceptances into payables and ledger transfers, the overdue scan, and
reconcile.

    .venv/bin/python bench/payments.py [--scale 0.05] [--batch 1000] [--transfers-scale 1]
                                       [--profile FILE]

Starts its own throwaway Kafka broker and PostgreSQL (bench.common, as the tests do), runs the
payments service in-process (its real lifespan: migrations, outbox relay, consumers; the
scheduler is driven by a clock set far in the past so it flags nothing until asked), and
prints:

1. acceptances: ``1,000,000 × scale`` ``OrderAccepted`` events are put on the orders topic,
   then the service is started; measured from start-up until every payable is opened, its
   ledger transfer posted and its ``PayableOpened`` published on Kafka (target: 1,000,000 in
   under 2 minutes).
2. overdue scan: the clock moves past every deadline and the scheduler's payables job runs
   once over the open payables (flag, one ``PayableOverdue`` each into the outbox; target:
   1,000,000 in under 10 s).
3. reconcile: ``10,000,000 × scale`` transfers (the acceptances' plus generated ones between
   10,000 accounts, with consistent balances) are recomputed and compared (target: 10,000,000
   in under 2 minutes).

PostgreSQL runs as in the tests (fsync off). Besides wall-clock times it prints the service
process's CPU seconds, which a shared, busy machine inflates less.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import logging
import sys
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiokafka import AIOKafkaProducer
from sqlalchemy import func, select, text

from bench.common import SECRET, infrastructure
from contracts.base import CloudEvent
from contracts.catalog import ProgramPublished
from contracts.orders import ORDERS_TOPIC, OrderAccepted
from services.catalog.presets import PRESETS
from services.payments import overdue, store
from services.payments.app import create_app
from services.payments.reconcile import reconcile
from services.runtime.clock import SHANGHAI, FixedClock
from services.runtime.db import make_engine, outbox
from services.runtime.envelope import encode
from services.runtime.kafka import ensure_topics
from services.runtime.settings import Settings

PROGRAM = "CQ-BENCH"
INSTITUTIONS = 2_000
ENTERPRISES = 50


def acceptances(n: int) -> list[OrderAccepted]:
    prefix = uuid.uuid4().hex[:6]
    base = datetime(2023, 3, 1, tzinfo=SHANGHAI).timestamp()
    return [OrderAccepted(
        order_id=f"{prefix}-{i}", program_id=PROGRAM, institution_id=f"H{i % INSTITUTIONS}",
        enterprise_id=f"E{i % ENTERPRISES}", listing_id="L1", registration_no="REG",
        accepted_units=1 + i % 5, unit_price=Decimal("730.00"),
        amount=Decimal("730.00") * (1 + i % 5), accepted_by="institution:H/x",
        accepted_at=datetime.fromtimestamp(base + (i % 300) * 86_400, UTC))
        for i in range(n)]


async def produce(bootstrap: str, events: list[Any]) -> float:
    await ensure_topics(bootstrap, [ORDERS_TOPIC, "vbp.catalog.programs.v1"])
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True,
                                linger_ms=20, max_batch_size=1_000_000)
    await producer.start()
    started = time.perf_counter()
    try:
        pending = []
        for event in events:
            key, value, headers = encode(CloudEvent.of(event, source="/vbp/bench",
                                                       time=datetime.now(UTC)))
            pending.append(await producer.send(event.TOPIC, value=value, key=key,
                                               headers=headers))
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return time.perf_counter() - started


async def wait_for(engine: Any, query: Any, target: int, what: str,
                   timeout: float = 1800) -> None:
    deadline = time.perf_counter() + timeout
    last = -1
    while time.perf_counter() < deadline:
        async with engine.connect() as conn:
            count = int(await conn.scalar(query) or 0)
        if count >= target:
            return
        if count != last:
            last = count
        await asyncio.sleep(0.5)
    raise SystemExit(f"timed out waiting for {what}: {last} of {target}")


GENERATE = text("""
INSERT INTO transfers (id, debit_account, credit_account, amount, code, posted_at)
SELECT 'g' || g, 'purchases:G' || (g % 10000), 'cash:G' || ((g * 7) % 10000),
       1 + g % 100000, 'bench', now()
FROM generate_series(1, :n) AS g
""")
ACCOUNTS = text("""
INSERT INTO accounts (id, debits_posted, credits_posted, limit_kind)
SELECT id, sum(d), sum(c), NULL FROM (
    SELECT debit_account AS id, amount AS d, 0 AS c FROM transfers WHERE code = 'bench'
    UNION ALL
    SELECT credit_account, 0, amount FROM transfers WHERE code = 'bench') m
GROUP BY id
ON CONFLICT (id) DO UPDATE SET debits_posted = accounts.debits_posted + excluded.debits_posted,
                              credits_posted = accounts.credits_posted + excluded.credits_posted
""")


async def run(args: argparse.Namespace, bootstrap: str, database_url: str) -> dict[str, Any]:
    n = int(1_000_000 * args.scale)
    n_transfers = int(10_000_000 * (args.scale if args.transfers_scale is None
                                    else args.transfers_scale))
    results: dict[str, Any] = {"acceptances": n, "transfers_target": n_transfers,
                               "consumer_batch_size": args.batch}
    settings = Settings.for_service(
        "payments", database_url=database_url, kafka_bootstrap_servers=bootstrap,
        jwt_secret=SECRET, log_level="WARNING", consumer_batch_size=args.batch)
    clock = FixedClock(datetime(2023, 1, 1, tzinfo=SHANGHAI))
    program = ProgramPublished(
        program_id=PROGRAM, category="stents", region="重庆", notice_no="N",
        organiser="national", execution_start=datetime(2023, 1, 31, tzinfo=SHANGHAI),
        cycle_years=3, profile=PRESETS["chongqing-stents-2023"], published_by="bench")
    events: list[Any] = [program, *acceptances(n)]
    results["produce_s"] = round(await produce(bootstrap, events), 1)
    print(f"  {n} OrderAccepted on {ORDERS_TOPIC} in {results['produce_s']} s", flush=True)

    engine = make_engine(database_url)
    app = create_app(settings, clock=clock)
    started = time.perf_counter()
    cpu = time.process_time()
    profile = cProfile.Profile(time.process_time) if args.profile else None
    async with app.router.lifespan_context(app):
        results["startup_service_cpu_s"] = round(time.process_time() - cpu, 1)
        if profile is not None:
            profile.enable()
        await wait_for(engine, select(func.count()).select_from(store.payables), n, "payables")
        opened = time.perf_counter() - started
        await wait_for(engine, select(func.count()).select_from(outbox).where(
            outbox.c.published_at.is_not(None)), n, "PayableOpened published")
        published = time.perf_counter() - started
        results["acceptances_to_payables_s"] = round(opened, 1)
        results["acceptances_to_published_s"] = round(published, 1)
        results["acceptances_per_s"] = round(n / published)
        results["acceptances_service_cpu_s"] = round(time.process_time() - cpu, 1)
        results["acceptance_cpu_ms"] = round(
            (results["acceptances_service_cpu_s"] - results["startup_service_cpu_s"])
            / max(n, 1) * 1000, 3)
        if profile is not None:
            profile.disable()
            profile.dump_stats(args.profile)
        print(f"  acceptances: {n} payables + transfers in {opened:.1f} s, all PayableOpened "
              f"published in {published:.1f} s ({n / published:.0f}/s, incl. start-up); "
              f"service CPU {results['acceptances_service_cpu_s']} s "
              f"({results['startup_service_cpu_s']} s of it start-up; "
              f"{results['acceptance_cpu_ms']} ms per acceptance after it)", flush=True)

        runtime = app.state.runtime
        t = time.perf_counter()
        cpu = time.process_time()
        flagged = await overdue.scan_payables(runtime.uow, datetime(2030, 1, 1, tzinfo=UTC))
        scan = time.perf_counter() - t
        results["overdue_scan_s"] = round(scan, 2)
        results["overdue_scan_service_cpu_s"] = round(time.process_time() - cpu, 2)
        results["overdue_flagged"] = flagged
        print(f"  overdue scan: {flagged} of {n} open payables flagged in {scan:.2f} s",
              flush=True)

    async with engine.begin() as conn:
        existing = int(await conn.scalar(select(func.count()).select_from(store.transfers)))
        t = time.perf_counter()
        extra = max(n_transfers - existing, 0)
        if extra:
            await conn.execute(GENERATE, {"n": extra})
            await conn.execute(ACCOUNTS)
        results["generate_s"] = round(time.perf_counter() - t, 1)
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM ANALYZE transfers"))
    t = time.perf_counter()
    report = await reconcile(engine)
    took = time.perf_counter() - t
    results["reconcile_transfers"] = report.transfers
    results["reconcile_s"] = round(took, 1)
    results["reconcile_ok"] = report.ok
    print(f"  reconcile: {report.transfers} transfers, {report.accounts} accounts in "
          f"{took:.1f} s: {'OK' if report.ok else 'NOT RECONCILED'}", flush=True)
    await engine.dispose()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.05,
                        help="fraction of the issue's sizes (1 = 1,000,000 acceptances and "
                        "10,000,000 transfers)")
    parser.add_argument("--batch", type=int, default=1000,
                        help="consumer chunk size (VBP_CONSUMER_BATCH_SIZE)")
    parser.add_argument("--transfers-scale", type=float, default=None,
                        help="fraction of 10,000,000 transfers for reconcile (default: --scale);"
                        " e.g. --scale 0 --transfers-scale 1 runs reconcile alone at full size")
    parser.add_argument("--profile", metavar="FILE",
                        help="write a cProfile of the service during the acceptances to FILE")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with infrastructure() as infra:
        url = infra.postgres.create_database(f"bench_{uuid.uuid4().hex[:8]}")
        results = asyncio.run(run(args, infra.bootstrap, url))
    print(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
