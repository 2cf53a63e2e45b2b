"""Catalog benchmark (issue #3): prints figures, asserts nothing.

    .venv/bin/python bench/catalog.py [--rows 20000] [--rate 200] [--seconds 30]

Starts a throwaway Kafka broker and PostgreSQL, the catalog as its own process, then:
1. imports an N-row table in the notice's own text format over HTTP, and times the response and
   the moment all N ProductListed events are on Kafka (target: 20,000 rows under 10 s);
2. searches listings at a fixed arrival rate from a load generator on loopback (target: p99
   under 25 ms at 200 requests/s), in ``--rounds`` rounds: the first starts right after the
   import (autovacuum is then still working through it), the next ones on a settled database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
from pathlib import Path

import aiohttp
import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    SECRET,
    MachineSampler,
    Service,
    infrastructure,
    open_loop,
    service,
    timed,
)
from contracts.catalog import LISTINGS_TOPIC
from contracts.identity import enterprise_id
from services.catalog.sample_tables import synthetic_rows, synthetic_table
from services.runtime.auth import mint_token

REGULATOR = {"Authorization": "Bearer " + mint_token(SECRET, role="regulator", org="B")}
HOSPITAL = {"Authorization": "Bearer " + mint_token(SECRET, role="institution", org="H1")}
PROGRAM = "BENCH-STENT"


async def import_table(url: str, bootstrap: str, rows: int) -> None:
    table = synthetic_table(rows)
    async with httpx.AsyncClient(timeout=300) as client:
        r = await client.post(f"{url}/v1/programs", headers=REGULATOR, json={
            "program_id": PROGRAM, "category": "冠脉支架", "region": "重庆市",
            "notice_no": "bench", "organiser": "national",
            "execution_start": "2023-01-31T00:00:00+08:00", "cycle_years": 3,
            "preset": "chongqing-stents-2023"})
        r.raise_for_status()
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
        await consumer.start()
        try:
            await consumer.topics()
            tps = [TopicPartition(LISTINGS_TOPIC, p)
                   for p in consumer.partitions_for_topic(LISTINGS_TOPIC) or ()]
            consumer.assign(tps)
            await consumer.seek_to_end(*tps)
            for tp in tps:
                await consumer.position(tp)
            elapsed = timed()
            r = await client.post(f"{url}/v1/programs/{PROGRAM}/winning-products",
                                  content=table.encode(),
                                  headers={**REGULATOR, "Content-Type": "text/plain"})
            r.raise_for_status()
            http_s = elapsed()
            seen = 0
            while seen < rows and elapsed() < 300:
                batches = await consumer.getmany(timeout_ms=500, max_records=5000)
                for records in batches.values():
                    for rec in records:
                        if dict(rec.headers).get("ce_type") == b"vbp.catalog.listing.listed.v1" \
                                and json.loads(rec.value)["program_id"] == PROGRAM:
                            seen += 1
            kafka_s = elapsed()
        finally:
            await consumer.stop()
    print(f"import {rows} rows (notice text, {len(table.encode()) / 1e6:.1f} MB): "
          f"HTTP 201 after {http_s:.2f} s; all {seen} ProductListed events on Kafka after "
          f"{kafka_s:.2f} s (target < 10 s)")


async def search_load(svc: Service, rate: float, seconds: float, rows: int,
                      rounds: int = 2) -> None:
    url = svc.url
    sample = synthetic_rows(rows)
    enterprises = sorted({enterprise_id(r.declaring_enterprise) for r in sample})
    names = ["雷帕霉素", "依维莫司", "钴铬合金", "支架系统"]
    rng = random.Random(7)

    async def request(session: aiohttp.ClientSession, i: int) -> bool:
        kind = i % 4
        params: dict[str, str | int]
        if kind == 0:
            params = {"program_id": PROGRAM, "limit": 50}
        elif kind == 1:
            params = {"q": rng.choice(names), "limit": 20}
        elif kind == 2:
            params = {"registration_no": rng.choice(sample).registration_no}
        else:
            params = {"enterprise_id": rng.choice(enterprises), "limit": 50}
        async with session.get(f"{url}/v1/listings", params=params, headers=HOSPITAL) as r:
            await r.read()
            return r.status == 200

    await open_loop(rate, 3, request)  # warm-up, not reported
    for round_no in range(1, rounds + 1):
        cpu_before = svc.cpu_seconds()
        with MachineSampler() as machine:
            result = await open_loop(rate, seconds, request)
        cpu_ms = (svc.cpu_seconds() - cpu_before) * 1000 / result.sent
        print(result.report(f"round {round_no}: listing search at {rate:.0f}/s "
                            f"(target p99 < 25 ms)"))
        print(f"  catalog CPU per search request: {cpu_ms:.2f} ms (all its processes; one "
              f"core serves at most {1000 / cpu_ms:.0f}/s)")
        print(f"  {result.slow_seconds(25)}")
        print(f"  {machine.report(result, 25)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--rounds", type=int, default=2,
                        help="search rounds: the first starts right after the import, while "
                             "PostgreSQL's autovacuum is still busy with it")
    parser.add_argument("--workers", type=int, default=1, help="catalog HTTP processes")
    parser.add_argument("--relay-batch", type=int, default=500, help="outbox rows per round")
    args = parser.parse_args()
    with infrastructure() as infra, \
            service("catalog", infra, VBP_WORKERS=str(args.workers),
                    VBP_RELAY_BATCH_SIZE=str(args.relay_batch)) as svc:
        asyncio.run(import_table(svc.url, infra.bootstrap, args.rows))
        asyncio.run(search_load(svc, args.rate, args.seconds, args.rows, args.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
