"""Payments benchmark: acceptances into payables and ledger transfers, the overdue scan, and
reconcile.

    .venv/bin/python bench/payments.py [--scale 0.05] [--batch 1000] [--transfers-scale 1]
                                       [--fund-rows 500,1000,5000] [--overdue N]
                                       [--profile FILE]

Starts its own throwaway Kafka broker and PostgreSQL (bench.common, as the tests do), runs the
payments service in-process (its real lifespan: migrations, outbox relay, consumers; the
scheduler is driven by a clock set far in the past so it flags nothing until asked), and
prints:

1. acceptances: ``1,000,000 × scale`` ``OrderAccepted`` events are put on the orders topic,
   then the service is started; measured from start-up until every payable is opened, its
   ledger transfer posted and its ``PayableOpened`` published on Kafka (target: 1,000,000 in
   under 2 minutes).
2. fund payments (R-PAY-4): institutions with prepayments to offset (written in SQL), then
   ``POST /v1/fund-payments`` of ``--fund-rows`` rows each, the largest also as a CSV and an
   XLSX file, and again as a no-op re-submission: rows/s and service CPU per row.
3. overdue scan: ``--overdue N`` more open payables are written straight into the tables
   (faster than through acceptances; say ``--scale 0 --overdue 1000000``), then the clock
   moves past every deadline and the scheduler's payables job runs
   once over the open payables (flag, and into the outbox in ``PayablesOverdue`` events of up
   to 500 payables of a program; target: 1,000,000 in under 10 s), then waits until the relay
   has put every one of those events on Kafka.
4. reconcile: ``10,000,000 × scale`` transfers (the acceptances' plus generated ones between
   10,000 accounts, with consistent balances) are recomputed and compared (target: 10,000,000
   in under 2 minutes).

PostgreSQL runs as in the tests (fsync off). Besides wall-clock times it prints the service
process's CPU seconds, which a shared, busy machine inflates less.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import csv
import io
import logging
import os
import sys
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import openpyxl
from aiokafka import AIOKafkaProducer
from sqlalchemy import func, select, text

from bench.common import SECRET, infrastructure
from contracts.base import CloudEvent
from contracts.catalog import ProgramPublished
from contracts.orders import ORDERS_TOPIC, OrderAccepted
from contracts.payments import PayablesOverdue
from services.catalog.presets import PRESETS
from services.payments import fund_payments, overdue, store
from services.payments.app import create_app
from services.payments.reconcile import reconcile
from services.runtime.auth import mint_token
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


def database_cpu(pgdata: Path) -> float:
    """CPU seconds used so far by the PostgreSQL server's processes (the postmaster and its
    children, from /proc): the database's share, which the service's own CPU does not show."""
    try:
        master = int((pgdata / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError):
        return 0.0
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry.name) == master or int(fields[1]) == master:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


# --- fund payments (R-PAY-4) --------------------------------------------------------------------

REGION = "重庆"
FUND_SCHEDULES = text("""
WITH s AS (
    INSERT INTO schedules (schedule_id, program_id, agreement_year, institution_id, agency_id,
                           year_start, offset_from, amount, version, updated_at)
    SELECT 'FB:' || g, :program, 1, 'F' || g, :region, :year_start, :offset_from, :amount, 1,
           now()
    FROM generate_series(0, :n - 1) AS g
), t AS (
    INSERT INTO transfers (id, debit_account, credit_account, amount, code, posted_at)
    SELECT 'fb' || g, 'prepay:' || :program || ':1:F' || g, 'fund:' || :region, :amount,
           'prepaid', now()
    FROM generate_series(0, :n - 1) AS g
), a AS (
    INSERT INTO accounts (id, debits_posted, credits_posted, limit_kind)
    SELECT 'prepay:' || :program || ':1:F' || g, :amount, 0, 'credits_must_not_exceed_debits'
    FROM generate_series(0, :n - 1) AS g
)
INSERT INTO accounts (id, debits_posted, credits_posted, limit_kind)
VALUES ('fund:' || :region, 0, :amount * :n, NULL)
ON CONFLICT (id) DO UPDATE SET credits_posted = accounts.credits_posted + excluded.credits_posted
""")
"""Institutions ``F0``… each with a prepayment of 15,000.00 disbursed (a schedule, its
transfer and accounts, consistent for reconcile), to be offset from February 2024."""


def fund_rows(n: int, month: str) -> list[dict[str, str]]:
    return [{"institution_id": f"F{i}", "month": f"{month}-01", "amount": "10000.00"}
            for i in range(n)]


def as_csv(rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["institution_id", "month", "amount"])
    writer.writerows([r["institution_id"], r["month"], r["amount"]] for r in rows)
    return out.getvalue().encode()


def as_xlsx(rows: list[dict[str, str]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["医疗机构编码", "月份", "金额"])
    for r in rows:
        sheet.append([r["institution_id"], r["month"], r["amount"]])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def bench_fund_payments(app: Any, engine: Any, sizes: list[int], pgdata: Path
                              ) -> dict[str, Any]:
    """``POST /v1/fund-payments`` of each size, then the largest as a CSV and as an XLSX file
    (``/v1/fund-payments/import``) and again as JSON (a no-op re-submission); each a new month
    of the same institutions, every row offsetting a prepayment until it is used up."""
    results: dict[str, Any] = {}
    largest = max(sizes)
    async with engine.begin() as conn:
        await conn.execute(FUND_SCHEDULES, {
            "program": PROGRAM, "region": REGION, "n": largest, "amount": 1_500_000,
            "year_start": datetime(2023, 1, 31, tzinfo=SHANGHAI),
            "offset_from": datetime(2024, 2, 1, tzinfo=SHANGHAI)})
    token = mint_token(SECRET, role="agency", org=REGION)
    months = iter(f"2024-{m:02d}" for m in range(2, 13))
    runs: list[tuple[str, int, str, str, bytes | None]] = [
        (f"json {n}", n, next(months), "application/json", None) for n in sizes]
    file_month = next(months)
    rows = fund_rows(largest, file_month)
    runs.append((f"csv {largest}", largest, file_month, "text/csv", as_csv(rows)))
    rows = fund_rows(largest, next(months))
    runs.append((f"xlsx {largest}", largest, rows[0]["month"][:7], fund_payments.XLSX,
                 as_xlsx(rows)))
    runs.append((f"json {largest} again (no-op)", largest, file_month, "application/json",
                 None))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://payments",
                                 timeout=600) as client:
        for name, n, month, kind, body in runs:
            headers = {"Authorization": f"Bearer {token}",
                       "Idempotency-Key": uuid.uuid4().hex}
            t, cpu, db_cpu = time.perf_counter(), time.process_time(), database_cpu(pgdata)
            if body is None:
                r = await client.post("/v1/fund-payments",
                                      json={"payments": fund_rows(n, month)}, headers=headers)
            else:
                r = await client.post("/v1/fund-payments/import", content=body,
                                      headers={**headers, "Content-Type": kind})
            took, used = time.perf_counter() - t, time.process_time() - cpu
            db_used = database_cpu(pgdata) - db_cpu
            if r.status_code != 201:
                raise SystemExit(f"fund payments {name}: {r.status_code} {r.text[:500]}")
            results[f"fund_{name}"] = {"s": round(took, 2), "rows_per_s": round(n / took),
                                       "cpu_ms_per_row": round(used / n * 1000, 3),
                                       "db_cpu_ms_per_row": round(db_used / n * 1000, 3)}
            print(f"  fund payments, {name} rows ({month}): {took:.2f} s, {n / took:.0f} "
                  f"rows/s; CPU per row: service {used / n * 1000:.3f} ms, database "
                  f"{db_used / n * 1000:.3f} ms", flush=True)
    return results


# --- the overdue scan (R-PAY-1) -----------------------------------------------------------------

OPEN_PAYABLES = text("""
WITH p AS (
    INSERT INTO payables (payable_id, program_id, region, institution_id, enterprise_id,
                          distributor_id, payer, payer_id, amount, paid, accepted_at, due_at,
                          status)
    SELECT 'OB-' || g, :program, :region, 'H' || (g % 2000), 'E' || (g % 50), NULL,
           'institution', 'H' || (g % 2000), 73000 * (1 + g % 5), 0, :accepted_at,
           CAST(:due_at AS timestamptz) + make_interval(secs => g % 86400), 'open'
    FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS g
)
INSERT INTO payable_deadlines (payable_id, due_at)
SELECT 'OB-' || g, CAST(:due_at AS timestamptz) + make_interval(secs => g % 86400)
FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS g
""")
"""Open payables written straight into the tables (as the acceptances would open them, without
their ledger transfers: the scan reads neither), for an overdue scan larger than the
acceptances run."""


async def run(args: argparse.Namespace, bootstrap: str, database_url: str,
              pgdata: Path) -> dict[str, Any]:
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
    db_cpu = database_cpu(pgdata)
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
        results["acceptance_db_cpu_ms"] = round(
            (database_cpu(pgdata) - db_cpu) / n * 1000, 3) if n else 0.0
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
              f"{results['acceptance_cpu_ms']} ms per acceptance after it; database CPU "
              f"{results['acceptance_db_cpu_ms']} ms per acceptance)", flush=True)

        if args.fund_rows:
            results.update(await bench_fund_payments(
                app, engine, [int(x) for x in args.fund_rows.split(",")], pgdata))
        generated = 0
        if args.overdue:
            t = time.perf_counter()
            step = 250_000
            for first in range(0, args.overdue, step):
                async with engine.begin() as conn:
                    await conn.execute(OPEN_PAYABLES, {
                        "program": PROGRAM, "region": REGION, "first": first,
                        "last": min(first + step, args.overdue) - 1,
                        "accepted_at": datetime(2023, 3, 1, tzinfo=SHANGHAI),
                        "due_at": datetime(2023, 5, 1, tzinfo=SHANGHAI)})
            generated = args.overdue
            async with engine.connect() as conn:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text("VACUUM ANALYZE payables"))
                await conn.execute(text("VACUUM ANALYZE payable_deadlines"))
            print(f"  {generated} more open payables written directly in SQL (not through "
                  f"acceptances) in {time.perf_counter() - t:.1f} s", flush=True)
        results["overdue_generated_in_sql"] = generated

        runtime = app.state.runtime
        t = time.perf_counter()
        cpu = time.process_time()
        db_cpu = database_cpu(pgdata)
        flagged = await overdue.scan_payables(runtime.uow, datetime(2030, 1, 1, tzinfo=UTC))
        scan = time.perf_counter() - t
        results["overdue_scan_s"] = round(scan, 2)
        results["overdue_scan_service_cpu_s"] = round(time.process_time() - cpu, 2)
        results["overdue_flagged"] = flagged
        results["overdue_scan_db_cpu_s"] = round(database_cpu(pgdata) - db_cpu, 2)
        print(f"  overdue scan: {flagged} of {n + generated} open payables flagged in "
              f"{scan:.2f} s (database CPU {results['overdue_scan_db_cpu_s']} s, service CPU "
              f"{results['overdue_scan_service_cpu_s']} s: the relay publishing meanwhile)",
              flush=True)
        batches = outbox.c.ce_type == PayablesOverdue.TYPE
        async with engine.connect() as conn:
            row = (await conn.execute(select(
                func.count(), func.max(func.octet_length(outbox.c.payload))).where(batches))).one()
        batched, largest = int(row[0]), int(row[1] or 0)
        await wait_for(engine, select(func.count()).select_from(outbox).where(
            batches, outbox.c.published_at.is_not(None)), batched, "PayablesOverdue published")
        results["overdue_events"] = batched
        results["overdue_event_largest_bytes"] = largest
        results["overdue_scan_to_kafka_s"] = round(time.perf_counter() - t, 2)
        print(f"  {batched} PayablesOverdue events (the largest {largest:,} bytes), all on "
              f"Kafka {results['overdue_scan_to_kafka_s']} s after the scan began", flush=True)

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
    parser.add_argument("--fund-rows", default="500,1000,5000",
                        help="sizes of the POST /v1/fund-payments runs (the largest also as "
                        "CSV and XLSX files); empty to skip")
    parser.add_argument("--overdue", type=int, default=0, metavar="N",
                        help="open payables written directly in SQL before the overdue scan, "
                        "besides the acceptances' (e.g. --scale 0 --overdue 1000000)")
    parser.add_argument("--profile", metavar="FILE",
                        help="write a cProfile of the service during the acceptances to FILE")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with infrastructure() as infra:
        url = infra.postgres.create_database(f"bench_{uuid.uuid4().hex[:8]}")
        results = asyncio.run(run(args, infra.bootstrap, url, infra.postgres.pgdata))
    print(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
