"""Transactional outbox and relay on the real PostgreSQL and Kafka."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from services.runtime.db import COPY_OVER, outbox
from services.runtime.kafka import ensure_topics
from services.runtime.outbox import OutboxRelay, unpublished_count
from tests.integration.harness import Harness, pinged_on

pytestmark = pytest.mark.integration


async def test_committed_events_reach_kafka_as_cloudevents_and_are_marked(
        harness: Harness) -> None:
    ids = await harness.record(3)
    relay = await harness.relay()
    assert await relay.publish_batch() == 3
    assert await unpublished_count(harness.engine) == 0
    records = await harness.read_topic(expect=3)
    assert sorted(dict(r.headers)["ce_id"].decode() for r in records) == sorted(ids)
    first = min(records, key=lambda r: r.offset if r.key == b"k0" else 1 << 30)
    headers = dict(first.headers)
    assert headers["ce_type"] == b"vbp.test.pinged.v1"
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_subject"] == first.key
    assert headers["traceparent"].startswith(b"00-")
    assert headers["content-type"] == b"application/json"


async def test_rolled_back_work_publishes_nothing(harness: Harness) -> None:
    async with harness.uow() as uow:
        uow.record(harness.event(ping_id="k", n=1))
        await uow.flush_events()
        await uow.rollback()
    async with harness.engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(outbox)) == 0


async def test_a_row_that_commits_late_is_not_skipped(harness: Harness) -> None:
    """PostgreSQL hands ids out before commit: id 1 may commit after id 2."""
    relay = await harness.relay()
    late = harness.uow()
    await late.__aenter__()
    late_ce = late.record(harness.event(ping_id="late", n=1))
    await late.flush_events()  # holds the lower id, uncommitted
    early_ids = await harness.record(1)
    async with harness.engine.connect() as conn:
        late_id = await conn.scalar(select(func.max(outbox.c.id)))
    assert await relay.publish_batch() == 1  # only the committed one is visible
    await late.commit()
    await late.__aexit__(None, None, None)
    assert await relay.publish_batch() == 1  # the late one is found, not skipped
    records = await harness.read_topic(expect=2)
    assert {dict(r.headers)["ce_id"].decode() for r in records} == {late_ce.id, *early_ids}
    assert late_id is not None


async def test_relay_killed_after_send_before_mark_delivers_again_applied_once(
        harness: Harness) -> None:
    ids = await harness.record(20)
    relay = await harness.relay()

    async def killed(_: list[int]) -> None:
        raise RuntimeError("relay killed after the send, before marking published")

    relay.after_send = killed
    with pytest.raises(RuntimeError):
        await relay.publish_batch()
    assert await unpublished_count(harness.engine) == 20  # nothing was marked

    restarted = await harness.relay()
    assert await restarted.publish_batch() == 20
    assert len(await harness.read_topic(expect=40)) == 40  # each event is on Kafka twice

    consumer = harness.consumer()
    await consumer.start()
    rows, distinct = await harness.wait_applied(len(ids))
    assert (rows, distinct) == (20, 20)  # ...and applied once


async def test_per_key_order_is_kept(harness: Harness) -> None:
    await harness.record(200, keys=3)
    relay = await harness.relay()
    while await relay.publish_batch():
        pass
    records = await harness.read_topic(expect=200)
    by_key: dict[bytes, list[int]] = {}
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        import json

        by_key.setdefault(record.key, []).append(json.loads(record.value)["n"])
    assert len(by_key) == 3
    for seq in by_key.values():
        assert seq == sorted(seq)


async def test_a_large_transaction_copies_its_events_and_they_are_published_in_order(
        harness: Harness) -> None:
    """More than COPY_OVER events in one commit (an import's) go in with COPY: the same rows,
    in record order, published like any others."""
    n = COPY_OVER + 200
    async with harness.uow() as uow:
        ids = [uow.record(harness.event(ping_id="k", n=i)).id for i in range(n)]
        await uow.commit()
    async with harness.engine.connect() as conn:
        stored = (await conn.execute(select(outbox.c.event_id, outbox.c.ce_time,
                                            outbox.c.payload).order_by(outbox.c.id))).all()
    assert [r.event_id for r in stored] == ids
    assert all(r.ce_time.tzinfo is not None for r in stored)
    relay = await harness.relay()
    published = 0
    while (batch := await relay.publish_batch()) > 0:
        published += batch
    assert published == n
    records = await harness.read_topic(expect=n)
    assert [dict(r.headers)["ce_id"].decode() for r in records] == ids  # one key: one order


async def test_a_backlog_on_one_topic_does_not_hold_back_another(harness: Harness) -> None:
    """An import's thousands of events wait on their topic; an order placed meanwhile goes in
    the next round, not behind them (each round takes each topic's oldest rows)."""
    backlog = await harness.record(120, keys=3)
    other = f"{harness.topic}.other"
    await ensure_topics(harness.bootstrap, [other], partitions=1)
    async with harness.uow() as uow:
        urgent = uow.record(pinged_on(other)(ping_id="order", n=0)).id
        await uow.commit()
    relay = OutboxRelay(harness.engine, harness.producers[0], service="test",
                        clock=harness.clock, batch_size=50)
    assert await relay.publish_batch() == 51  # 50 of the backlog, and the other topic's one
    assert relay.more
    (record,) = await harness.read_topic(other, expect=1)
    assert dict(record.headers)["ce_id"].decode() == urgent
    assert await unpublished_count(harness.engine) == 70
    assert [await relay.publish_batch() for _ in range(3)] == [50, 20, 0]
    assert not relay.more
    records = await harness.read_topic(expect=120)
    assert sorted(dict(r.headers)["ce_id"].decode() for r in records) == sorted(backlog)
