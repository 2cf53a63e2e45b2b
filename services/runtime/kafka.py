"""Kafka clients built from settings, and topic creation."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from contracts.registry import TOPIC_BY_NAME, dead_letter_topic

log = logging.getLogger("vbp.kafka")


def make_producer(bootstrap_servers: str, client_id: str) -> AIOKafkaProducer:
    """The idempotent producer (``enable_idempotence`` implies ``acks=all``)."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        request_timeout_ms=15_000,
        retry_backoff_ms=200,
    )


async def start_with_retry(
    starter: AIOKafkaProducer | AIOKafkaAdminClient, *, what: str, timeout: float = 60.0
) -> None:
    """Start a client, retrying while the broker is not reachable yet."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    delay = 0.2
    while True:
        try:
            await starter.start()
            return
        except KafkaError as exc:
            if loop.time() > deadline:
                raise
            log.warning("%s: broker not reachable yet (%s), retrying", what, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 3.0)


def replication_for(brokers: int, replication_factor: int,
                    min_insync_replicas: int) -> tuple[int, int]:
    """The replication factor and ``min.insync.replicas`` to create topics with on a cluster of
    ``brokers``: the settings, capped at the brokers there are (a single dev broker still gets
    its topics) and the minimum at the replicas there will be (else no ``acks=all`` write could
    ever succeed)."""
    replicas = max(1, min(replication_factor, brokers))
    return replicas, max(1, min(min_insync_replicas, replicas))


async def ensure_topics(
    bootstrap_servers: str, names: Iterable[str], *, partitions: int = 4, dlt: bool = True,
    replication_factor: int = 1, min_insync_replicas: int = 1,
) -> None:
    """Create the topics (and their dead-letter topics) if missing, with ``replication_factor``
    replicas and ``min.insync.replicas`` (``Settings.kafka_replication_factor`` and
    ``kafka_min_insync_replicas``; see :func:`replication_for`)."""
    wanted: dict[str, int] = {}
    for name in names:
        topic = TOPIC_BY_NAME.get(name)
        wanted[name] = topic.partitions if topic else partitions
        if dlt:
            wanted[dead_letter_topic(name)] = 1
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="vbp-admin")
    await start_with_retry(admin, what="admin")
    try:
        existing = set(await admin.list_topics())
        missing = sorted((n, p) for n, p in wanted.items() if n not in existing)
        if not missing:
            return
        replicas, min_isr = replication_for(
            len((await admin.describe_cluster())["brokers"]), replication_factor,
            min_insync_replicas)
        if (replicas, min_isr) != (replication_factor, min_insync_replicas):
            log.warning("topics created with replication %d and min.insync.replicas %d "
                        "(asked %d and %d): the cluster has fewer brokers", replicas, min_isr,
                        replication_factor, min_insync_replicas)
        configs = {"min.insync.replicas": str(min_isr)}
        new = [NewTopic(name=n, num_partitions=p, replication_factor=replicas,
                        topic_configs=configs) for n, p in missing]
        try:
            await admin.create_topics(new)
        except TopicAlreadyExistsError:
            pass
    finally:
        await admin.close()
