"""Idempotent consumers on the real PostgreSQL and Kafka: crashes, rebalances, poison."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import TopicPartition

from contracts.base import CloudEvent
from contracts.registry import dead_letter_topic
from services.runtime.db import UnitOfWork
from services.runtime.deadletters import replay_dead_letters
from services.runtime.kafka import ensure_topics
from tests.integration.harness import Harness, Pinged, apply_ping

pytestmark = pytest.mark.integration


class Crash(Exception):
    """Stands for the process dying at that point."""


async def publish_all(harness: Harness) -> None:
    relay = await harness.relay()
    while await relay.publish_batch():
        pass


async def test_crash_after_db_commit_before_offset_commit_applies_once(
        harness: Harness) -> None:
    await harness.record(30)
    await publish_all(harness)
    first = harness.consumer()

    async def crash(tp: TopicPartition, offset: int) -> None:
        raise Crash(f"died before committing {tp} @ {offset}")

    first.before_offset_commit = crash
    await first.start()
    await harness.wait_applied(1, timeout=30)
    for _ in range(100):
        if first.crashed is not None:
            break
        await asyncio.sleep(0.1)
    assert isinstance(first.crashed, Crash)
    await first.stop()
    applied_before_restart = (await harness.applied())[1]
    assert applied_before_restart >= 1

    second = harness.consumer()  # same group: gets the uncommitted records again
    await second.start()
    rows, distinct = await harness.wait_applied(30)
    assert (rows, distinct) == (30, 30)


async def test_two_instances_one_stopped_mid_stream_apply_each_event_once(
        harness: Harness) -> None:
    total = 600
    await harness.record(total, keys=40)
    await publish_all(harness)
    slow_calls = 0

    async def slow_apply(uow: UnitOfWork, event: Pinged, ce: CloudEvent) -> None:
        nonlocal slow_calls
        slow_calls += 1
        await asyncio.sleep(0.005)
        await apply_ping(uow, event, ce)

    a = harness.consumer(slow_apply)
    b = harness.consumer(slow_apply)
    await a.start()
    await b.start()
    await harness.wait_applied(total // 4, timeout=60)
    await a.stop()  # mid-stream: b takes over a's partitions
    rows, distinct = await harness.wait_applied(total, timeout=90)
    assert (rows, distinct) == (total, total)


async def test_unreadable_message_goes_to_dead_letters_and_partition_moves_on(
        harness: Harness) -> None:
    producer = harness.producers[0]
    await ensure_topics(harness.bootstrap, [harness.topic])
    await producer.send_and_wait(harness.topic, b"\xff not json", key=b"k0", partition=0)
    await producer.send_and_wait(harness.topic, b'{"ping_id": "k0"}', key=b"k0", partition=0,
                                 headers=[("ce_type", b"vbp.test.pinged.v1")])
    await harness.record(5, keys=1)
    await publish_all(harness)
    consumer = harness.consumer()
    await consumer.start()
    rows, distinct = await harness.wait_applied(5)
    assert (rows, distinct) == (5, 5)
    letters = await harness.read_topic(dead_letter_topic(harness.topic), expect=2)
    assert len(letters) == 2
    errors = [dict(r.headers)["dlt_error"].decode() for r in letters]
    assert all(e.startswith("unreadable") for e in errors)
    assert dict(letters[0].headers)["dlt_original_topic"].decode() == harness.topic


async def test_failing_handler_is_retried_then_dead_lettered_then_replayed(
        harness: Harness) -> None:
    await harness.record(3, keys=1)
    await publish_all(harness)
    broken = True
    attempts = 0

    async def flaky(uow: UnitOfWork, event: Pinged, ce: CloudEvent) -> None:
        nonlocal attempts
        if broken and event.n == 1:
            attempts += 1
            raise ValueError("cannot apply n=1 yet")
        await apply_ping(uow, event, ce)

    consumer = harness.consumer(flaky, max_retries=2)
    await consumer.start()
    rows, distinct = await harness.wait_applied(2)
    assert (rows, distinct) == (2, 2)  # n=0 and n=2: the partition moved on
    letters = await harness.read_topic(dead_letter_topic(harness.topic), expect=1)
    assert len(letters) == 1
    assert dict(letters[0].headers)["dlt_attempts"] == b"3"
    assert "cannot apply n=1 yet" in dict(letters[0].headers)["dlt_error"].decode()
    assert attempts == 4  # once inside the chunk (rolled back), then 1 + 2 retries alone

    broken = False  # the bug is fixed; the dead letter goes back
    assert await replay_dead_letters(harness.bootstrap, harness.topic) == 1
    rows, distinct = await harness.wait_applied(3)
    assert (rows, distinct) == (3, 3)
    assert await replay_dead_letters(harness.bootstrap, harness.topic) == 0  # nothing twice
