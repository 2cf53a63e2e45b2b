"""Replaying dead letters: records on ``<topic>.dlt`` go back to their original topic.

Each consumer group dead-letters its own copy of an event it failed (header ``dlt_consumer``), so
a replayed record carries ``dlt_replay_for`` naming that group: only that group applies it, the
others skip it (they had applied the event, or dead-lettered their own copy, which is replayed
for them). One replay therefore gives each failed group its event once, never every group every
copy. Replayed records keep their CloudEvents id, so a group that did apply one after all skips
it; ``dlt_replay_of`` says which dead letter a record replays.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from contracts.registry import dead_letter_topic

REPLAY_GROUP = "vbp-dlt-replay"
REPLAY_FOR_HEADER = "dlt_replay_for"
"""On a replayed record: the consumer group that dead-lettered it, the only one to apply it."""
REPLAY_OF_HEADER = "dlt_replay_of"


async def replay_dead_letters(
    bootstrap_servers: str, topic: str, *, group_id: str = REPLAY_GROUP, idle_s: float = 2.0
) -> int:
    """Send every not-yet-replayed dead letter of ``topic`` back to it; returns how many."""
    dlt = dead_letter_topic(topic)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, group_id=group_id, enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, enable_idempotence=True)
    await consumer.start()
    await producer.start()
    replayed = 0
    try:
        if dlt not in await consumer.topics():  # also refreshes this client's metadata
            return 0
        partitions = consumer.partitions_for_topic(dlt) or set()
        tps = [TopicPartition(dlt, p) for p in sorted(partitions)]
        if not tps:
            return 0
        consumer.assign(tps)
        end = await consumer.end_offsets(tps)
        for tp in tps:
            committed = await consumer.committed(tp)
            consumer.seek(tp, committed or 0)
        remaining = {tp for tp in tps if (await consumer.position(tp)) < end[tp]}
        while remaining:
            batches = await asyncio.wait_for(
                consumer.getmany(*remaining, timeout_ms=int(idle_s * 1000)), idle_s * 5
            )
            if not batches:
                break
            for tp, records in batches.items():
                for record in records:
                    if record.offset >= end[tp]:
                        break
                    headers = replay_headers(record.headers, tp, record.offset)
                    await producer.send_and_wait(
                        topic, value=record.value, key=record.key, headers=headers
                    )
                    replayed += 1
                    await consumer.commit({tp: record.offset + 1})
                if (await consumer.position(tp)) >= end[tp]:
                    remaining.discard(tp)
    finally:
        await producer.stop()
        await consumer.stop()
    return replayed


def replay_headers(headers: Sequence[tuple[str, bytes]], tp: TopicPartition, offset: int
                   ) -> list[tuple[str, bytes]]:
    """The original record's headers, and which group the replay is for (none if the dead
    letter does not say: then every group sees it, and skips it by id if it applied it)."""
    replayed = [(k, v) for k, v in headers if not k.startswith("dlt_")]
    failed_by = dict(headers).get("dlt_consumer")
    if failed_by:
        replayed.append((REPLAY_FOR_HEADER, failed_by))
    replayed.append((REPLAY_OF_HEADER, f"{tp.topic}/{tp.partition}@{offset}".encode()))
    return replayed
