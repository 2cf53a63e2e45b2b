"""What the cluster tests measure and print (`pytest -s`): writes acknowledged, found on Kafka,
duplicated, effects applied, and the longest stall a client saw."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient


@dataclass
class Stalls:
    """A client writing every ``period`` s: the longest any write took (or waited to start)."""

    longest: float = 0.0
    failures: int = 0
    samples: list[float] = field(default_factory=list)

    def observe(self, seconds: float) -> None:
        self.samples.append(seconds)
        self.longest = max(self.longest, seconds)


async def probe(producer: AIOKafkaProducer, topic: str, stalls: Stalls, stop: asyncio.Event,
                period: float = 0.05) -> None:
    """Send one record every ``period`` s with ``acks=all`` and time each acknowledgement."""
    n = 0
    while not stop.is_set():
        started = time.monotonic()
        try:
            await producer.send_and_wait(topic, key=b"probe", value=str(n).encode())
        except Exception:
            stalls.failures += 1
        stalls.observe(time.monotonic() - started)
        n += 1
        await asyncio.sleep(period)


def ce_ids(records: list[Any]) -> Counter[str]:
    """How many times each CloudEvent id (``ce_id`` header) is on the topic."""
    found: Counter[str] = Counter()
    for record in records:
        headers = dict(record.headers)
        found[headers["ce_id"].decode()] += 1
    return found


def report(title: str, **figures: object) -> None:
    print(f"\n[{title}] " + ", ".join(f"{k}={v}" for k, v in figures.items()), flush=True)


async def partitions(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="vbp-cluster-test")
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
        return list(described["partitions"])
    finally:
        await admin.close()


async def until_replicated(bootstrap: str, topic: str, replicas: int,
                           timeout: float = 120) -> tuple[float, list[dict[str, Any]]]:
    """Wait until every partition of ``topic`` has a leader and all ``replicas`` in sync;
    how long that took, and the partitions as last described."""
    started = time.monotonic()
    while True:
        parts = await partitions(bootstrap, topic)
        if parts and all(p["leader"] >= 0 and len(p["isr"]) == replicas for p in parts):
            return time.monotonic() - started, parts
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{topic} not fully replicated after {timeout}s: {parts}")
        await asyncio.sleep(1.0)
