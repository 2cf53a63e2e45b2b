"""``vbp bench``: the platform's benchmarks that have targets, and the raw baselines they are
compared with, in one run on one PostgreSQL and one Kafka broker; one table at the end.

    vbp bench [--quick] [--concurrency 32] [--closed 20] [--rate 300] [--open 30]
              [--events 20000] [--rows 28000]

In order, on the same throwaway broker and PostgreSQL (services.devstack, fsync off as in the
tests), everything on 127.0.0.1:

1. supply routing (``bench/supply.py``'s ``bench_routing``): ``--events`` ``OrderPlaced`` put on
   the orders topic, then the supply service (in-process, its real lifespan) started; events per
   second from the first order routed to the last ``OrderRouted`` published.
   Raw baseline (``bench/baselines.py``'s ``consume_loop``): the same events on a topic of as
   many partitions, consumed → one row each inserted per batch in one transaction → one event
   each produced → offsets committed; events per second from the first batch fetched to the
   last event acknowledged.
2. the orders service (``vbp serve orders``, its own process) with the Chongqing stents program
   and its 14 listings, and ``--rows`` agreements (2,000 institutions) imported; and the raw
   order endpoint (``bench/baselines.py``: FastAPI + asyncpg, an order row and an outbox row in
   one transaction, uvicorn, its own process).
   Closed loop (``bench/common.py``'s ``closed_loop``): ``--concurrency`` clients for
   ``--closed`` seconds against each, the same requests (``bench/orders.py``'s ``Placer``);
   orders per second. Open loop (``open_loop``) at ``--rate`` per second for ``--open`` seconds
   against the raw endpoint: its p99.
3. the supply service as its own process too (distributors and a region assignment for every
   listing), then the open loop at ``--rate`` against the orders service: the HTTP p99 (from
   each request's scheduled start) and, for every order, the time from its scheduled start to
   its ``OrderRouted`` (or ``SupplyRiskOpened``) reaching a consumer of the deliveries topic.

Each baseline warms up as its platform figure does. Speed is judged by these printed figures
only (never by timed assertions in tests).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import math
import os
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from bench import baselines
from bench import orders as orders_bench
from bench import supply as supply_bench
from bench.common import Generator, Infra, LoadResult, infrastructure, pct, summary
from contracts.orders import AGREEMENTS_TOPIC, ORDERS_TOPIC
from contracts.registry import TOPIC_BY_NAME
from contracts.supply import DELIVERIES_TOPIC
from services import launcher
from services.devstack.net import free_loopback_port
from services.runtime.kafka import ensure_topics

REGION = "重庆市"
"""The seeded program's region (``bench/orders.py``'s ``seed_program``): supply routes its
orders by the region assignments made here."""
DISTRIBUTORS = 4
RAW_PLACED = "bench.raw.placed"
OUTCOMES = (b"vbp.supply.order.routed.v1", b"vbp.supply.risk.opened.v1")


@dataclass(frozen=True)
class Plan:
    concurrency: int
    closed_s: float
    rate: float
    open_s: float
    events: int
    rows: int
    warm_s: float


FULL = Plan(concurrency=32, closed_s=20, rate=300, open_s=30, events=20_000, rows=28_000,
            warm_s=5)
QUICK = Plan(concurrency=8, closed_s=3, rate=100, open_s=3, events=500, rows=1_400, warm_s=1)


@dataclass(frozen=True)
class Row:
    figure: str
    unit: str
    value: float
    baseline: float
    target: str
    passed: bool

    @property
    def ratio(self) -> float:
        return self.value / self.baseline if self.baseline else math.nan


def table(rows: list[Row]) -> str:
    head = ("figure", "value", "raw baseline", "ratio", "target", "result")
    body = [(r.figure, f"{r.value:,.1f} {r.unit}", f"{r.baseline:,.1f} {r.unit}",
             f"{r.ratio:.2f}", r.target, "PASS" if r.passed else "FAIL") for r in rows]
    widths = [max(len(line[i]) for line in [head, *body]) for i in range(len(head))]

    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return "\n".join([line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|",
                      *(line(b) for b in body)])


# --- infrastructure ---------------------------------------------------------------------------


@contextmanager
def running(name: str, proc: launcher.ServiceProcess) -> Iterator[launcher.ServiceProcess]:
    try:
        launcher.wait_ready([proc], timeout=120)
        yield proc
    finally:
        launcher.stop_services([proc])
    print(f"  ({name} stopped)", flush=True)


def service_env(s: Infra, name: str) -> dict[str, str]:
    return {"KAFKA_BOOTSTRAP_SERVERS": s.bootstrap, "VBP_JWT_SECRET": orders_bench.SECRET,
            f"VBP_{name.upper()}_DATABASE_URL": s.postgres.create_database(f"bench_{name}"),
            "VBP_LOG_LEVEL": "WARNING"}


# --- 1. consumer pipeline ---------------------------------------------------------------------


async def pipeline(s: Infra, plan: Plan) -> tuple[float, float]:
    """(supply routing events/s, raw loop events/s)."""
    print(f"supply routing: {plan.events} events", flush=True)
    routing = await supply_bench.bench_routing(
        s.bootstrap, s.postgres.create_database("bench_supply_routing"), plan.events)
    source = f"bench.raw.orders.{uuid.uuid4().hex[:6]}"
    events = supply_bench.orders(plan.events, 0, prefix=f"W{uuid.uuid4().hex[:6]}-")
    await supply_bench.produce(s.bootstrap, events, source,
                               partitions=TOPIC_BY_NAME[ORDERS_TOPIC].partitions)
    raw = await baselines.consume_loop(s.bootstrap, s.postgres.create_database("bench_raw_loop"),
                                       source, f"{source}.out", plan.events)
    print(f"  raw loop: {raw.events} events in {raw.seconds:.2f} s = {raw.per_s:.0f}/s, "
          f"{raw.rows} rows; {raw.cpu_ms_per_event:.3f} ms CPU per event (this process: "
          f"aiokafka and asyncpg; supply's {routing['cpu_ms_per_event']:.3f} ms)", flush=True)
    return float(routing["events_per_s"]), raw.per_s


# --- 2. and 3. orders ---------------------------------------------------------------------------


async def import_agreements(s: Infra, url: str, program_id: str,
                            listings: list[dict[str, Any]], rows: int) -> None:
    """``rows`` agreements (the 2,000 institutions the placer orders for, 14 listings each),
    all on Kafka, then the database settled (``bench/orders.py``'s ``settle``)."""
    buf = io.StringIO()
    out = csv.writer(buf)
    out.writerow(["institution_id", "institution_type", "enterprise_id", "registration_no",
                  "units"])
    out.writerows(orders_bench.agreement_rows(listings, rows))
    async with httpx.AsyncClient(base_url=url, timeout=600) as c:
        r = await c.post(f"/v1/programs/{program_id}/agreements", content=buf.getvalue().encode(),
                         params={"agreement_year": 1},
                         headers=orders_bench.keyed({**orders_bench.bearer("regulator", "BUREAU"),
                                                     "Content-Type": "text/csv"}))
    if r.status_code != 201:
        raise RuntimeError(f"agreement import: {r.status_code} {r.text[:500]}")
    seen, _ = await orders_bench.count_on_kafka(
        s.bootstrap, AGREEMENTS_TOPIC, "vbp.orders.agreement.recorded.v1", rows, timeout=300)
    print(f"  {rows} agreements imported, {seen} AgreementRecorded on Kafka", flush=True)
    await orders_bench.settle(s.postgres.dsn("bench_orders"))


async def closed(url: str, listings: list[dict[str, Any]], plan: Plan) -> LoadResult:
    async with Generator(orders_bench.Placer(url, listings), plan.concurrency) as generator:
        await generator.closed_loop(plan.concurrency, plan.warm_s)
        result = await generator.closed_loop(plan.concurrency, plan.closed_s)
    placer = cast(orders_bench.Placer, generator.request)
    print(f"  {result.report(f'closed loop, {plan.concurrency} clients, {url}')}; "
          f"errors by kind {placer.errors or 0}", flush=True)
    return result


def recording(placer: orders_bench.Placer) -> None:
    """After the warm-up: record the orders of the measured run only."""
    placer.record = True
    placer.responded.clear()
    placer.index.clear()
    placer.errors.clear()


async def opened(url: str, listings: list[dict[str, Any]], plan: Plan,
                 watcher: Routed | None = None) -> tuple[LoadResult, orders_bench.Placer]:
    placer = orders_bench.Placer(url, listings, seed=13, record=watcher is not None)
    async with Generator(placer, 256) as generator:
        await generator.open_loop(plan.rate / 2, plan.warm_s)
        if watcher is not None:  # the warm-up's orders routed first: supply has caught up
            warm = cast(orders_bench.Placer, generator.request)
            await watcher.wait(set(warm.index), timeout=120)
        result = await generator.open_loop(plan.rate, plan.open_s, recording)
    placer = cast(orders_bench.Placer, generator.request)
    print(f"  {result.report(f'open loop at {plan.rate:.0f}/s, {url}')}; errors by kind "
          f"{placer.errors or 0}", flush=True)
    return result, placer


class Routed:
    """Reads ``topic`` (the deliveries topic) from its end: order id (the record's key) → when
    its ``OrderRouted`` or ``SupplyRiskOpened`` (any record when ``types`` is None) reached
    this consumer, on ``time.monotonic()`` (``open_loop``'s clock)."""

    def __init__(self, bootstrap: str, topic: str = DELIVERIES_TOPIC,
                 types: tuple[bytes, ...] | None = OUTCOMES) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.types = types
        self.seen: dict[str, float] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None,
                                          fetch_max_wait_ms=20)
        await self._consumer.start()
        await self._consumer.topics()
        parts = self._consumer.partitions_for_topic(self.topic) or set()
        tps = [TopicPartition(self.topic, p) for p in parts]
        self._consumer.assign(tps)
        await self._consumer.seek_to_end(*tps)
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        assert self._consumer is not None
        while True:
            batch = await self._consumer.getmany(timeout_ms=100)
            now = time.monotonic()
            for records in batch.values():
                for r in records:
                    if r.key is not None and (self.types is None
                                              or dict(r.headers).get("ce_type") in self.types):
                        self.seen.setdefault(r.key.decode(), now)

    async def wait(self, orders: set[str], timeout: float) -> int:
        """Until every one of ``orders`` is seen (or ``timeout``): how many are missing."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not orders <= self.seen.keys():  # noqa: ASYNC110
            await asyncio.sleep(0.2)
        return len(orders - self.seen.keys())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._consumer is not None:
            await self._consumer.stop()


async def supply_setup(url: str, listings: list[dict[str, Any]]) -> None:
    """Distributors, and for every listing its enterprise's region assignment (R-SUP-1)."""
    async with httpx.AsyncClient(base_url=url, timeout=60) as c:
        for d in range(DISTRIBUTORS):
            r = await c.post("/v1/distributors", json={"distributor_id": f"D-CQ-{d}",
                                                       "name": f"配送企业 {d}"},
                             headers=supply_bench.headers("regulator", "BUREAU", key=True))
            r.raise_for_status()
        for i, item in enumerate(listings):
            r = await c.post("/v1/assignments", json={
                "registration_no": item["registration_no"],
                "distributor_id": f"D-CQ-{i % DISTRIBUTORS}", "scope": "region",
                "region": REGION, "reason": "bench"},
                headers=supply_bench.headers("enterprise", item["enterprise_id"], key=True))
            if r.status_code != 201:
                raise RuntimeError(f"assignment: {r.status_code} {r.text[:500]}")


# --- the run ----------------------------------------------------------------------------------


async def measure(s: Infra, plan: Plan) -> list[Row]:
    routing, raw_loop = await pipeline(s, plan)

    orders_proc = launcher.start_service("orders", free_loopback_port(),
                                         service_env(s, "orders"), s.root / "logs")
    with running("orders", orders_proc):
        print("orders: program, listings, agreements", flush=True)
        program_id, listings = await orders_bench.seed_program(s.bootstrap, orders_proc.url)
        await import_agreements(s, orders_proc.url, program_id, listings, plan.rows)

        placed, routed = RAW_PLACED, f"{RAW_PLACED}.routed"
        await ensure_topics(s.bootstrap, [placed, routed], dlt=False,
                            partitions=TOPIC_BY_NAME[ORDERS_TOPIC].partitions)
        raw_proc = baselines.serve(free_loopback_port(), baselines.asyncpg_dsn(
            s.postgres.create_database("bench_raw_orders")), s.root / "logs", s.bootstrap, placed)
        with running("raw order endpoint", raw_proc):
            raw_closed = await closed(raw_proc.url, listings, plan)
            # placed → "routed" through the raw relay and the raw loop
            raw_watcher = Routed(s.bootstrap, routed, types=None)
            await raw_watcher.start()
            ready = asyncio.Event()
            loop = asyncio.create_task(baselines.consume_loop(
                s.bootstrap, s.postgres.create_database("bench_raw_route"), placed, routed,
                None, from_end=True, ready=ready))
            await ready.wait()
            try:
                raw_open, raw_placer = await opened(raw_proc.url, listings, plan, raw_watcher)
                raw_missing = await raw_watcher.wait(set(raw_placer.index), timeout=120)
            finally:
                loop.cancel()
                with suppress(asyncio.CancelledError):
                    await loop
                await raw_watcher.stop()
        raw_e2e = through(raw_open, raw_placer, raw_watcher, plan, "raw", raw_missing)
        platform_closed = await closed(orders_proc.url, listings, plan)

        supply_proc = launcher.start_service("supply", free_loopback_port(),
                                             service_env(s, "supply"), s.root / "logs")
        with running("supply", supply_proc):
            await supply_setup(supply_proc.url, listings)
            watcher = Routed(s.bootstrap)
            await watcher.start()
            try:
                result, placer = await opened(orders_proc.url, listings, plan, watcher)
                missing = await watcher.wait(set(placer.index), timeout=120)
            finally:
                await watcher.stop()
    end_to_end = through(result, placer, watcher, plan, "platform", missing)

    rate, n = f"{plan.rate:.0f}/s", plan.concurrency
    http_p99 = pct(sorted(result.latencies_ms), 99)
    return [
        Row(f"order placement, closed loop, {n} clients", "orders/s",
            platform_closed.sent / platform_closed.duration_s,
            raw_closed.sent / raw_closed.duration_s, ">= 50 % of raw",
            platform_closed.sent * raw_closed.duration_s
            >= 0.5 * raw_closed.sent * platform_closed.duration_s
            and not platform_closed.errors),
        Row(f"order placement p99, open loop at {rate}", "ms", http_p99,
            pct(sorted(raw_open.latencies_ms), 99), f"< 50 ms at {rate}",
            http_p99 < 50 and not result.errors),
        Row("supply routing (consume → write → publish)", "events/s", routing, raw_loop,
            ">= 50 % of raw", routing >= 0.5 * raw_loop),
        Row(f"order placed → routed p99 at {rate}", "ms", end_to_end, raw_e2e,
            f"< 200 ms at {rate}", end_to_end < 200),
    ]


def through(result: LoadResult, placer: orders_bench.Placer, watcher: Routed, plan: Plan,
            label: str, missing: int) -> float:
    """p99 of the time from each order's scheduled start to its outcome on ``watcher``'s topic
    (infinite when one is missing)."""
    times = sorted((watcher.seen[o] - (result.started + i / plan.rate)) * 1000
                   for o, i in placer.index.items() if o in watcher.seen)
    print(f"  {label}: order placed → routed {summary(times)}; {len(times)} of "
          f"{len(placer.index)} orders seen, {missing} missing", flush=True)
    return pct(times, 99) if not missing else math.inf


def main(argv: list[str] | None = None) -> int:
    """``python bench/suite.py [options]``: the same as ``vbp bench [options]``."""
    from services import cli

    return cli.main(["bench", *(sys.argv[1:] if argv is None else argv)])


FIELDS = {"concurrency": "concurrency", "closed": "closed_s", "rate": "rate", "open": "open_s",
          "events": "events", "rows": "rows"}


def run(args: argparse.Namespace) -> int:
    """The run ``args`` (``add_arguments``) ask for; 0 when every target is met, else 1."""
    base = QUICK if args.quick else FULL
    plan = Plan(**{**base.__dict__, **{FIELDS[k]: v for k, v in vars(args).items()
                                       if k in FIELDS and v is not None}})
    load_before = os.getloadavg()
    started = time.perf_counter()
    with infrastructure() as s:
        rows = asyncio.run(measure(s, plan))
    load_after = os.getloadavg()
    print(f"\nvbp bench ({'quick' if args.quick else 'full'}: {plan}); {os.cpu_count()} CPUs; "
          f"load average {load_before[0]:.1f} at the start, {load_after[0]:.1f} at the end; "
          f"{time.perf_counter() - started:.0f} s\n", flush=True)
    print(table(rows), flush=True)
    print("\nThe raw baselines ran in this same run, on the same PostgreSQL and broker and under "
          "the same machine load: they are the reference for what this machine allows now "
          "(an absolute target missed by the raw baseline too is the machine's, not the "
          "platform's).", flush=True)
    return 0 if all(r.passed for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
