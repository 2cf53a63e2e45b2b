"""Test infrastructure: a throwaway Kafka broker and PostgreSQL cluster for the whole session
(real ones, started by the project's own devstack), and a fresh database per test."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from services.devstack.kafka import KafkaBroker, ensure_jars
from services.devstack.postgres import PostgresCluster

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(scope="session")
def infra() -> Iterator[tuple[KafkaBroker, PostgresCluster]]:
    """Start the broker and PostgreSQL in parallel (each takes seconds)."""
    root = Path(tempfile.mkdtemp(prefix="vbp-test-"))
    os.chmod(root, 0o755)
    broker = KafkaBroker(ensure_jars(), root / "kafka")
    pg = PostgresCluster(root / "pg")
    with ThreadPoolExecutor(2) as pool:
        # Generous start limits: on a loaded 2-core machine a JVM start can take minutes.
        futures = [pool.submit(broker.start, 240), pool.submit(pg.start, 180)]
        errors = [f.exception() for f in futures]
    try:
        for error in errors:
            if error is not None:
                raise error
        yield broker, pg
    finally:
        broker.stop()
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def kafka(infra: tuple[KafkaBroker, PostgresCluster]) -> KafkaBroker:
    return infra[0]


@pytest.fixture(scope="session")
def postgres(infra: tuple[KafkaBroker, PostgresCluster]) -> PostgresCluster:
    return infra[1]


@pytest.fixture(scope="session")
def bootstrap(kafka: KafkaBroker) -> str:
    return kafka.bootstrap_servers


@pytest.fixture
def database_url(postgres: PostgresCluster) -> Iterator[str]:
    """A fresh PostgreSQL database for one test."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    yield postgres.create_database(name)
    postgres.drop_database(name)


@pytest.fixture
def topic_name() -> str:
    """A fresh topic name per test (so tests never see each other's events)."""
    return f"test.{uuid.uuid4().hex[:10]}.v1"
