"""Consumers through infrastructure faults and dead-letter replays, on the real PostgreSQL and
Kafka (issue #12: items 1, 4, 8, 9, 16). The PostgreSQL crash and the broker outage each use a
cluster or broker of their own, so the session's stay up for the other tests."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from contracts.base import CloudEvent
from contracts.registry import dead_letter_topic
from services.devstack.kafka import KafkaBroker, ensure_jars
from services.devstack.net import free_loopback_port
from services.devstack.postgres import PostgresCluster
from services.runtime.consumer import ConsumerSpec, EventConsumer
from services.runtime.db import UnitOfWork, make_engine, runtime_metadata
from services.runtime.deadletters import replay_dead_letters
from services.runtime.kafka import ensure_topics, make_producer
from services.runtime.logs import quiet_kafka_client
from tests.integration.harness import Harness, Pinged, apply_ping, test_metadata

pytestmark = pytest.mark.integration


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def outcome(harness: Harness, consumer: str, what: str) -> int:
    return int(sample("vbp_consumer_events_total", service="test", consumer=consumer,
                      topic=harness.topic, outcome=what))


async def publish_all(harness: Harness) -> None:
    relay = await harness.relay()
    while await relay.publish_batch():
        pass


async def until(condition: Callable[[], bool], timeout: float = 60) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if condition():
            return
        await asyncio.sleep(0.1)


@pytest.fixture
def own_postgres() -> Iterator[PostgresCluster]:
    """A PostgreSQL cluster of this test's own, to crash."""
    root = Path(tempfile.mkdtemp(prefix="vbp-pgcrash-"))
    os.chmod(root, 0o755)
    # durable commits (fsync and synchronous_commit on, unlike the session cluster): a crash
    # must not take back a commit the consumer was told of, as on a real server
    pg = PostgresCluster(root / "pg", fsync=True)
    pg.start()
    try:
        yield pg
    finally:
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


async def harness_on(url: str, bootstrap: str, topic: str) -> Harness:
    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(runtime_metadata.create_all)
        await conn.run_sync(test_metadata.create_all)
    await ensure_topics(bootstrap, [topic], partitions=4)
    h = Harness(engine, bootstrap, topic)
    await h.producer()
    return h


# --- item 1: a database restart is not the event's fault -------------------------------------


async def test_postgres_crash_mid_stream_applies_every_event_once_and_dead_letters_none(
        own_postgres: PostgresCluster, bootstrap: str, topic_name: str) -> None:
    harness = await harness_on(own_postgres.create_database("crash"), bootstrap, topic_name)
    try:
        total = 300
        await harness.record(total, keys=20)
        await publish_all(harness)

        async def slow_apply(uow: UnitOfWork, event: Pinged, ce: CloudEvent) -> None:
            await asyncio.sleep(0.01)
            await apply_ping(uow, event, ce)

        consumer = harness.consumer(slow_apply, batch_size=10)  # 4 retries, then dead letter
        await consumer.start()
        await harness.wait_applied(40, timeout=60)
        await asyncio.to_thread(own_postgres.crash)  # pg_ctl stop -m immediate, mid-stream
        await asyncio.sleep(8)
        await asyncio.to_thread(own_postgres.start)
        rows, distinct = await harness.wait_applied(total, timeout=120)
        assert (rows, distinct) == (total, total)
        assert outcome(harness, "pings", "dead_lettered") == 0
        assert sample("vbp_consumer_infrastructure_failures_total", service="test",
                      consumer="pings") > 0
        letters = await harness.read_topic(dead_letter_topic(harness.topic), expect=1,
                                           timeout=3)
        assert letters == []
    finally:
        await harness.close()
        await harness.engine.dispose()


# --- item 4: a replay goes to the group that failed the event only ---------------------------


async def test_replay_reaches_only_the_group_that_dead_lettered(harness: Harness) -> None:
    await harness.record(3, keys=3)
    await publish_all(harness)
    b_calls: list[int] = []

    async def b_handler(uow: UnitOfWork, event: Pinged, ce: CloudEvent) -> None:
        b_calls.append(event.n)
        if event.n == 1:
            raise ValueError("group b cannot apply n=1")

    def group(name: str, handler: object) -> EventConsumer:
        consumer = EventConsumer(
            ConsumerSpec(name=name, routes={harness.event: handler}),  # type: ignore[dict-item]
            service="test", engine=harness.engine, clock=harness.clock,
            bootstrap_servers=harness.bootstrap, dlt_producer=harness.producers[0],
            group_id=f"{harness.group}-{name}", backoff=0.05, max_retries=0)
        harness.consumers.append(consumer)
        return consumer

    a, b = group("a", apply_ping), group("b", b_handler)
    await a.start()
    await b.start()
    await harness.wait_applied(3)
    await until(lambda: outcome(harness, "b", "dead_lettered") == 1)
    b_tries = b_calls.count(1)
    assert await replay_dead_letters(harness.bootstrap, harness.topic) == 1
    await until(lambda: outcome(harness, "b", "dead_lettered") == 2)  # b failed it again
    await until(lambda: outcome(harness, "a", "ignored") == 1, timeout=10)
    assert outcome(harness, "a", "ignored") == 1  # a skipped b's replay...
    assert outcome(harness, "a", "duplicate") == 0  # ...without handling it as an event
    assert outcome(harness, "a", "processed") == 3
    assert b_calls.count(1) == b_tries + 1  # b got its own copy back, once
    letters = await harness.read_topic(dead_letter_topic(harness.topic), expect=3, timeout=5)
    assert len(letters) == 2  # b's first, and b's again: no copy for a
    assert {dict(r.headers)["dlt_consumer"] for r in letters} == {f"{harness.group}-b".encode()}
    assert await harness.applied() == (3, 3)


# --- item 9: lag of every assigned partition, and when the consumer last polled ---------------


async def test_lag_is_reported_for_every_assigned_partition_and_last_poll_time(
        harness: Harness) -> None:
    await harness.record(10, keys=1)  # one partition of four has records
    await publish_all(harness)
    gate = asyncio.Event()

    async def gated(uow: UnitOfWork, event: Pinged, ce: CloudEvent) -> None:
        await gate.wait()
        await apply_ping(uow, event, ce)

    consumer = harness.consumer(gated)
    before = time.time()
    await consumer.start()
    await until(lambda: consumer.connected, timeout=60)

    def lags() -> dict[int, float | None]:
        return {p: REGISTRY.get_sample_value("vbp_consumer_lag_messages", {
            "service": "test", "consumer": "pings", "topic": harness.topic,
            "partition": str(p)}) for p in range(4)}

    assert None not in lags().values(), lags()  # from assignment, before any record is applied
    await until(lambda: sample("vbp_consumer_last_poll_timestamp_seconds", service="test",
                               consumer="pings") >= before, timeout=10)
    assert sample("vbp_consumer_last_poll_timestamp_seconds", service="test",
                  consumer="pings") >= before
    gate.set()
    await harness.wait_applied(10)
    await until(lambda: set(lags().values()) == {0.0}, timeout=10)
    assert set(lags().values()) == {0.0}, lags()


# --- items 8 and 16: a broker away, and not there yet at start ---------------------------------


class Counting(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def own_broker() -> Iterator[KafkaBroker]:
    """A broker of this test's own (not started), to take away."""
    root = Path(tempfile.mkdtemp(prefix="vbp-brokerdown-"))
    broker = KafkaBroker(ensure_jars(), root / "kafka", heap="384m")
    try:
        yield broker
    finally:
        broker.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def counted_logs() -> Iterator[Counting]:
    """Warnings and errors as the services log them (``logs.configure``), counted."""
    handler = Counting()
    quiet_kafka_client(handler, persist=300)  # this machine may take a minute to start a broker
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


@pytest.fixture
async def broker_harness(own_broker: KafkaBroker, database_url: str, topic_name: str
                         ) -> AsyncIterator[Harness]:
    engine = make_engine(database_url)
    async with engine.begin() as conn:
        await conn.run_sync(runtime_metadata.create_all)
        await conn.run_sync(test_metadata.create_all)
    h = Harness(engine, own_broker.bootstrap_servers, topic_name)
    try:
        yield h
    finally:
        await h.close()
        await engine.dispose()


@pytest.mark.timeout(900)  # this broker starts twice, up to a minute or more each time
async def test_broker_not_there_at_start_then_away_logs_little_and_recovers(
        own_broker: KafkaBroker, broker_harness: Harness, counted_logs: Counting) -> None:
    harness = broker_harness
    await harness.record(5, keys=5)
    dlt = make_producer(harness.bootstrap, "test-dlt")  # started once there is a broker
    harness.producers.append(dlt)
    consumer = harness.consumer()
    await consumer.start()  # returns at once; the broker is not even started
    await asyncio.sleep(3)
    await asyncio.to_thread(own_broker.start, 300)
    await dlt.start()
    await ensure_topics(harness.bootstrap, [harness.topic], partitions=4)
    await publish_all(harness)
    assert await harness.wait_applied(5, timeout=90) == (5, 5)
    errors = [r.getMessage() for r in counted_logs.records if r.levelno >= logging.ERROR]
    assert errors == [], errors  # start-up conditions that did not last (item 16)

    counted_logs.records.clear()
    await asyncio.to_thread(own_broker.stop)
    await asyncio.sleep(15)
    during = list(counted_logs.records)
    assert len(during) < 50, (len(during), [r.getMessage() for r in during][:30])  # item 8
    await asyncio.to_thread(own_broker.start, 300)
    await harness.record(5, keys=5, start=5)
    await publish_all(harness)
    assert await harness.wait_applied(10, timeout=90) == (10, 10)
    assert consumer.crashed is None


# --- start-up (with item 17): start() returns at once, stop() works while connecting ----------


async def test_start_returns_at_once_and_stop_works_while_still_connecting(
        harness: Harness) -> None:
    nowhere = f"127.0.0.1:{free_loopback_port()}"  # no broker will ever listen there
    consumer = EventConsumer(
        ConsumerSpec(name="pings", routes={harness.event: apply_ping}), service="test",
        engine=harness.engine, clock=harness.clock, bootstrap_servers=nowhere,
        dlt_producer=harness.producers[0], group_id=harness.group, max_backoff=1.0)
    await asyncio.wait_for(consumer.start(), 2)
    await asyncio.sleep(4)  # several attempts, none given up on
    assert not consumer.connected
    assert consumer.crashed is None
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.wait_for(consumer.stop(), 10)
    assert loop.time() - started < 5
