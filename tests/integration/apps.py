"""Running a service app in-process (its real lifespan: migrations, Kafka producer, relay,
consumers) against the test PostgreSQL and Kafka, driven through httpx."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI

from contracts.base import CloudEvent, Event
from services.runtime.auth import mint_token
from services.runtime.envelope import encode
from services.runtime.kafka import ensure_topics
from services.runtime.settings import Settings

SECRET = "integration-test-secret-0123456789abcdef"


def bearer(role: str, org: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(SECRET, role=role, org=org)}"}


@asynccontextmanager
async def running(
    create_app: Callable[[Settings], FastAPI], service: str, database_url: str, bootstrap: str,
    *, ready: bool = True, **settings_: object,
) -> AsyncIterator[httpx.AsyncClient]:
    """The app, started; with ``ready``, once its ``/readyz`` answers 200 (Kafka is connected
    in the background after start-up, as an orchestrator would wait for it)."""
    settings = Settings.for_service(
        service, database_url=database_url, kafka_bootstrap_servers=bootstrap,
        jwt_secret=SECRET, **{"relay_interval_s": 0.05, **settings_},
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{service}") as c:
            c.app = app  # type: ignore[attr-defined]
            if ready:
                await wait_ready(c)
            yield c


async def wait_ready(client: httpx.AsyncClient, timeout: float = 60.0) -> None:
    async def ready() -> None:
        r = await client.get("/readyz")
        assert r.status_code == 200, r.text

    await eventually(ready, timeout=timeout)


async def publish(bootstrap: str, *events: Event, source: str = "/vbp/test") -> None:
    """Put events on their topics as another service's relay would."""
    await ensure_topics(bootstrap, sorted({e.TOPIC for e in events}))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        for event in events:
            key, value, headers = encode(CloudEvent.of(event, source=source,
                                                       time=datetime.now(UTC)))
            await producer.send_and_wait(event.TOPIC, value=value, key=key, headers=headers)
    finally:
        await producer.stop()


async def eventually(check: Callable[[], object], timeout: float = 30.0) -> None:
    """Retry an async assertion until it passes (events take a moment to travel)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            result = check()
            if asyncio.iscoroutine(result):
                await result
            return
        except AssertionError:
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.2)
