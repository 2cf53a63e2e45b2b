"""The invariant checker of ``vbp chaos`` (also ``vbp check``): reads every topic (aiokafka)
and every service's database, and says for each invariant whether it holds, with its counts.

1. Every order acknowledged over HTTP (201) exists once in orders, and its ``OrderPlaced`` is
   on Kafka once (one event id; a copy the relay sent again after a crash keeps its id and
   consumers skip it, runtime/outbox.py: such copies are counted, not failed).
2. Every ``OrderPlaced`` was routed once (one first routing; re-routings after a bar carry
   ``rerouted_from``) or flagged as a supply risk (R-SUP-4).
3. Per-key order is kept on every topic: a key's events are in one partition, in the order of
   their rows in the owning service's outbox.
4. The payments ledger is balanced (debits = credits, every balance equals its transfers,
   R-PAY-6) and no account is over its limit (no prepayment balance negative).
5. The outboxes are drained (no row unpublished).
6. No dead letter is left unexplained: each one's event was applied after all (replayed) —
   and no key is still held behind one.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import text

from contracts.orders import ORDERS_TOPIC, OrderPlaced
from contracts.supply import DELIVERIES_TOPIC, OrderRouted, SupplyRiskOpened
from services.runtime.db import make_engine
from services.runtime.envelope import EnvelopeError, decode


@dataclass
class Record:
    topic: str
    partition: int
    offset: int
    key: str | None
    event_id: str | None
    ce_type: str | None
    data: dict[str, Any]
    headers: dict[str, bytes]


@dataclass
class Invariant:
    name: str
    ok: bool
    counts: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        counts = ", ".join(f"{k} {v:,}" for k, v in self.counts.items())
        out = [f"[{'PASS' if self.ok else 'FAIL'}] {self.name}: {counts}"]
        out += [f"       - {p}" for p in self.problems[:10]]
        if len(self.problems) > 10:
            out.append(f"       - … and {len(self.problems) - 10} more")
        return out


@dataclass
class Report:
    invariants: list[Invariant]

    @property
    def ok(self) -> bool:
        return all(i.ok for i in self.invariants)

    def lines(self) -> list[str]:
        out = [line for i in self.invariants for line in i.lines()]
        passed = sum(i.ok for i in self.invariants)
        out.append(f"{passed}/{len(self.invariants)} invariants hold" +
                   ("" if self.ok else " — FAILED"))
        return out


async def read_topics(bootstrap: str) -> list[Record]:
    """Every record of every (non-internal) topic, from the beginning to the end offsets."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    records: list[Record] = []
    try:
        topics = sorted(t for t in await consumer.topics() if not t.startswith("__"))
        tps = [TopicPartition(t, p) for t in topics
               for p in sorted(consumer.partitions_for_topic(t) or ())]
        if not tps:
            return records
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        remaining = {tp for tp in tps if end[tp] > 0}
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, batch in batches.items():
                for rec in batch:
                    records.append(_record(rec))
                if await consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
            for tp in list(remaining):
                if await consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
    return records


def _record(rec: Any) -> Record:
    headers = {k: v for k, v in rec.headers}
    key = rec.key.decode() if rec.key is not None else None
    try:
        ce = decode(rec.value, rec.headers)
        data = ce.data if isinstance(ce.data, dict) else {}
        return Record(rec.topic, rec.partition, rec.offset, key, ce.id, ce.type, data, headers)
    except (EnvelopeError, ValueError):
        return Record(rec.topic, rec.partition, rec.offset, key, None, None, {}, headers)


async def _query(url: str, sql: str) -> list[Any]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(text(sql))).all())
    finally:
        await engine.dispose()


async def wait_settled(bootstrap: str, databases: dict[str, str], timeout: float = 300,
                       quiet_s: float = 5.0) -> bool:
    """Wait until every outbox is drained and every consumer group has caught up with the
    end of its topics (the platform has nothing left in flight); False after ``timeout``."""
    deadline = time.monotonic() + timeout
    settled_since: float | None = None
    while time.monotonic() < deadline:
        try:
            pending = sum([(await _query(url, "SELECT count(*) FROM outbox "
                                              "WHERE published_at IS NULL"))[0][0]
                           for url in databases.values()])
            lag = await consumer_lag(bootstrap)
        except Exception:  # the platform may still be coming back
            pending, lag = -1, -1
        if pending == 0 and lag == 0:
            settled_since = settled_since or time.monotonic()
            if time.monotonic() - settled_since >= quiet_s:
                return True
        else:
            settled_since = None
        await asyncio.sleep(1.0)
    return False


async def consumer_lag(bootstrap: str) -> int:
    """Records of the services' consumer groups not yet committed, summed."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await admin.start()
    await consumer.start()
    try:
        groups = [g[0] for g in await admin.list_consumer_groups()
                  if not str(g[0]).startswith("vbp-dlt")]
        total = 0
        for group in groups:
            offsets = await admin.list_consumer_group_offsets(group)
            if not offsets:
                continue
            end = await consumer.end_offsets(list(offsets))
            total += sum(max(end[tp] - meta.offset, 0) for tp, meta in offsets.items()
                         if meta.offset >= 0)
        return total
    finally:
        await consumer.stop()
        await admin.close()


def read_acknowledged(path: Path | None) -> list[str]:
    if path is None or not path.exists():
        return []
    return [json.loads(line)["order_id"] for line in path.read_text().splitlines() if line]


async def check(bootstrap: str, databases: dict[str, str],
                acknowledged: Iterable[str] = ()) -> Report:
    """Every invariant, from the topics and the databases as they are now."""
    records = await read_topics(bootstrap)
    return Report([
        await _orders_once(records, databases["orders"], list(acknowledged)),
        _routed_once(records),
        await _per_key_order(records, databases),
        await _ledger(databases["payments"]),
        await _outboxes(databases),
        await _dead_letters(records, databases),
    ])


async def _orders_once(records: list[Record], orders_db: str,
                       acknowledged: list[str]) -> Invariant:
    placed_ids: dict[str, set[str]] = defaultdict(set)
    copies = 0
    for r in records:
        if r.topic == ORDERS_TOPIC and r.ce_type == OrderPlaced.TYPE and r.key:
            if r.event_id in placed_ids[r.key]:
                copies += 1
            placed_ids[r.key].add(str(r.event_id))
    stored = Counter(row[0] for row in await _query(orders_db, "SELECT order_id FROM orders"))
    problems: list[str] = []
    for order_id in acknowledged:
        if stored[order_id] != 1:
            problems.append(f"order {order_id} acknowledged, {stored[order_id]} rows in orders")
        if len(placed_ids.get(order_id, ())) != 1:
            problems.append(f"order {order_id} acknowledged, "
                            f"{len(placed_ids.get(order_id, ()))} OrderPlaced events")
    unacknowledged = len(set(stored) - set(acknowledged)) if acknowledged else 0
    return Invariant(
        "every acknowledged order exists once, its OrderPlaced on Kafka once",
        not problems and len(set(acknowledged)) == len(acknowledged),
        {"acknowledged": len(acknowledged), "orders stored": sum(stored.values()),
         "OrderPlaced events": sum(len(v) for v in placed_ids.values()),
         "re-sent copies (same id)": copies,
         "stored, answer lost (not acknowledged)": unacknowledged}, problems)


def _routed_once(records: list[Record]) -> Invariant:
    placed = {r.key for r in records if r.topic == ORDERS_TOPIC and r.ce_type == OrderPlaced.TYPE}
    first_routings: dict[str, set[str]] = defaultdict(set)
    reroutes: set[str] = set()
    risks: set[str] = set()
    for r in records:
        if r.topic != DELIVERIES_TOPIC or r.key is None:
            continue
        if r.ce_type == OrderRouted.TYPE:
            if r.data.get("rerouted_from"):
                reroutes.add(str(r.event_id))
            else:
                first_routings[r.key].add(str(r.event_id))
        elif r.ce_type == SupplyRiskOpened.TYPE:
            risks.add(r.key)
    problems = []
    for order_id in sorted(k for k in placed if k):
        n = len(first_routings.get(order_id, ()))
        if n > 1:
            problems.append(f"order {order_id} routed {n} times")
        elif n == 0 and order_id not in risks:
            problems.append(f"order {order_id} neither routed nor a supply risk")
    routed = sum(1 for k in placed if k and len(first_routings.get(k, ())) == 1)
    return Invariant("every OrderPlaced routed once or flagged as a supply risk", not problems,
                     {"placed": len(placed), "routed once": routed,
                      "supply risks": len(risks & placed), "re-routed": len(reroutes)},
                     problems)


async def _per_key_order(records: list[Record], databases: dict[str, str]) -> Invariant:
    outbox_id: dict[str, tuple[str, int]] = {}
    for service, url in databases.items():
        for event_id, row_id in await _query(url, "SELECT event_id, id FROM outbox"):
            outbox_id[str(event_id)] = (service, int(row_id))
    seen: set[str] = set()
    last: dict[tuple[str, str], tuple[int, int]] = {}
    partitions: dict[tuple[str, str], int] = {}
    problems: list[str] = []
    keys: set[tuple[str, str]] = set()
    checked = unmatched = 0
    for r in sorted(records, key=lambda r: (r.topic, r.partition, r.offset)):
        if r.key is None or r.topic.endswith(".dlt") or r.event_id is None:
            continue
        if "dlt_replay_of" in r.headers or r.event_id in seen:
            continue  # a replayed dead letter or a re-sent copy: applied once, by id
        seen.add(r.event_id)
        k = (r.topic, r.key)
        keys.add(k)
        if partitions.setdefault(k, r.partition) != r.partition:
            problems.append(f"{r.topic} key {r.key} in partitions {partitions[k]} and "
                            f"{r.partition}")
        owner = outbox_id.get(r.event_id)
        if owner is None:
            unmatched += 1
            continue
        checked += 1
        previous = last.get(k)
        if previous is not None and owner[1] < previous[1]:
            problems.append(f"{r.topic} key {r.key}: outbox row {owner[1]} after "
                            f"{previous[1]} (offset {r.offset})")
        last[k] = (r.offset, owner[1])
    return Invariant("per-key order kept on every topic", not problems,
                     {"topics": len({t for t, _ in keys}), "keys": len(keys),
                      "events checked against their outbox row": checked,
                      "events with no outbox row (sent by a tool)": unmatched}, problems)


async def _ledger(payments_db: str) -> Invariant:
    from services.payments.reconcile import reconcile

    engine = make_engine(payments_db)
    try:
        report = await reconcile(engine)
    finally:
        await engine.dispose()
    problems = [f"{name}: stored {sd}/{sc}, from transfers {d}/{c}"
                for name, sd, sc, d, c in report.mismatches]
    if report.debits != report.credits:
        problems.append(f"debits {report.debits} fen ≠ credits {report.credits} fen")
    if report.limits_broken:
        problems.append(f"{report.limits_broken} accounts over their limit (a negative "
                        "prepayment balance)")
    return Invariant("payments ledger balanced, no prepayment balance negative", report.ok,
                     {"transfers": report.transfers, "accounts": report.accounts,
                      "debits fen": report.debits, "credits fen": report.credits,
                      "accounts over limit": report.limits_broken}, problems)


async def _outboxes(databases: dict[str, str]) -> Invariant:
    counts: dict[str, int] = {}
    problems = []
    for service, url in databases.items():
        rows = await _query(url, "SELECT count(*), count(*) FILTER (WHERE published_at IS NULL)"
                                 " FROM outbox")
        total, pending = int(rows[0][0]), int(rows[0][1])
        counts[f"{service} rows"] = total
        if pending:
            problems.append(f"{service}: {pending} outbox rows unpublished")
    return Invariant("outboxes drained", not problems, counts, problems)


async def _dead_letters(records: list[Record], databases: dict[str, str]) -> Invariant:
    letters = [r for r in records if r.topic.endswith(".dlt")]
    processed: set[str] = set()
    held = 0
    for url in databases.values():
        processed |= {str(row[0]) for row in await _query(
            url, "SELECT event_id FROM processed_events")}
        held += int((await _query(url, "SELECT count(*) FROM held_keys"))[0][0])
    problems = []
    explained = 0
    for r in letters:
        if r.event_id is not None and r.event_id in processed:
            explained += 1
            continue
        error = r.headers.get("dlt_error", b"").decode(errors="replace")[:200]
        problems.append(f"{r.topic}@{r.partition}:{r.offset} event {r.event_id}: {error}")
    if held:
        problems.append(f"{held} keys still held behind a dead letter")
    return Invariant("no dead letter left unexplained", not problems,
                     {"dead letters": len(letters), "applied after replay": explained,
                      "keys held": held}, problems)
