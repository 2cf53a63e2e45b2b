"""Orders benchmark: a 200,000-row agreement import, and placing orders at a fixed rate through
HTTP with the ``OrderPlaced`` events timed on Kafka.

    .venv/bin/python bench/orders.py [--rows 200000] [--rate 300[,…]] [--duration 30]
                                     [--xlsx] [--fsync] [--workers 1] [--split]
                                     [--no-vacuum]
                                     [--profile FILE]

Starts its own throwaway Kafka broker and PostgreSQL (services.devstack, as the tests do) on
127.0.0.1, runs the orders service as its own process (``vbp serve orders``: uvicorn, one
worker, its real lifespan with migrations, outbox relay and consumers) and feeds it catalog's
events (a program whose profile monitors pacing, the 14 Chongqing stent listings) through the
broker. Then:

1. agreement import: ``POST /v1/programs/{id}/agreements`` with a CSV of ``--rows`` rows (one
   transaction: parse, validate, agreements, history, outbox), timed at the client; then the
   time until every ``AgreementRecorded`` is on Kafka, with orders placed meanwhile (20/s for
   10 s) and the delay of their ``OrderPlaced`` while the import's events drain; then the same
   file again (a no-op).
   ``--xlsx`` also imports the same rows as XLSX (year 2).
2. orders: an open-loop generator (aiohttp, its own process: this one) fires
   ``POST /v1/orders`` at ``--rate`` per second for ``--duration`` seconds, each from one of
   2,000 institutions with its own token and a fresh Idempotency-Key, at the listing price;
   latency is measured from each request's *scheduled* start (so a slow server shows as
   latency, not as a lower rate). A Kafka consumer reads the orders topic meanwhile; for each
   order, the time from the HTTP response to the ``OrderPlaced`` record reaching the consumer
   is measured (and to the record's producer timestamp). Several rates (``--rate 100,200,300``)
   run one after the other. Between the imports and the orders, ``VACUUM ANALYZE``, a
   ``CHECKPOINT`` and ``sync`` (what autovacuum, PostgreSQL and the kernel soon do after a bulk
   load; ``--no-vacuum`` skips them). For each rate, the CPU
   time used per order by the service, PostgreSQL, Kafka and the load generator is printed
   (from /proc), to show where the machine's capacity goes.

The load generator's garbage collector is held off while it measures (a full collection of
its heap would show as server latency). PostgreSQL runs as in the tests (fsync off) unless
``--fsync``. ``--workers N`` runs uvicorn with N worker processes. ``--split`` runs the service
as two processes, as it can be deployed: HTTP only (``--role api``) and the outbox relay with
the consumers (``--role worker``), woken by PostgreSQL NOTIFY; their CPU is printed apart.
Everything is printed; nothing is kept.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.common import MachineSampler, open_loop, summary
from contracts.catalog import ProductListed, ProgramPublished
from contracts.identity import enterprise_id, listing_id
from contracts.orders import AGREEMENTS_TOPIC, ORDERS_TOPIC
from contracts.profiles import PacingPolicy
from services import launcher
from services.catalog.presets import PRESETS
from services.devstack.kafka import KafkaBroker, ensure_jars
from services.devstack.net import free_loopback_port
from services.devstack.postgres import PostgresCluster
from services.runtime.auth import mint_token
from services.runtime.clock import SHANGHAI
from services.runtime.envelope import encode
from services.runtime.kafka import ensure_topics, make_producer

SECRET = "bench-secret-0123456789abcdef0123456789"
ROOT = Path(__file__).resolve().parents[1]
WINNING = ROOT.parent / "shared" / "data" / "chongqing-stents-2023-winning.csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def bearer(role: str, org: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + mint_token(SECRET, role=role, org=org, ttl_s=6 * 3600)}


# --- setup ------------------------------------------------------------------------------------


async def seed_program(bootstrap: str, url: str) -> tuple[str, list[dict[str, Any]]]:
    """The program and its 14 listings, as catalog would publish them."""
    program_id = "BENCH-CQ"
    rows = list(csv.DictReader(WINNING.open(encoding="utf-8")))
    profile = PRESETS["chongqing-stents-2023"].model_copy(
        update={"pacing": PacingPolicy(enabled=True)})
    start = (datetime.now(SHANGHAI) - timedelta(days=40)).replace(hour=0, minute=0, second=0,
                                                                   microsecond=0)
    events: list[Any] = [ProgramPublished(
        program_id=program_id, category="冠脉支架", region="重庆市", notice_no="bench",
        organiser="national", execution_start=start, cycle_years=3, profile=profile,
        published_by="bench")]
    for r in rows:
        price = Decimal(r["product_price"]) + Decimal(r["service_price"])
        events.append(ProductListed(
            listing_id=listing_id(program_id, r["registration_no"]), program_id=program_id,
            category="冠脉支架", registration_no=r["registration_no"],
            product_name=r["product_name"], enterprise_id=enterprise_id(r["declaring_enterprise"]),
            enterprise_name=r["declaring_enterprise"], registrant=r["registrant"],
            product_price=Decimal(r["product_price"]), service_price=Decimal(r["service_price"]),
            listing_price=price, listed_at=datetime.now(UTC), listed_by="bench"))
    from contracts.base import CloudEvent

    await ensure_topics(bootstrap, sorted({e.TOPIC for e in events}))
    producer = make_producer(bootstrap, "bench")
    await producer.start()
    try:
        for e in events:
            key, value, headers = encode(CloudEvent.of(e, source="/vbp/catalog",
                                                       time=datetime.now(UTC)))
            await producer.send_and_wait(e.TOPIC, value=value, key=key, headers=headers)
    finally:
        await producer.stop()
    async with httpx.AsyncClient(base_url=url, headers=bearer("regulator", "BUREAU")) as c:
        for _ in range(600):
            items = (await c.get("/v1/listings", params={"program_id": program_id})).json()
            if len(items["items"]) == len(rows):
                return program_id, items["items"]
            await asyncio.sleep(0.1)
    raise RuntimeError("the listings did not reach the orders service")


def agreement_rows(listings: list[dict[str, Any]], n: int) -> list[list[Any]]:
    rng = random.Random(7)
    per = -(-n // len(listings))
    out: list[list[Any]] = []
    for i in range(per):
        for item in listings:
            out.append([f"H{i:06d}", "public", item["enterprise_id"], item["registration_no"],
                        rng.randint(12, 600)])
    return out[:n]


def as_csv(rows: list[list[Any]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["institution_id", "institution_type", "enterprise_id", "registration_no",
                     "units"])
    writer.writerows(rows)
    return buf.getvalue().encode()


def as_xlsx(rows: list[list[Any]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(["institution_id", "institution_type", "enterprise_id", "registration_no",
                  "units"])
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def count_on_kafka(bootstrap: str, topic: str, ce_type: str, expect: int,
                         timeout: float) -> tuple[int, float]:
    """Read ``topic`` from the start until ``expect`` events of the type are seen."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None,
                                auto_offset_reset="earliest", max_poll_records=5000)
    await consumer.start()
    seen = 0
    wanted = ce_type.encode()
    deadline = time.monotonic() + timeout
    try:
        while seen < expect and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            for records in batch.values():
                for r in records:
                    if dict(r.headers).get("ce_type") == wanted:
                        seen += 1
    finally:
        await consumer.stop()
    return seen, time.time()


def keyed(headers: dict[str, str]) -> dict[str, str]:
    """``headers`` with a fresh Idempotency-Key (required on every recording POST); the same
    file again under another key is still a no-op (its content hash)."""
    return {**headers, "Idempotency-Key": uuid.uuid4().hex}


async def bench_import(bootstrap: str, url: str, program_id: str,
                       listings: list[dict[str, Any]], n: int, xlsx: bool) -> None:
    rows = agreement_rows(listings, n)
    body = as_csv(rows)
    headers = {**bearer("regulator", "BUREAU"), "Content-Type": "text/csv"}
    async with httpx.AsyncClient(base_url=url, timeout=600) as c:
        started = time.time()
        t0 = time.perf_counter()
        r = await c.post(f"/v1/programs/{program_id}/agreements", content=body,
                         params={"agreement_year": 1}, headers=keyed(headers))
        took = time.perf_counter() - t0
        assert r.status_code == 201, r.text[:2000]
        result = r.json()
        print(f"agreement import (CSV, {len(body) / 1e6:.1f} MB, {n} rows): {took:.1f} s "
              f"= {n / took:,.0f} rows/s, recorded {result['recorded']}", flush=True)
        drained = asyncio.create_task(count_on_kafka(
            bootstrap, AGREEMENTS_TOPIC, "vbp.orders.agreement.recorded.v1", n, timeout=600))
        meanwhile = await orders_while_draining(bootstrap, url, listings)
        seen, at = await drained
        print(f"  all {seen} AgreementRecorded on Kafka {at - started:.1f} s after the request "
              f"started ({at - started - took:.1f} s after the response)", flush=True)
        print(f"  {meanwhile}", flush=True)
        t0 = time.perf_counter()
        again = await c.post(f"/v1/programs/{program_id}/agreements", content=body,
                             params={"agreement_year": 1}, headers=keyed(headers))
        assert again.status_code == 201 and again.json()["replayed"], again.text[:500]
        print(f"  the same file again: {time.perf_counter() - t0:.2f} s, a no-op "
              f"(replayed={again.json()['replayed']})", flush=True)
        if xlsx:
            t0 = time.perf_counter()
            data = await asyncio.to_thread(as_xlsx, rows)
            built = time.perf_counter() - t0
            t0 = time.perf_counter()
            r = await c.post(f"/v1/programs/{program_id}/agreements", content=data,
                             params={"agreement_year": 2},
                             headers=keyed({**headers, "Content-Type": XLSX}))
            took = time.perf_counter() - t0
            assert r.status_code == 201, r.text[:2000]
            print(f"agreement import (XLSX, {len(data) / 1e6:.1f} MB, {n} rows, year 2): "
                  f"{took:.1f} s = {n / took:,.0f} rows/s (building the file took "
                  f"{built:.1f} s, not counted)", flush=True)
            seen, at = await count_on_kafka(bootstrap, AGREEMENTS_TOPIC,
                                            "vbp.orders.agreement.recorded.v1", 2 * n,
                                            timeout=900)
            print(f"  all {seen} AgreementRecorded on Kafka (the outbox drained before the "
                  "orders run)", flush=True)


# --- orders under load ------------------------------------------------------------------------


class Watcher:
    """Reads OrderPlaced records as they reach Kafka: order id → (receive time, producer
    timestamp)."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.seen: dict[str, tuple[float, float]] = {}
        self._task: asyncio.Task[None] | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None,
                                          fetch_max_wait_ms=20)
        await self._consumer.start()
        parts = self._consumer.partitions_for_topic(ORDERS_TOPIC) or set()
        tps = [TopicPartition(ORDERS_TOPIC, p) for p in parts]
        self._consumer.assign(tps)
        await self._consumer.seek_to_end(*tps)
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        assert self._consumer is not None
        wanted = b"vbp.orders.order.placed.v1"
        while True:
            batch = await self._consumer.getmany(timeout_ms=100)
            now = time.time()
            for records in batch.values():
                for r in records:
                    if dict(r.headers).get("ce_type") == wanted:
                        self.seen[json.loads(r.value)["order_id"]] = (now, r.timestamp / 1000)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._consumer is not None:
            await self._consumer.stop()


TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Pids:
    server: int
    postgres: int
    kafka: int
    worker: int | None = None


def cpu_seconds(pids: Pids) -> dict[str, float]:
    """CPU time (user + system) so far of: the orders service, PostgreSQL, the Kafka broker
    (each a process tree), this load generator, and everything else on the machine."""
    parents: dict[int, int] = {}
    usage: dict[int, tuple[str, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        comm = raw[raw.index("(") + 1:raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2:].split()
        parents[int(entry)] = int(fields[1])
        # utime + stime, and cutime + cstime: a PostgreSQL backend that exited is counted in
        # the postmaster from then on
        usage[int(entry)] = (comm, sum(int(f) for f in fields[11:15]) / TICK)

    roots = {pids.server: "orders service", pids.postgres: "postgres", pids.kafka: "kafka",
             os.getpid(): "load generator"}
    if pids.worker is not None:
        roots[pids.worker] = "orders worker"

    def group(pid: int) -> str:
        while pid > 1:
            if pid in roots:
                return roots[pid]
            pid = parents.get(pid, 1)
        return "other"

    out = dict.fromkeys([*roots.values(), "other"], 0.0)
    for pid, (_comm, seconds) in usage.items():
        out[group(pid)] += seconds
    return out


def postmaster_pid(pg: PostgresCluster) -> int:
    return int((pg.pgdata / "postmaster.pid").read_text().split()[0])


async def settle(dsn: str) -> None:
    """After the bulk load, what the database and the kernel do within minutes anyway, so that
    the orders run measures placing orders rather than the import's aftermath: VACUUM ANALYZE
    (as autovacuum soon would: the outbox's partial index of unpublished rows otherwise still
    holds the 200,000 published ones), a CHECKPOINT, and the kernel writing the import's dirty
    pages (some 600 MB) to disk, which it otherwise starts 30 s later, in the middle of the
    run."""
    import asyncpg

    t0 = time.perf_counter()
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("VACUUM ANALYZE")
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()
    await asyncio.to_thread(os.sync)
    print(f"VACUUM ANALYZE, CHECKPOINT and sync after the imports: "
          f"{time.perf_counter() - t0:.1f} s", flush=True)


class Placer:
    """Places an order (``open_loop``'s request): one of 2,000 institutions, each with its own
    token, a random listing at its listing price, a fresh Idempotency-Key. When ``record``,
    the response instant of each order placed is kept, to time its ``OrderPlaced``."""

    def __init__(self, url: str, listings: list[dict[str, Any]], *, seed: int = 11,
                 record: bool = False) -> None:
        self.url = url
        self.listings = listings
        self.institutions = [f"H{i:06d}" for i in range(2000)]
        self.tokens = {h: bearer("institution", h)["Authorization"] for h in self.institutions}
        self.rng = random.Random(seed)
        self.record = record
        self.responded: dict[str, float] = {}
        self.index: dict[str, int] = {}
        """Order id → the index ``open_loop`` gave its request (when ``record``)."""
        self.errors: dict[str, int] = {}

    async def __call__(self, session: aiohttp.ClientSession, i: int) -> bool:
        inst = self.rng.choice(self.institutions)
        item = self.rng.choice(self.listings)
        body = {"institution_id": inst, "listing_id": item["listing_id"],
                "units": self.rng.randint(1, 5), "unit_price": item["listing_price"]}
        try:
            async with session.post(f"{self.url}/v1/orders", json=body, headers={
                    "Authorization": self.tokens[inst],
                    "Idempotency-Key": uuid.uuid4().hex}) as resp:
                payload = await resp.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.errors[type(exc).__name__] = self.errors.get(type(exc).__name__, 0) + 1
            raise
        if resp.status != 201:
            self.errors[str(resp.status)] = self.errors.get(str(resp.status), 0) + 1
        elif self.record:
            order_id = json.loads(payload)["order_id"]
            self.responded[order_id] = time.time()
            self.index[order_id] = i
        return resp.status == 201

    async def on_kafka(self, watcher: Watcher, timeout: float = 30
                       ) -> tuple[list[float], list[float], int]:
        """Waits (up to ``timeout``) for the recorded orders' ``OrderPlaced`` and stops the
        watcher: ms from each response to the record's receipt, and to its producer
        timestamp; how many are missing."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not set(self.responded) <= set(watcher.seen):  # noqa: ASYNC110
            await asyncio.sleep(0.2)
        await watcher.stop()
        seen = [(watcher.seen[o], t) for o, t in self.responded.items() if o in watcher.seen]
        return ([(at[0] - t) * 1000 for at, t in seen], [(at[1] - t) * 1000 for at, t in seen],
                len(self.responded) - len(seen))


async def orders_while_draining(bootstrap: str, url: str, listings: list[dict[str, Any]],
                                rate: float = 20, seconds: float = 10) -> str:
    """Orders placed while an import's events still wait in the outbox: how long each
    ``OrderPlaced`` takes to reach Kafka (each topic's rows go in every relay round)."""
    watcher = Watcher(bootstrap)
    await watcher.start()
    placer = Placer(url, listings, seed=5, record=True)
    await open_loop(rate, seconds, placer)
    received, _, missing = await placer.on_kafka(watcher)
    return (f"orders placed meanwhile ({rate:.0f}/s for {seconds:.0f} s, while the import's "
            f"events drain): OrderPlaced on Kafka after the response {summary(received)}; "
            f"missing {missing}, errors {placer.errors or 0}")


async def bench_orders(bootstrap: str, url: str, program_id: str,
                       listings: list[dict[str, Any]], rate: float, duration: float,
                       pids: Pids, warm: bool = True) -> None:
    watcher = Watcher(bootstrap)
    await watcher.start()
    placer = Placer(url, listings)

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256),
                                     timeout=aiohttp.ClientTimeout(total=30)) as session:
        if warm:
            await open_loop(rate / 2, 6, placer, session=session)
            await asyncio.sleep(2)
            placer.errors.clear()
        placer.record = True
        before, batches_before = cpu_seconds(pids), await transactions(session, url)
        with MachineSampler() as machine:
            result = await open_loop(rate, duration, placer, session=session)
        after, batches_after = cpu_seconds(pids), await transactions(session, url)
    total, elapsed = result.sent, result.duration_s
    received, produced, missing = await placer.on_kafka(watcher)
    print(f"orders: {total} POST /v1/orders at {rate:.0f}/s for {duration:.0f} s "
          f"(done in {elapsed:.1f} s = {total / elapsed:.0f}/s), 201: {len(placer.responded)}, "
          f"errors: {placer.errors or 0}", flush=True)
    print(f"  HTTP latency from scheduled start: {summary(result.latencies_ms)}", flush=True)
    print(f"  {result.slow_seconds()}", flush=True)
    print(f"  {machine.report(result)}", flush=True)
    print(f"  OrderPlaced on Kafka after the response (consumer receive): {summary(received)}"
          f"; missing {missing}", flush=True)
    print(f"  (record's producer timestamp − response: {summary(produced)}; negative = the "
          f"relay sent it before the client had read the response)", flush=True)
    used = {k: after[k] - before[k] for k in after}
    available = elapsed * (os.cpu_count() or 1)
    per_order = ", ".join(f"{k} {v / total * 1000:.2f} ms" for k, v in used.items())
    print(f"  CPU used during the run: {sum(used.values()):.1f} s of {available:.1f} s; "
          f"per order: {per_order}", flush=True)
    count, requests = (a - b for a, b in zip(batches_after, batches_before, strict=True))
    print(f"  group commit: {count:.0f} transactions, {requests / max(count, 1):.2f} requests "
          "each on average", flush=True)


async def transactions(session: aiohttp.ClientSession, url: str) -> tuple[float, float]:
    """The service's group-commit transactions so far and the requests they applied (its
    ``vbp_group_commit_requests`` histogram)."""
    async with session.get(f"{url}/metrics") as resp:
        text = await resp.text()
    found = {"count": 0.0, "sum": 0.0}
    for line in text.splitlines():
        for part in found:
            if line.startswith(f"vbp_group_commit_requests_{part}{{"):
                found[part] += float(line.rsplit(" ", 1)[1])
    return found["count"], found["sum"]


def start_service(port: int, env: dict[str, str], logs: Path, profile: str | None,
                  workers: int) -> launcher.ServiceProcess:
    """``vbp serve orders``; or uvicorn with several workers; or under cProfile (stopped with
    SIGINT so that the profile is written)."""
    if profile is None and workers == 1:
        return launcher.start_service("orders", port, env, logs)
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / "orders.log"
    if profile is not None:
        cmd = [sys.executable, "-m", "cProfile", "-o", str(Path(profile).resolve()), "-m",
               "services.cli", "serve", "orders", "--port", str(port)]
    else:
        cmd = [sys.executable, "-m", "uvicorn", "services.orders.app:create_app", "--factory",
               "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
               "--no-access-log", "--log-level", "warning"]
    with log.open("ab") as out:
        process = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=out,
                                   stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)
    return launcher.ServiceProcess("orders", port, process, log)


def stop_service(proc: launcher.ServiceProcess, profile: str | None) -> None:
    if profile is None:
        launcher.stop_services([proc])
        return
    proc.process.send_signal(signal.SIGINT)
    try:
        proc.process.wait(60)
    except subprocess.TimeoutExpired:
        proc.process.kill()
        proc.process.wait()


# --- main -------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--rate", default="300",
                        help="orders per second; several, comma-separated, run one after the "
                        "other (e.g. 100,200,300)")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--split", action="store_true",
                        help="the service as two processes: HTTP only (--role api) and the "
                        "outbox relay with the consumers (--role worker)")
    parser.add_argument("--no-vacuum", action="store_true",
                        help="skip VACUUM ANALYZE, CHECKPOINT and sync between the imports "
                        "and the orders")
    parser.add_argument("--duration", type=float, default=30)
    parser.add_argument("--xlsx", action="store_true", help="also import the rows as XLSX")
    parser.add_argument("--fsync", action="store_true", help="PostgreSQL with fsync on")
    parser.add_argument("--profile", metavar="FILE",
                        help="run the service under cProfile, writing its stats to FILE")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="vbp-bench-orders-"))
    os.chmod(root, 0o755)
    broker = KafkaBroker(ensure_jars(), root / "kafka")
    pg = PostgresCluster(root / "pg", fsync=args.fsync)
    proc = worker = None
    print(f"machine: {os.cpu_count()} CPUs; Kafka, PostgreSQL (fsync "
          f"{'on' if args.fsync else 'off'}), the orders service and this load generator "
          "all on it", flush=True)
    try:
        with ThreadPoolExecutor(2) as pool:
            for f in [pool.submit(broker.start), pool.submit(pg.start)]:
                f.result()
        db = pg.create_database("bench_orders")
        env = {"KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers, "VBP_JWT_SECRET": SECRET,
               "VBP_ORDERS_DATABASE_URL": db, "VBP_LOG_LEVEL": "WARNING"}
        if args.split:
            worker = launcher.start_service("orders", free_loopback_port(),
                                            {**env, "VBP_ROLE": "worker"}, root / "worker")
            launcher.wait_ready([worker], timeout=120)
            env["VBP_ROLE"] = "api"
        proc = start_service(free_loopback_port(), env, root / "logs", args.profile,
                             args.workers)
        launcher.wait_ready([proc], timeout=120)

        async def run() -> None:
            assert proc is not None
            program_id, listings = await seed_program(broker.bootstrap_servers, proc.url)
            await bench_import(broker.bootstrap_servers, proc.url, program_id, listings,
                               args.rows, args.xlsx)
            if not args.no_vacuum:
                await settle(pg.dsn("bench_orders"))
            assert broker.pid is not None
            pids = Pids(proc.process.pid, postmaster_pid(pg), broker.pid,
                        worker.process.pid if worker is not None else None)
            for i, rate in enumerate(float(r) for r in args.rate.split(",")):
                await bench_orders(broker.bootstrap_servers, proc.url, program_id, listings,
                                   rate, args.duration, pids, warm=i == 0)
                await asyncio.sleep(3)

        asyncio.run(run())
    finally:
        if proc is not None:
            stop_service(proc, args.profile)
        if worker is not None:
            launcher.stop_services([worker])
        broker.stop()
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
