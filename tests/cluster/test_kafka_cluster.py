"""Issue #18: the real services on a three-broker KRaft cluster (topics with replication 3 and
``min.insync.replicas=2``, the idempotent ``acks=all`` producer) while one broker is killed with
SIGKILL mid-load and later restarted. A hospital places orders over HTTP on two orders api
processes; orders' worker relays them, supply's worker routes them. Every acknowledged order is
in orders' database and on Kafka exactly once, routed by supply once, and the partitions'
leaders and in-sync replicas come back."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from contracts.orders import ORDERS_TOPIC
from contracts.supply import DELIVERIES_TOPIC
from services.devstack.kafka import KafkaCluster
from services.devstack.postgres import PostgresCluster
from services.runtime.kafka import ensure_topics, make_producer
from tests.cluster.conftest import MIN_INSYNC, REPLICAS
from tests.cluster.figures import Stalls, partitions, probe, report, until_replicated
from tests.cluster.platform import Load, outcome, start_platform

pytestmark = pytest.mark.timeout(900)
RATE = 30  # orders per second over HTTP
BEFORE_S, DOWN_S, AFTER_S = 8.0, 15.0, 8.0


async def test_a_broker_killed_and_restarted_mid_load_loses_and_doubles_nothing(
    kafka_cluster: KafkaCluster, single_postgres: PostgresCluster, topic_name: str
) -> None:
    bootstrap = kafka_cluster.bootstrap_servers
    p = await asyncio.to_thread(start_platform, bootstrap, single_postgres.create_database)
    parts = await partitions(bootstrap, ORDERS_TOPIC)
    assert all(len(part["replicas"]) == REPLICAS for part in parts), parts
    probe_topic = topic_name + ".probe"  # a plain producer's view of the same outage
    await ensure_topics(bootstrap, [probe_topic], partitions=1, replication_factor=REPLICAS,
                        min_insync_replicas=MIN_INSYNC)
    stalls, stop_probe = Stalls(), asyncio.Event()
    client = make_producer(bootstrap, "probe")
    await client.start()
    prober = asyncio.create_task(probe(client, probe_topic, stalls, stop_probe))
    load = Load(p, RATE)
    try:  # the load goes on through the kill, the outage and the restart
        load.start()
        await asyncio.sleep(BEFORE_S)
        # the victim leads partition 0 of the orders topic: its leadership must move
        victim = next(n for n in kafka_cluster.nodes
                      if n.node_id == min(parts, key=lambda x: x["partition"])["leader"])
        victim.kill()
        killed_at = time.monotonic()
        await asyncio.sleep(DOWN_S)
        await asyncio.to_thread(victim.start, 180)
        restarted_s = time.monotonic() - killed_at
        await asyncio.sleep(AFTER_S)
        await load.stop()
        result = await outcome(p, load.acknowledged, load.cancelled)
        isr_s, parts_after = 0.0, list[dict[str, Any]]()
        for topic in (ORDERS_TOPIC, DELIVERIES_TOPIC, probe_topic):
            took, described = await until_replicated(bootstrap, topic, REPLICAS)
            isr_s, parts_after = max(isr_s, took), parts_after + described
    finally:
        await load.stop()
        stop_probe.set()
        await prober
        await client.stop()
        await asyncio.to_thread(p.stop)
    preferred = sum(x["leader"] == x["replicas"][0] for x in parts_after)
    report("kafka cluster: broker SIGKILL, orders over HTTP (2 api processes)",
           killed=f"node {victim.node_id}", down_s=f"{restarted_s:.1f}", **result.figures(),
           failed_requests=load.failed, longest_http_stall_s=f"{load.longest_stall:.2f}",
           longest_producer_stall_s=f"{stalls.longest:.2f}", probe_failures=stalls.failures,
           isr_restored_after_s=f"{isr_s:.1f}",
           preferred_leaders=f"{preferred}/{len(parts_after)}")
    result.check()
    assert all(len(x["isr"]) == REPLICAS and x["leader"] >= 0 for x in parts_after)
