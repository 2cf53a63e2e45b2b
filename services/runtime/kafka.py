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


async def ensure_topics(
    bootstrap_servers: str, names: Iterable[str], *, partitions: int = 4, dlt: bool = True
) -> None:
    """Create the topics (and their dead-letter topics) if missing."""
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
        new = [
            NewTopic(name=n, num_partitions=p, replication_factor=1)
            for n, p in sorted(wanted.items())
            if n not in existing
        ]
        if new:
            try:
                await admin.create_topics(new)
            except TopicAlreadyExistsError:
                pass
    finally:
        await admin.close()
