"""Transactional outbox and relay on the real PostgreSQL and Kafka."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from services.catalog.app import SPEC as CATALOG
from services.devstack.kafka import KafkaBroker, ensure_jars
from services.runtime.app import Runtime
from services.runtime.app import create_app as build
from services.runtime.db import COPY_OVER, outbox
from services.runtime.kafka import ensure_topics
from services.runtime.outbox import OutboxRelay, unpublished_count
from tests.integration.apps import eventually, running
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


async def test_relay_killed_after_send_before_mark_sends_nothing_twice_after_restart(
        harness: Harness) -> None:
    ids = await harness.record(20)
    relay = await harness.relay()

    async def killed(_: list[int]) -> None:
        raise RuntimeError("relay killed after the send, before marking published")

    relay.after_send = killed
    with pytest.raises(RuntimeError):
        await relay.publish_batch()
    assert await unpublished_count(harness.engine) == 20  # nothing was marked

    restarted = await harness.relay()  # a new process: it looks on Kafka first
    assert await restarted.publish_batch() == 20
    assert restarted.reconciled == 20
    assert await unpublished_count(harness.engine) == 0
    records = await harness.read_topic(expect=21, timeout=5)
    assert sorted(dict(r.headers)["ce_id"].decode() for r in records) == sorted(ids)

    consumer = harness.consumer()
    await consumer.start()
    rows, distinct = await harness.wait_applied(len(ids))
    assert (rows, distinct) == (20, 20)


async def test_a_published_mark_lost_is_not_sent_again_and_key_order_is_kept(
        harness: Harness) -> None:
    """The round's transaction dies after the send (a PostgreSQL failover: the promoted
    standby never saw the mark); rows committed meanwhile go out after those on Kafka."""
    first = await harness.record(30, keys=3)
    relay = await harness.relay()

    async def primary_lost(_: list[int]) -> None:
        raise ConnectionResetError("the primary died before the mark committed")

    relay.after_send = primary_lost
    with pytest.raises(ConnectionResetError):
        await relay.publish_batch()
    relay.after_send = None
    second = await harness.record(30, keys=3, start=30)
    assert await relay.publish_batch() == 60
    assert relay.reconciled == 30
    assert await relay.publish_batch() == 0
    records = await harness.read_topic(expect=61, timeout=5)
    sent = [dict(r.headers)["ce_id"].decode() for r in records]
    assert sorted(sent) == sorted(first + second)  # each once
    by_key: dict[bytes, list[int]] = {}
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        by_key.setdefault(record.key, []).append(json.loads(record.value)["n"])
    assert all(ns == sorted(ns) for ns in by_key.values()), by_key


async def test_a_relay_taking_over_from_one_that_died_mid_round_sends_nothing_twice(
        harness: Harness) -> None:
    """Two worker processes' relays: the one holding the lock dies after its send, before its
    mark; the other, refused the lock meanwhile, looks on Kafka before its next send."""
    other = await harness.relay()
    assert await other.publish_batch() == 0  # running already: its start-up look is done
    ids = await harness.record(20)
    dying = await harness.relay()

    async def process_killed(_: list[int]) -> None:
        assert await other.publish_batch() == 0  # refused: the lock is held mid-round
        raise RuntimeError("the process died after the send, before the mark")

    dying.after_send = process_killed
    with pytest.raises(RuntimeError):
        await dying.publish_batch()
    assert await other.publish_batch() == 20
    assert other.reconciled == 20
    records = await harness.read_topic(expect=21, timeout=5)
    assert sorted(dict(r.headers)["ce_id"].decode() for r in records) == sorted(ids)


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


def metric(name: str, service: str) -> float:
    return REGISTRY.get_sample_value(name, {"service": service}) or 0.0


async def test_while_the_broker_is_down_the_backlog_gauges_move_failures_count_and_after_it_each_event_is_published_once(  # noqa: E501
        database_url: str, tmp_path: Path) -> None:
    """Issue #12 item 7: a broker of the test's own, stopped while events are committed. The
    backlog and oldest-age gauges are measured from the database, not at the start of a relay
    round blocked in its send; the sends time out and are counted; the deliveries stay in the
    producer, so when the broker is back each event is on Kafka once, not once per round."""
    broker = KafkaBroker(ensure_jars(), tmp_path / "kafka", heap="384m")
    await asyncio.to_thread(broker.start)
    service = f"outage_{uuid.uuid4().hex[:8]}"
    spec = dataclasses.replace(CATALOG, name=service)
    topic = f"test.{uuid.uuid4().hex[:10]}.v1"
    event = pinged_on(topic)
    try:
        await ensure_topics(broker.bootstrap_servers, [topic], partitions=2)
        async with running(lambda settings: build(spec, settings), service, database_url,
                           broker.bootstrap_servers, relay_send_timeout_s=1.0,
                           outbox_sample_interval_s=0.2) as client:
            runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
            assert runtime.relay is not None

            async def record(n: int, start: int) -> list[str]:
                async with runtime.uow() as uow:
                    ids = [uow.record(event(ping_id=f"k{i % 3}", n=i)).id
                           for i in range(start, start + n)]
                    await uow.commit()
                return ids

            before = await record(5, 0)

            async def all_published() -> None:
                assert await unpublished_count(runtime.engine) == 0  # type: ignore[arg-type]

            await eventually(all_published)
            failures = metric("vbp_outbox_publish_failures_total", service)
            await asyncio.to_thread(broker.stop)
            during = await record(20, 5)
            await asyncio.sleep(1.5)  # the relay is in a round now, its send not acknowledged
            during += await record(10, 25)

            async def backlog_shown() -> None:
                assert metric("vbp_outbox_backlog_events", service) == 30

            await eventually(backlog_shown, timeout=10)
            age = metric("vbp_outbox_oldest_unpublished_age_seconds", service)
            await asyncio.sleep(1.5)
            assert metric("vbp_outbox_oldest_unpublished_age_seconds", service) >= age + 1.0

            async def timeouts_counted() -> None:
                assert metric("vbp_outbox_send_timeouts_total", service) >= 2
                assert metric("vbp_outbox_publish_failures_total", service) >= failures + 2

            await eventually(timeouts_counted, timeout=20)
            assert await unpublished_count(runtime.engine) == 30  # type: ignore[arg-type]
            assert runtime.relay.in_flight > 0  # waiting on its deliveries, not sending again

            await asyncio.to_thread(broker.start)
            await eventually(all_published, timeout=90)

            async def backlog_gone() -> None:
                assert metric("vbp_outbox_backlog_events", service) == 0
                assert metric("vbp_outbox_oldest_unpublished_age_seconds", service) == 0

            await eventually(backlog_gone, timeout=10)
            h = Harness(runtime.engine, broker.bootstrap_servers, topic)  # type: ignore[arg-type]
            records = await h.read_topic(expect=len(before) + len(during) + 1, timeout=5)
            sent = sorted(dict(r.headers)["ce_id"].decode() for r in records)
            assert sent == sorted(before + during)  # every event, each once
    finally:
        await asyncio.to_thread(broker.stop)


async def test_a_fresh_app_exports_every_runtime_counter_at_zero(database_url: str) -> None:
    """Issue #12 item 7: an absent series must never mean "fine". Before anything happened,
    and even with Kafka unreachable, /metrics shows the relay's and the consumers' counters at
    0 for the service's labels, and the backlog measured from the database."""
    service = f"fresh_{uuid.uuid4().hex[:8]}"
    spec = dataclasses.replace(CATALOG, name=service)
    async with running(lambda settings: build(spec, settings), service, database_url,
                       "127.0.0.1:9", ready=False) as client:

        async def scraped() -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
            text = (await client.get("/metrics")).text
            return {(sample.name, frozenset(sample.labels.items())): sample.value
                    for family in text_string_to_metric_families(text)
                    for sample in family.samples if sample.labels.get("service") == service}

        def key(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
            return name, frozenset({"service": service, **labels}.items())

        samples = await scraped()

        async def backlog_measured() -> None:
            assert (await scraped()).get(key("vbp_outbox_backlog_events")) == 0

        await eventually(backlog_measured, timeout=10)
    expected = [key("vbp_outbox_publish_failures_total"), key("vbp_outbox_send_timeouts_total")]
    expected += [key("vbp_outbox_published_total", topic=t) for t in CATALOG.publishes]
    consumed = {(c.name, t) for c in CATALOG.consumers for t in c.topics}
    assert consumed
    for consumer, topic in consumed:
        expected.append(key("vbp_dead_letters_total", topic=topic))
        expected += [key("vbp_consumer_events_total", consumer=consumer, topic=topic,
                         outcome=outcome)
                     for outcome in ("processed", "duplicate", "ignored", "retried",
                                     "dead_lettered")]
    assert {k: samples.get(k) for k in expected} == dict.fromkeys(expected, 0.0)


async def test_a_relay_woken_after_a_quiet_moment_publishes_at_once_and_gathers_while_busy(
        harness: Harness) -> None:
    """Woken by a commit, the relay starts a round at once when none started within
    ``gather_s``; a commit right after waits until ``gather_s`` after that round's start."""
    relay = OutboxRelay(harness.engine, await harness.producer(), service="test",
                        clock=harness.clock, interval=3600, gather_s=3.0)
    harness.relays.append(relay)
    await relay.start()
    await asyncio.sleep(3.3)  # its first round (nothing to publish) is more than gather_s ago
    await harness.record(1)
    relay.wake()

    async def drained() -> None:
        assert await unpublished_count(harness.engine) == 0

    await eventually(drained, timeout=2.5)  # at once, not gather_s later
    await harness.record(1)
    relay.wake()
    await asyncio.sleep(0.3)
    assert await unpublished_count(harness.engine) == 1  # gathered: waits for gather_s
    await eventually(drained, timeout=10)
    await relay.stop()
