"""Reading partitions from given offsets up to given end offsets in large batches, for a replay
(a read model's rebuild), with librdkafka (``confluent_kafka``): its fetching and record
parsing run in C and in its own threads, ``consume(num_messages=…)`` hands over a batch in one
call. The live consumers keep aiokafka (``runtime.consumer``); this reader has no group, no
commits and no rebalancing: the partitions are assigned, read once and the reader closed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException
from confluent_kafka import TopicPartition as RdTopicPartition


@dataclass(frozen=True)
class Record:
    """A record as the projectors' decoding takes it (``envelope.decode_as``)."""
    value: bytes | None
    headers: list[tuple[str, bytes]]


Partition = tuple[str, int]


def _consumer(bootstrap: str) -> Consumer:
    return Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": "vbp-replay",  # never joined nor committed: the partitions are assigned
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "enable.partition.eof": True,
        "isolation.level": "read_committed",
        "fetch.max.bytes": 64 * 1024 * 1024,
        "max.partition.fetch.bytes": 16 * 1024 * 1024,
        "queued.max.messages.kbytes": 256 * 1024,
    })


async def read(bootstrap: str, first: Mapping[Partition, int], end: Mapping[Partition, int],
               batch: int) -> AsyncIterator[list[Record]]:
    """The records of the partitions of ``first`` from its offsets up to (not including) those
    of ``end``, in their partition's order, in batches of at most ``batch`` (records of
    different partitions may share a batch). The blocking ``consume`` runs in a thread, so
    the caller's other tasks (its database round trips) go on meanwhile."""
    wanted = {tp: end.get(tp, 0) for tp in first if first[tp] < end.get(tp, 0)}
    if not wanted:
        return
    consumer = _consumer(bootstrap)
    try:
        consumer.assign([RdTopicPartition(t, p, first[(t, p)]) for t, p in wanted])
        remaining = set(wanted)

        def done(tp: Partition) -> None:
            if tp in remaining:
                remaining.discard(tp)
                consumer.pause([RdTopicPartition(*tp)])  # no fetching past its end

        while remaining:
            messages: Sequence[Any] = await asyncio.to_thread(consumer.consume, batch, 0.5)
            records: list[Record] = []
            for message in messages:
                tp = (message.topic(), message.partition())
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        done(tp)  # the end offsets were taken before: all read
                        continue
                    raise KafkaException(error)
                if tp not in remaining:
                    continue
                offset = message.offset()
                if offset >= wanted[tp]:
                    done(tp)
                    continue
                records.append(Record(message.value(), message.headers() or []))
                if offset + 1 >= wanted[tp]:
                    done(tp)
            if records:
                yield records
    finally:
        await asyncio.to_thread(consumer.close)
