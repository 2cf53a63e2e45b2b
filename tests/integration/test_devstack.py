"""The local infrastructure launchers start real processes: a Kafka broker and PostgreSQL.

Slow (a broker start + restart, one PostgreSQL start); nothing is left running afterwards.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from services.devstack.kafka import (
    DEFAULT_CACHE_DIR,
    KafkaBroker,
    ensure_jars,
    jars_ready,
    new_cluster_id,
)
from services.devstack.postgres import PostgresCluster

TOPIC = "devstack-check"


async def _produce(bootstrap: str, key: bytes, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(TOPIC, value, key=key)
    finally:
        await producer.stop()


async def _consume_all(bootstrap: str, expected: int, within: float = 30) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        TOPIC, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    values: list[bytes] = []
    try:
        deadline = time.monotonic() + within
        while len(values) < expected and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=1000)
            for records in batches.values():
                values.extend(r.value for r in records if r.value is not None)
    finally:
        await consumer.stop()
    return values


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[KafkaBroker]:
    jars = ensure_jars(DEFAULT_CACHE_DIR)
    instance = KafkaBroker(jars, tmp_path / "kafka")
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture
def pg_dir() -> Iterator[Path]:
    # Not tmp_path: pytest's base temp dir is 0700, so the postgres OS user could not enter it.
    path = Path(tempfile.mkdtemp(prefix="devstack-pg-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_jars_are_cached() -> None:
    jars = ensure_jars(DEFAULT_CACHE_DIR)
    assert jars_ready(jars)
    assert any(jars.glob("kafka_2.13-*.jar"))
    assert ensure_jars(DEFAULT_CACHE_DIR) == jars  # second call: no Maven run


def test_kafka_broker_keeps_data_across_restart(broker: KafkaBroker) -> None:
    broker.start()
    assert broker.is_running()
    assert broker.bootstrap_servers == f"127.0.0.1:{broker.port}"
    assert "Transitioning from RECOVERY to RUNNING" in broker.broker_log.read_text()
    asyncio.run(_produce(broker.bootstrap_servers, b"k1", b"before-restart"))
    assert asyncio.run(_consume_all(broker.bootstrap_servers, 1)) == [b"before-restart"]

    broker.stop()
    assert not broker.is_running()

    broker.start()  # same data dir, same ports; storage is not formatted again
    assert broker.is_running()
    assert broker.broker_log.read_text().count("=== devstack: starting broker") == 2
    asyncio.run(_produce(broker.bootstrap_servers, b"k1", b"after-restart"))
    assert asyncio.run(_consume_all(broker.bootstrap_servers, 2)) == [
        b"before-restart",
        b"after-restart",
    ]
    broker.stop()
    assert not broker.is_running()


def test_postgres_cluster(pg_dir: Path) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    cluster = PostgresCluster(pg_dir)
    try:
        cluster.start()
        assert cluster.is_running()
        url = cluster.create_database("devstack_check")
        assert url == f"postgresql+asyncpg://postgres@127.0.0.1:{cluster.port}/devstack_check"
        assert cluster.create_database("devstack_check") == url  # idempotent
        assert cluster.url("devstack_check") == url

        async def select_one() -> int:
            engine = create_async_engine(url)
            try:
                async with engine.connect() as conn:
                    return int((await conn.execute(text("SELECT 1"))).scalar_one())
            finally:
                await engine.dispose()

        assert asyncio.run(select_one()) == 1
        cluster.drop_database("devstack_check")
        cluster.drop_database("devstack_check")  # idempotent
        with pytest.raises(ValueError):
            cluster.create_database("bad name; DROP")
    finally:
        cluster.stop()
    assert not cluster.is_running()


def test_cluster_ids_starting_with_a_dash_are_passed_safely() -> None:
    """A random cluster id may start with '-', which the storage tool would read as a flag."""
    data = Path(tempfile.mkdtemp(prefix="vbp-kafka-dash-"))
    try:
        (data / "cluster.id").write_text("-" + new_cluster_id()[1:] + "\n")
        broker = KafkaBroker(ensure_jars(), data)
        broker.start()
        try:
            assert broker.is_running()
        finally:
            broker.stop()
    finally:
        shutil.rmtree(data, ignore_errors=True)
