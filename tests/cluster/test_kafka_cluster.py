"""Issue #18: the outbox, relay and consumers on a three-broker KRaft cluster (topics with
replication 3 and ``min.insync.replicas=2``, the idempotent ``acks=all`` producer) while one
broker is killed with SIGKILL mid-load and later restarted. Every committed write is on Kafka
exactly once, every consumer effect applied once, and leaders and in-sync replicas come back."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from services.devstack.kafka import KafkaCluster
from services.runtime.kafka import ensure_topics, make_producer
from tests.cluster.conftest import MIN_INSYNC, REPLICAS
from tests.cluster.figures import Stalls, ce_ids, partitions, probe, report, until_replicated
from tests.integration.harness import Harness

pytestmark = pytest.mark.timeout(900)
RATE = 100  # writes per second, one transaction each
BEFORE_S, DOWN_S, AFTER_S = 5.0, 15.0, 5.0


async def test_a_broker_killed_and_restarted_mid_load_loses_and_doubles_nothing(
    kafka_cluster: KafkaCluster, engine_on_single: AsyncEngine, topic_name: str
) -> None:
    bootstrap = kafka_cluster.bootstrap_servers
    probe_topic = topic_name + ".probe"
    await ensure_topics(bootstrap, [topic_name, probe_topic], partitions=4,
                        replication_factor=REPLICAS, min_insync_replicas=MIN_INSYNC)
    parts = await partitions(bootstrap, topic_name)
    assert all(len(p["replicas"]) == REPLICAS for p in parts), parts
    h = Harness(engine_on_single, bootstrap, topic_name)
    await h.producer()
    relay = await h.relay()
    await relay.start()
    h.consumer()
    await h.consumers[0].start()
    stalls, stop = Stalls(), asyncio.Event()
    client = make_producer(bootstrap, "probe")
    await client.start()
    prober = asyncio.create_task(probe(client, probe_topic, stalls, stop))
    acknowledged: list[str] = []

    async def load(stop_load: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        while not stop_load.is_set():
            tick = loop.time()
            acknowledged.extend(await h.record(1, keys=20, start=len(acknowledged)))
            await asyncio.sleep(max(0.0, 1 / RATE - (loop.time() - tick)))

    stop_load = asyncio.Event()
    writer = asyncio.create_task(load(stop_load))
    try:  # the load goes on through the kill, the outage and the restart
        await asyncio.sleep(BEFORE_S)
        # the victim leads partition 0 of the topic: its leadership must move
        victim = next(n for n in kafka_cluster.nodes
                      if n.node_id == min(parts, key=lambda p: p["partition"])["leader"])
        victim.kill()
        killed_at = time.monotonic()
        await asyncio.sleep(DOWN_S)
        await asyncio.to_thread(victim.start, 180)
        restarted_s = time.monotonic() - killed_at
        await asyncio.sleep(AFTER_S)
        stop_load.set()
        await writer
        rows, applied = await h.wait_applied(len(acknowledged), timeout=180)
        found = ce_ids(await h.read_topic(expect=len(acknowledged), timeout=60))
        isr_s, parts_after = await until_replicated(bootstrap, topic_name, REPLICAS)
    finally:
        stop_load.set()
        stop.set()
        await prober
        await writer
        await client.stop()
        await relay.stop()
        await h.close()
    duplicated = sum(c - 1 for c in found.values() if c > 1)
    preferred = sum(p["leader"] == p["replicas"][0] for p in parts_after)
    report("kafka cluster: broker SIGKILL", killed=f"node {victim.node_id}",
           down_s=f"{restarted_s:.1f}", acknowledged=len(acknowledged),
           found=len(set(acknowledged) & set(found)), duplicated=duplicated,
           effects=rows, distinct_effects=applied,
           longest_stall_s=f"{stalls.longest:.2f}", probe_failures=stalls.failures,
           isr_restored_after_s=f"{isr_s:.1f}",
           preferred_leaders=f"{preferred}/{len(parts_after)}")
    assert set(acknowledged) <= set(found), "an acknowledged write is missing from Kafka"
    assert set(found) <= set(acknowledged), "Kafka holds an event nobody wrote"
    assert duplicated == 0, "an event is on Kafka more than once"
    assert (rows, applied) == (len(acknowledged), len(acknowledged)), "effects not exactly once"
    assert all(len(p["isr"]) == REPLICAS and p["leader"] >= 0 for p in parts_after)
