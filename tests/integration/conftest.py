"""Fixtures for runtime tests on the real PostgreSQL and Kafka."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from services.runtime.db import make_engine, runtime_metadata
from services.runtime.kafka import ensure_topics
from tests.integration.apps import running
from tests.integration.harness import Harness, test_metadata


@pytest.fixture
async def harness(database_url: str, bootstrap: str, topic_name: str) -> AsyncIterator[Harness]:
    engine = make_engine(database_url)
    async with engine.begin() as conn:
        await conn.run_sync(runtime_metadata.create_all)
        await conn.run_sync(test_metadata.create_all)
    await ensure_topics(bootstrap, [topic_name], partitions=4)
    h = Harness(engine, bootstrap, topic_name)
    await h.producer()
    try:
        yield h
    finally:
        await h.close()
        await engine.dispose()


@pytest.fixture
async def client(database_url: str, bootstrap: str) -> AsyncIterator[httpx.AsyncClient]:
    """The catalog app, in-process, on a fresh PostgreSQL database and the test broker."""
    from services.catalog.app import create_app

    async with running(create_app, "catalog", database_url, bootstrap) as c:
        yield c
