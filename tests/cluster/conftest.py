"""Infrastructure of the cluster tests (issue #18, `make test-cluster`, not in `make test`):
a three-node KRaft Kafka cluster and a PostgreSQL primary with a synchronous standby, real
processes on 127.0.0.1 started by the project's devstack, and a single PostgreSQL for the tests
that fail Kafka over."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.devstack.kafka import KafkaCluster, ensure_jars
from services.devstack.postgres import PostgresCluster, PostgresPair

REPLICAS, MIN_INSYNC = 3, 2


@pytest.fixture(scope="session")
def root() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="vbp-cluster-"))
    os.chmod(path, 0o755)  # the postgres OS user must reach its data directories
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def kafka_cluster(root: Path) -> Iterator[KafkaCluster]:
    cluster = KafkaCluster(ensure_jars(), root / "kafka", size=3, replicas=REPLICAS,
                           min_insync=MIN_INSYNC)
    cluster.start(timeout=240)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def single_postgres(root: Path) -> Iterator[PostgresCluster]:
    pg = PostgresCluster(root / "pg")
    pg.start()
    try:
        yield pg
    finally:
        pg.stop()


@pytest.fixture
def pg_pair(root: Path) -> Iterator[PostgresPair]:
    """A fresh primary + synchronous standby per test (a failover test uses it up)."""
    pair = PostgresPair(root / f"pair-{uuid.uuid4().hex[:6]}")
    pair.start()
    try:
        yield pair
    finally:
        pair.stop()
