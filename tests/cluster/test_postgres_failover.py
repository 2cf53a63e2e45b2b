"""Issue #18: the outbox, relay and consumers on a PostgreSQL primary with a synchronous
streaming standby, reached through one multi-host URL with ``target_session_attrs=read-write``.
The primary is killed with SIGKILL mid-load and the standby promoted: the clients reconnect by
themselves (nothing restarts them), no acknowledged write is missing, and every event takes
effect exactly once."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from services.devstack.kafka import KafkaCluster
from services.devstack.postgres import PostgresPair
from services.runtime.kafka import ensure_topics
from tests.cluster.conftest import MIN_INSYNC, REPLICAS, harness_engine
from tests.cluster.figures import ce_ids, report
from tests.integration.harness import Harness

pytestmark = pytest.mark.timeout(900)
RATE = 50  # writes per second, one transaction each
BEFORE_S, AFTER_S = 5.0, 10.0
RETRIES = 1000
"""The consumer's retries of an event that fails (the failover window, not a poison message).
The runtime's default (4, then the dead-letter topic) is for poison messages; retrying
infrastructure errors without limit is being made the runtime's own behaviour elsewhere."""


async def test_the_primary_killed_mid_load_and_the_standby_promoted_loses_nothing(
    pg_pair: PostgresPair, kafka_cluster: KafkaCluster, topic_name: str
) -> None:
    url = pg_pair.create_database(f"f_{uuid.uuid4().hex[:10]}")
    assert "target_session_attrs=read-write" in url
    engine = await harness_engine(url)
    bootstrap = kafka_cluster.bootstrap_servers
    await ensure_topics(bootstrap, [topic_name], partitions=4, replication_factor=REPLICAS,
                        min_insync_replicas=MIN_INSYNC)
    h = Harness(engine, bootstrap, topic_name)
    await h.producer()
    relay = await h.relay()
    await relay.start()
    h.consumer(max_retries=RETRIES)
    await h.consumers[0].start()
    acknowledged: list[str] = []
    failed_attempts = 0
    longest_stall = 0.0

    async def load(seconds: float) -> None:
        """Write at RATE; a write whose commit raised is not acknowledged (it may or may not
        have committed) and the client carries on with the next one."""
        nonlocal failed_attempts, longest_stall
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        last_ack = loop.time()
        while loop.time() < end:
            tick = loop.time()
            try:
                acknowledged.extend(await h.record(1, keys=20, start=len(acknowledged)))
                longest_stall = max(longest_stall, loop.time() - last_ack)
                last_ack = loop.time()
            except Exception:
                failed_attempts += 1
                await asyncio.sleep(0.1)
            await asyncio.sleep(max(0.0, 1 / RATE - (loop.time() - tick)))

    try:
        await load(BEFORE_S)
        assert pg_pair.standby.in_recovery()  # still a standby before the fault
        started = time.monotonic()
        await asyncio.gather(asyncio.to_thread(pg_pair.fail_over), load(AFTER_S))
        failover_s = time.monotonic() - started
        assert not pg_pair.standby.in_recovery()
        rows, applied = await h.wait_applied(len(acknowledged), timeout=180)
        records = await h.read_topic(expect=len(acknowledged), timeout=60)
    finally:
        await relay.stop()
        await h.close()
        await engine.dispose()
    found = ce_ids(records)
    duplicated = sum(c - 1 for c in found.values() if c > 1)
    missing = set(acknowledged) - set(found)
    report("postgres failover: primary SIGKILL, standby promoted",
           acknowledged=len(acknowledged), failed_attempts=failed_attempts,
           found=len(set(acknowledged) & set(found)), unacknowledged_found=len(
               set(found) - set(acknowledged)), duplicated_on_kafka=duplicated,
           effects=rows, distinct_effects=applied, longest_stall_s=f"{longest_stall:.2f}",
           load_during_failover_s=f"{failover_s:.1f}")
    assert not missing, f"{len(missing)} acknowledged writes missing from Kafka"
    assert rows == applied, "an event took effect twice"
    assert applied >= len(acknowledged)
    assert applied == len(found), "an event on Kafka took no effect"
