"""Idempotent consumers on the real PostgreSQL and Kafka: crashes, rebalances, poison."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest
from aiokafka import TopicPartition
from prometheus_client import REGISTRY
from sqlalchemy import func, insert, select, update

from contracts.base import CloudEvent
from contracts.registry import dead_letter_topic
from services.runtime.consumer import BatchHandler, ConsumerSpec, EventConsumer, Routes
from services.runtime.db import UnitOfWork, held_events, outbox, processed_events
from services.runtime.deadletters import replay_dead_letters
from services.runtime.kafka import ensure_topics, partition_of
from tests.integration.harness import Harness, Pinged, apply_ping, effects

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
    """Issue #12.2: once n=1 of key k0 is dead-lettered, the later n=2 of k0 is held, not
    applied (other keys go on); the replay applies n=1, then n=2, in that order."""
    await harness.record(3, keys=1)
    await harness.record(2, keys=1, start=3, key_prefix="other")
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
    letters = await harness.read_topic(dead_letter_topic(harness.topic), expect=1)
    assert len(letters) == 1
    assert dict(letters[0].headers)["dlt_attempts"] == b"3"
    assert "cannot apply n=1 yet" in dict(letters[0].headers)["dlt_error"].decode()
    assert attempts == 4  # once inside the chunk (rolled back), then 1 + 2 retries alone
    rows, distinct = await harness.wait_applied(3)
    assert (rows, distinct) == (3, 3)  # n=0, and the other key's n=3, 4
    assert await held_count(harness) == 1  # n=2 waits behind its key's dead letter
    assert sorted(n for _, n in await effect_rows(harness)) == [0, 3, 4]

    broken = False  # the bug is fixed; the dead letter goes back
    assert await replay_dead_letters(harness.bootstrap, harness.topic) == 1
    rows, distinct = await harness.wait_applied(5)
    assert (rows, distinct) == (5, 5)
    assert [n for key, n in await effect_rows(harness) if key == "k0"] == [0, 1, 2]
    assert await held_count(harness) == 0
    assert await replay_dead_letters(harness.bootstrap, harness.topic) == 0  # nothing twice


async def test_held_key_survives_a_restart_and_a_cancel_is_never_overtaken(
        harness: Harness) -> None:
    """Issue #12.2, the reported case: the first event of an order is dead-lettered, the later
    ones (a cancel) arrive while a fresh instance runs; after the replay, the first is applied
    before the later ones, and a second dead letter of the key keeps holding it."""
    await harness.record(1, keys=1)
    await publish_all(harness)
    failing = {0}

    async def flaky(uow: UnitOfWork, event: Pinged, ce: CloudEvent) -> None:
        if event.n in failing:
            raise ValueError(f"cannot apply n={event.n}")
        await apply_ping(uow, event, ce)

    first = harness.consumer(flaky, max_retries=0)
    await first.start()
    await harness.read_topic(dead_letter_topic(harness.topic), expect=1)
    await wait_for(lambda: consumer_events(harness, "dead_lettered"), 1)
    await first.stop()
    await harness.record(3, keys=1, start=1)  # n=1, 2, 3 of the same key
    await publish_all(harness)
    second = harness.consumer(flaky, max_retries=0)  # knows the key is held from the database
    await second.start()
    await wait_for(lambda: held_count(harness), 3)
    assert await harness.applied() == (0, 0)

    failing = {2}  # n=0 is fixed, n=2 is broken in turn
    assert await replay_dead_letters(harness.bootstrap, harness.topic) == 1
    await harness.wait_applied(2)
    await wait_for(lambda: held_count(harness), 1)  # n=3 waits behind n=2, dead-lettered
    assert [n for _, n in await effect_rows(harness)] == [0, 1]
    failing = set()
    assert await replay_dead_letters(harness.bootstrap, harness.topic) == 1
    rows, distinct = await harness.wait_applied(4)
    assert (rows, distinct) == (4, 4)
    assert [n for _, n in await effect_rows(harness)] == [0, 1, 2, 3]
    assert await held_count(harness) == 0


async def held_count(harness: Harness) -> int:
    async with harness.engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(held_events)) or 0)


def consumer_events(harness: Harness, outcome: str) -> Awaitable[int]:
    async def value() -> int:
        return int(REGISTRY.get_sample_value("vbp_consumer_events_total", {
            "service": "test", "consumer": "pings", "topic": harness.topic,
            "outcome": outcome}) or 0)
    return value()


async def wait_for(probe: Callable[[], Awaitable[int]], expected: int,
                   timeout: float = 30) -> int:
    """Polls ``probe()`` until it gives ``expected`` (or the time is up); returns the last."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        got = await probe()
        if got == expected or loop.time() > deadline:
            return got
        await asyncio.sleep(0.1)


# --- the batch route: runs of one type applied together ------------------------------------------


def batch_consumer(harness: Harness, batch: BatchHandler, *, routes: Routes | None = None,
                   **kwargs: Any) -> EventConsumer:
    spec = ConsumerSpec(name="pings", routes=routes or {}, batch_routes={harness.event: batch})
    consumer = EventConsumer(
        spec, service="test", engine=harness.engine, clock=harness.clock,
        bootstrap_servers=harness.bootstrap, dlt_producer=harness.producers[0],
        group_id=harness.group, backoff=0.05, **kwargs)
    harness.consumers.append(consumer)
    return consumer


class Calls:
    """A batch handler that inserts its events' effects in one statement, and remembers the n
    of the events of every call."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.calls: list[list[int]] = []
        self.fail_on = fail_on

    async def __call__(self, uow: UnitOfWork, items: Sequence[tuple[Pinged, CloudEvent]]
                       ) -> None:
        self.calls.append([event.n for event, _ in items])
        await uow.conn.execute(insert(effects), [
            {"event_id": ce.id, "ping_id": event.ping_id, "n": event.n} for event, ce in items])
        if self.fail_on is not None and any(event.n == self.fail_on for event, _ in items):
            raise ValueError(f"cannot apply n={self.fail_on}")


async def effect_rows(harness: Harness) -> list[tuple[str, int]]:
    """(ping id, n) of every effect, in the order they were applied."""
    async with harness.engine.connect() as conn:
        rows = await conn.execute(select(effects.c.ping_id, effects.c.n).order_by(effects.c.seq))
        return [(ping_id, n) for ping_id, n in rows.all()]


async def test_batch_route_skips_duplicates_in_the_chunk_and_already_processed(
        harness: Harness) -> None:
    ids = await harness.record(8, keys=1)  # one key: one partition, one chunk
    await publish_all(harness)
    async with harness.engine.begin() as conn:  # as if a crash after sending, before marking
        await conn.execute(update(outbox).where(outbox.c.event_id.in_(ids[2:5]))
                           .values(published_at=None))
        await conn.execute(insert(processed_events).values(  # n=6 was applied before
            consumer="pings", event_id=ids[6], topic=harness.topic,
            processed_at=harness.clock.now()))
    await publish_all(harness)  # n=2, 3, 4 are on the topic twice
    calls = Calls()
    consumer = batch_consumer(harness, calls)
    await consumer.start()
    rows, distinct = await harness.wait_applied(7)
    assert (rows, distinct) == (7, 7)
    assert sorted(n for _, n in await effect_rows(harness)) == [0, 1, 2, 3, 4, 5, 7]
    assert sorted(n for call in calls.calls for n in call) == [0, 1, 2, 3, 4, 5, 7]
    assert max(len(call) for call in calls.calls) > 1, calls.calls  # it did go as a batch


async def test_batch_with_a_failing_event_applies_the_others_once_and_dead_letters_it(
        harness: Harness) -> None:
    """n=3 of key k1 fails: the others of the batch are applied once, n=3 is dead-lettered and
    k1's later n=5 held until the replay (issue #12.2), then applied after n=3."""
    await harness.record(6, keys=2)  # k0: 0, 2, 4; k1: 1, 3, 5
    await publish_all(harness)
    calls = Calls(fail_on=3)
    consumer = batch_consumer(harness, calls, max_retries=1)
    await consumer.start()
    rows, distinct = await harness.wait_applied(4)
    assert (rows, distinct) == (4, 4)  # the failed attempts were rolled back
    assert sorted(n for _, n in await effect_rows(harness)) == [0, 1, 2, 4]
    letters = await harness.read_topic(dead_letter_topic(harness.topic), expect=1)
    assert len(letters) == 1
    assert "cannot apply n=3" in dict(letters[0].headers)["dlt_error"].decode()
    assert dict(letters[0].headers)["dlt_attempts"] == b"2"
    assert json.loads(letters[0].value)["n"] == 3
    assert len(calls.calls[0]) > 1, calls.calls  # the chunk as a batch first
    alone = [call[0] for call in calls.calls if len(call) == 1]
    assert alone.count(3) == 2, calls.calls  # then one at a time, n=3 with its retry
    assert 5 not in alone  # held behind n=3

    calls.fail_on = None
    assert await replay_dead_letters(harness.bootstrap, harness.topic) == 1
    rows, distinct = await harness.wait_applied(6)
    assert (rows, distinct) == (6, 6)
    assert [n for key, n in await effect_rows(harness) if key == "k1"] == [1, 3, 5]


async def test_batch_runs_keep_the_order_of_each_key_around_other_types(
        harness: Harness) -> None:
    """Pinged goes in batches, Ponged one at a time, on the same topic and keys: a batch never
    takes a Pinged past a Ponged of its partition."""
    ponged = type("Ponged", (harness.event,), {"TYPE": "vbp.test.ponged.v1",
                                                "__module__": __name__})
    total = 120
    async with harness.uow() as uow:
        for i in range(total):
            cls = ponged if i % 7 in (3, 4) else harness.event
            uow.record(cls(ping_id=f"k{i % 3}", n=i))
        await uow.commit()
    await publish_all(harness)
    calls = Calls()
    consumer = batch_consumer(harness, calls, routes={ponged: apply_ping})
    await consumer.start()
    rows, distinct = await harness.wait_applied(total)
    assert (rows, distinct) == (total, total)
    applied = await effect_rows(harness)
    for key in ("k0", "k1", "k2"):
        ns = [n for ping_id, n in applied if ping_id == key]
        assert ns == sorted(ns), f"{key} out of order: {ns}"
    batched = sorted(n for call in calls.calls for n in call)
    assert batched == [i for i in range(total) if i % 7 not in (3, 4)]
    assert max(len(call) for call in calls.calls) > 1, calls.calls


# --- the chunk route: runs of mixed types applied together -------------------------------------


def chunk_consumer(harness: Harness, handler: BatchHandler, types: Sequence[Any],
                   **kwargs: Any) -> EventConsumer:
    spec = ConsumerSpec(name="pings", routes={}, chunk_routes=dict.fromkeys(types, handler))
    consumer = EventConsumer(
        spec, service="test", engine=harness.engine, clock=harness.clock,
        bootstrap_servers=harness.bootstrap, dlt_producer=harness.producers[0],
        group_id=harness.group, backoff=0.05, **kwargs)
    harness.consumers.append(consumer)
    return consumer


async def test_chunk_route_applies_interleaved_types_together_in_partition_order(
        harness: Harness) -> None:
    """Pinged and Ponged interleave on one topic and go to one chunk handler: whole chunks in
    one call each, every key in its order. n=10 (key k1) fails: the others of its chunk are
    applied once, n=10 is dead-lettered and k1's later events held until its replay."""
    ponged = type("Ponged", (harness.event,), {"TYPE": "vbp.test.ponged.v1",
                                                "__module__": __name__})
    total = 60
    async with harness.uow() as uow:
        for i in range(total):
            cls = ponged if i % 2 else harness.event
            uow.record(cls(ping_id=f"k{i % 3}", n=i))
        await uow.commit()
    await publish_all(harness)
    calls = Calls(fail_on=10)
    consumer = chunk_consumer(harness, calls, [harness.event, ponged], max_retries=0)
    await consumer.start()
    first = [n for n in range(total) if not (n % 3 == 1 and n >= 10)]
    rows, distinct = await harness.wait_applied(len(first))
    assert (rows, distinct) == (len(first), len(first))
    letters = await harness.read_topic(dead_letter_topic(harness.topic), expect=1)
    assert [json.loads(letter.value)["n"] for letter in letters] == [10]
    assert sorted(n for _, n in await effect_rows(harness)) == first
    mixed = [call for call in calls.calls if len(call) > 1]
    assert any(n % 2 for call in mixed for n in call) and any(
        n % 2 == 0 for call in mixed for n in call), calls.calls  # both types in one call

    calls.fail_on = None
    assert await replay_dead_letters(harness.bootstrap, harness.topic) == 1
    rows, distinct = await harness.wait_applied(total)
    assert (rows, distinct) == (total, total)
    applied = await effect_rows(harness)
    for key in ("k0", "k1", "k2"):
        ns = [n for ping_id, n in applied if ping_id == key]
        assert ns == sorted(ns), f"{key} out of order: {ns}"


async def test_a_fetch_of_several_partitions_is_applied_together_each_key_in_order(
        harness: Harness) -> None:
    """What one fetch brings of all partitions goes into one transaction (set-wise per poll),
    and each key still keeps its order."""
    await harness.record(200, keys=20)
    await publish_all(harness)
    parts = sorted(await harness.producers[0].partitions_for(harness.topic))
    assert len(parts) > 1
    calls = Calls()
    consumer = batch_consumer(harness, calls)
    await consumer.start()
    rows, distinct = await harness.wait_applied(200)
    assert (rows, distinct) == (200, 200)
    by_key: dict[str, list[int]] = {}
    for key, n in await effect_rows(harness):
        by_key.setdefault(key, []).append(n)
    assert all(ns == sorted(ns) for ns in by_key.values()), by_key
    spans = [{partition_of(f"k{n % 20}".encode(), len(parts)) for n in call}
             for call in calls.calls]
    assert max(len(span) for span in spans) > 1, calls.calls  # partitions together
